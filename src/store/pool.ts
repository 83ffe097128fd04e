// A pool's files in `.qdo/pools/<name>/` (spec/pools.md §Files, §Claim protocol). Every byte
// of the pool folder is written here. The protocol is built for NFS: a ticket moves between
// folders only by rename(2) to a name no other process uses, which the server does
// atomically; no O_EXCL create, no flock. A rename whose reply was lost and whose retransmit
// failed with ENOENT is recognised by its unique destination existing. Mutable files
// (pool.json, control.json, pilot records) change under their lock against what is on disk
// now (locking.md), like submission records.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { namesIn } from '../util/fs.js';
import { dirname, join } from 'node:path';
import { ConflictError, NotFoundError, errnoCode } from '../errors.js';
import { POOL_SCHEMA, encodeControl, encodePool, parseControl, parsePool, type PoolControl, type PoolDefinition } from '../model/pool.js';
import {
  encodePilot,
  encodeRunEnd,
  encodeTicket,
  encodeWorker,
  isPilotKey,
  parseHeartbeat,
  parsePilot,
  parseRunEnd,
  parseTicket,
  parseTicketName,
  parseWorker,
  type Heartbeat,
  type PilotRecord,
  type RunEnd,
  type Ticket,
  type WorkerInfo,
} from '../model/pool-run.js';
import { fsyncDir, tempPathFor, writeFileAtomic } from './atomic.js';
import type { Layout } from './layout.js';
import { withLock } from './locks.js';

export const POOLS_DIR = 'pools';

export function poolsDir(l: Layout): string {
  return join(l.dir, POOLS_DIR);
}

/** Every path of one pool (spec/pools.md §Files). */
export class PoolPaths {
  constructor(
    readonly dir: string,
    readonly name: string,
  ) {}
  get def(): string {
    return join(this.dir, 'pool.json');
  }
  get control(): string {
    return join(this.dir, 'control.json');
  }
  get queue(): string {
    return join(this.dir, 'queue');
  }
  get held(): string {
    return join(this.dir, 'held');
  }
  get workers(): string {
    return join(this.dir, 'workers');
  }
  get done(): string {
    return join(this.dir, 'done');
  }
  get cancel(): string {
    return join(this.dir, 'cancel');
  }
  get pilots(): string {
    return join(this.dir, 'pilots');
  }
  get notes(): string {
    return join(this.dir, 'notes');
  }
  /** Derived: when the pilots' scheduler was last asked (may be deleted). */
  get scaleState(): string {
    return join(this.dir, 'scale.json');
  }
  /** Held while a scale pass decides and records new pilots (never across a scheduler call). */
  get scaleLockTarget(): string {
    return join(this.dir, 'scale');
  }
  worker(id: string): string {
    return join(this.workers, id);
  }
  workerRuns(id: string): string {
    return join(this.workers, id, 'runs');
  }
  runEnd(key: string): string {
    return join(this.done, `${key}.json`);
  }
  cancelMark(key: string): string {
    return join(this.cancel, key);
  }
  pilot(key: string): string {
    return join(this.pilots, `${key}.json`);
  }
  /** The pilot job's run folder: its script, the wrapper's records, the worker's log. */
  pilotDir(key: string): string {
    return join(this.pilots, key);
  }
}

export function poolPaths(l: Layout, name: string): PoolPaths {
  return new PoolPaths(join(poolsDir(l), name), name);
}

const SUBDIRS = ['queue', 'held', 'workers', 'done', 'cancel', 'pilots', 'notes'];

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT' || c === 'ENOTDIR') return undefined;
    throw e;
  }
}

async function list(dir: string): Promise<string[]> {
  return (await namesIn(dir)).filter((n) => !n.startsWith('.')).sort();
}

// ---- the pool itself ----

/** Names of the pools of an allocation. */
export async function listPoolNames(l: Layout): Promise<string[]> {
  return (await list(poolsDir(l))).filter((n) => !n.includes('.tmp-'));
}

/**
 * Creates the pool folder whole or not at all: built under a temp name, then renamed into
 * place; a rename onto an existing pool fails (its folder is not empty).
 */
export async function createPool(l: Layout, def: PoolDefinition): Promise<PoolPaths> {
  const p = poolPaths(l, def.name);
  await mkdir(poolsDir(l), { recursive: true });
  const tmp = join(poolsDir(l), `.${def.name}.tmp-${randomBytes(4).toString('hex')}`);
  for (const d of SUBDIRS) await mkdir(join(tmp, d), { recursive: true });
  await writeFileAtomic(join(tmp, 'pool.json'), encodePool(def));
  try {
    await rename(tmp, p.dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (errnoCode(e) === 'EEXIST' || errnoCode(e) === 'ENOTEMPTY') {
      throw new ConflictError('pool-exists', `pool ${def.name} already exists in ${l.root}`, { hint: `change it with qdo pool scale ${def.name} --nodes MIN..MAX, or remove it with qdo pool rm ${def.name}` });
    }
    throw e;
  }
  await fsyncDir(poolsDir(l));
  return p;
}

export async function readPoolDef(p: PoolPaths): Promise<PoolDefinition | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(p.def);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw e;
  }
  return parsePool(bytes, p.def);
}

/** Read-modify-write of pool.json under its lock, from what is on disk now. */
export async function changePoolDef(p: PoolPaths, change: (cur: PoolDefinition) => PoolDefinition | null): Promise<PoolDefinition> {
  return withLock(p.def, async () => {
    const cur = await readPoolDef(p);
    if (!cur) throw new NotFoundError('unknown-pool', `pool ${p.name} is gone (${p.def})`);
    const next = change(cur);
    if (next === null) return cur;
    if (next.schema !== POOL_SCHEMA || next.name !== cur.name) throw new Error('changePoolDef: a pool keeps its schema and name');
    await writeFileAtomic(p.def, encodePool(next));
    return next;
  });
}

/** Removes a pool folder: renamed away first (one atomic step), then deleted. */
export async function removePool(p: PoolPaths): Promise<void> {
  const away = join(dirname(p.dir), `.${p.name}.tmp-${randomBytes(4).toString('hex')}`);
  await rename(p.dir, away);
  await rm(away, { recursive: true, force: true });
}

export async function readControl(p: PoolPaths): Promise<PoolControl> {
  return parseControl(await readText(p.control), p.control);
}

export async function changeControl(p: PoolPaths, change: (cur: PoolControl) => PoolControl): Promise<PoolControl> {
  return withLock(p.control, async () => {
    const cur = await readControl(p);
    const next = change(cur);
    if (!encodeControl(next).equals(encodeControl(cur))) await writeFileAtomic(p.control, encodeControl(next));
    return next;
  });
}

// ---- tickets: queue, held, claims (spec/pools.md §Claim protocol) ----

/** The file-system calls the claim protocol makes; tests replace them to act like NFS. */
export interface PoolFs {
  rename(from: string, to: string): Promise<void>;
}

export const realPoolFs: PoolFs = { rename };

/**
 * Moves a ticket by one rename to a destination no other process uses. True if this call
 * moved it. ENOENT means the source was gone — taken by another process, or moved by this
 * very rename whose reply NFS lost and whose retransmit then failed: the destination says
 * which, because no one else writes that name.
 */
export async function moveTicket(from: string, to: string, fs: PoolFs = realPoolFs): Promise<boolean> {
  try {
    await fs.rename(from, to);
    return true;
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
    try {
      await stat(to);
      return true;
    } catch (e2) {
      if (errnoCode(e2) === 'ENOENT' || errnoCode(e2) === 'ENOTDIR') return false;
      throw e2;
    }
  }
}

/**
 * Queues a ticket (or holds it): written to a temp file, then linked to its name. link(2)
 * never replaces, so a key in use is refused, not overwritten; a link whose reply NFS lost
 * (EEXIST on the retransmit) is recognised by the temp file's link count being 2.
 */
export async function enqueueTicket(p: PoolPaths, t: Ticket, o: { hold?: boolean } = {}): Promise<void> {
  const dir = o.hold ? p.held : p.queue;
  const path = join(dir, t.key);
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(encodeTicket(t));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST' || (await stat(tmp)).nlink !== 2) {
      await unlink(tmp).catch(() => undefined);
      if (errnoCode(e) === 'EEXIST') throw new ConflictError('run-key-taken', `${path} exists already`, { hint: 'submit again: a new key is drawn' });
      throw e;
    }
  }
  await unlink(tmp);
  await fsyncDir(dir);
}

export interface TicketFile {
  /** The file name: `<key>` or `<key>~<attempt>`. */
  name: string;
  key: string;
  attempt: number;
  path: string;
}

async function ticketFiles(dir: string): Promise<TicketFile[]> {
  const out: TicketFile[] = [];
  for (const name of await list(dir)) {
    const t = parseTicketName(name);
    if (t) out.push({ name, ...t, path: join(dir, name) });
  }
  return out;
}

/** Queued tickets, oldest first (names sort by submission time). */
export function listQueued(p: PoolPaths): Promise<TicketFile[]> {
  return ticketFiles(p.queue);
}

export function listHeld(p: PoolPaths): Promise<TicketFile[]> {
  return ticketFiles(p.held);
}

/** Tickets a worker holds. */
export function listClaimed(p: PoolPaths, worker: string): Promise<TicketFile[]> {
  return ticketFiles(p.workerRuns(worker));
}

/** A ticket's content; null if the file is gone (claimed or moved meanwhile). */
export async function readTicket(path: string): Promise<Ticket | null> {
  const text = await readText(path);
  return text === undefined ? null : parseTicket(text, path);
}

/** Claims a queued ticket for a worker (the one step that decides who runs a run). */
export function claimTicket(p: PoolPaths, t: TicketFile, worker: string, fs?: PoolFs): Promise<boolean> {
  return moveTicket(t.path, join(p.workerRuns(worker), t.name), fs);
}

/** Gives a ticket back to the queue as its next attempt (its worker died or stopped). */
export function requeueTicket(p: PoolPaths, t: TicketFile, fs?: PoolFs): Promise<boolean> {
  return moveTicket(t.path, join(p.queue, `${t.key}~${t.attempt + 1}`), fs);
}

export function holdTicket(p: PoolPaths, t: TicketFile, fs?: PoolFs): Promise<boolean> {
  return moveTicket(t.path, join(p.held, t.name), fs);
}

export function releaseTicket(p: PoolPaths, t: TicketFile, fs?: PoolFs): Promise<boolean> {
  return moveTicket(t.path, join(p.queue, t.name), fs);
}

/** Drops a ticket its holder has finished with (its end is recorded in done/). */
export async function dropTicket(t: TicketFile): Promise<void> {
  await unlink(t.path).catch((e) => {
    if (errnoCode(e) !== 'ENOENT') throw e;
  });
}

/** Where every ticket is, from one listing of each folder (query, status). */
export interface PoolSnapshot {
  queued: Map<string, TicketFile>;
  held: Map<string, TicketFile>;
  claimed: Map<string, TicketFile & { worker: string }>;
  workers: string[];
}

export async function snapshot(p: PoolPaths): Promise<PoolSnapshot> {
  // Forward order of a ticket's life (queue → worker → done): a ticket moving forward
  // while we read is seen in a later folder, never missed (spec/pools.md §States).
  const byKey = (ts: TicketFile[]) => new Map(ts.map((t) => [t.key, t]));
  const queued = byKey(await listQueued(p));
  const held = byKey(await listHeld(p));
  const workers = await list(p.workers);
  const claimed = new Map<string, TicketFile & { worker: string }>();
  for (const w of workers) for (const t of await listClaimed(p, w)) claimed.set(t.key, { ...t, worker: w });
  return { queued, held, claimed, workers };
}

// ---- workers ----

export async function listWorkerIds(p: PoolPaths): Promise<string[]> {
  return list(p.workers);
}

/** Makes a worker's (or agent's) folder with its identity and a first heartbeat. */
export async function registerWorker(p: PoolPaths, w: WorkerInfo, hb: Heartbeat): Promise<void> {
  await mkdir(p.workerRuns(w.id), { recursive: true });
  await writeFileAtomic(join(p.worker(w.id), 'worker.json'), encodeWorker(w));
  await writeHeartbeat(p, w.id, hb);
}

export async function readWorker(p: PoolPaths, id: string): Promise<WorkerInfo | null> {
  const path = join(p.worker(id), 'worker.json');
  const text = await readText(path);
  return text === undefined ? null : parseWorker(text, path);
}

export async function writeHeartbeat(p: PoolPaths, id: string, hb: Heartbeat): Promise<void> {
  await writeFileAtomic(join(p.worker(id), 'heartbeat'), JSON.stringify(hb) + '\n');
}

export async function readHeartbeat(p: PoolPaths, id: string): Promise<Heartbeat | null> {
  return parseHeartbeat(await readText(join(p.worker(id), 'heartbeat')));
}

/** Written by a worker that stops: it holds nothing any more. */
export async function markExited(p: PoolPaths, id: string, time: string): Promise<void> {
  await writeFileAtomic(join(p.worker(id), 'exited'), time + '\n');
}

export async function hasExited(p: PoolPaths, id: string): Promise<boolean> {
  return (await readText(join(p.worker(id), 'exited'))) !== undefined;
}

/** Removes a worker folder that holds no ticket (renamed away first, then deleted). */
export async function removeWorker(p: PoolPaths, id: string): Promise<boolean> {
  if ((await listClaimed(p, id)).length > 0) return false;
  const away = join(p.workers, `.${id}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    await rename(p.worker(id), away);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return true;
    throw e;
  }
  // A ticket moved in after the check (only a retransmitted rename could): put it back.
  for (const t of await ticketFiles(join(away, 'runs'))) await moveTicket(t.path, join(p.queue, t.name));
  await rm(away, { recursive: true, force: true });
  return true;
}

// ---- ends, cancel marks, notes ----

export async function writeRunEnd(p: PoolPaths, r: RunEnd): Promise<void> {
  await writeFileAtomic(p.runEnd(r.key), encodeRunEnd(r));
}

export async function readRunEnd(p: PoolPaths, key: string): Promise<RunEnd | null> {
  const text = await readText(p.runEnd(key));
  return text === undefined ? null : parseRunEnd(text, p.runEnd(key));
}

export async function markCancel(p: PoolPaths, key: string, text: string): Promise<void> {
  await writeFileAtomic(p.cancelMark(key), text + '\n');
}

export async function hasCancel(p: PoolPaths, key: string): Promise<boolean> {
  return (await readText(p.cancelMark(key))) !== undefined;
}

export async function listCancels(p: PoolPaths): Promise<string[]> {
  return list(p.cancel);
}

export async function clearCancel(p: PoolPaths, key: string): Promise<void> {
  await unlink(p.cancelMark(key)).catch(() => undefined);
}

/** Why a ticket was queued again (information only: shown as the run's reason). */
export async function writeNote(p: PoolPaths, key: string, text: string): Promise<void> {
  await writeFileAtomic(join(p.notes, key), text + '\n');
}

export async function readNote(p: PoolPaths, key: string): Promise<string | null> {
  return (await readText(join(p.notes, key)))?.trim() ?? null;
}

// ---- pilots ----

export async function listPilotKeys(p: PoolPaths): Promise<string[]> {
  return (await list(p.pilots)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter(isPilotKey);
}

export async function readPilot(p: PoolPaths, key: string): Promise<PilotRecord | null> {
  const text = await readText(p.pilot(key));
  return text === undefined ? null : parsePilot(text, p.pilot(key));
}

/** Records a pilot's intent: the file appears whole (temp + link), once. */
export async function createPilot(p: PoolPaths, r: PilotRecord): Promise<void> {
  const path = p.pilot(r.key);
  const tmp = tempPathFor(path);
  await writeFileAtomic(tmp, encodePilot(r));
  try {
    await link(tmp, path);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST' || (await stat(tmp)).nlink !== 2) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }
  await unlink(tmp);
}

/** Read-modify-write of a pilot record under its lock (null from `change`: leave it). */
export async function changePilot(p: PoolPaths, key: string, change: (cur: PilotRecord) => PilotRecord | null): Promise<PilotRecord | null> {
  return withLock(p.pilot(key), async () => {
    const cur = await readPilot(p, key);
    if (!cur) return null;
    const next = change(cur);
    if (next === null || encodePilot(next).equals(encodePilot(cur))) return cur;
    await writeFileAtomic(p.pilot(key), encodePilot(next));
    return next;
  });
}

/** Held while a scale pass reads the pilots and records new intents (spec/pools.md §Scaling). */
export function withScaleLock<T>(p: PoolPaths, fn: () => Promise<T>): Promise<T> {
  return withLock(p.scaleLockTarget, fn);
}

export interface ScaleState {
  /** When the pilots' scheduler was last asked (ISO time). */
  queried: string | null;
  /** When the last scale pass ran. */
  passed: string | null;
}

export async function readScaleState(p: PoolPaths): Promise<ScaleState> {
  try {
    const v = JSON.parse((await readText(p.scaleState)) ?? '{}') as Partial<ScaleState>;
    return { queried: typeof v.queried === 'string' ? v.queried : null, passed: typeof v.passed === 'string' ? v.passed : null };
  } catch {
    return { queried: null, passed: null }; // derived data: absent or damaged means "never"
  }
}

export async function writeScaleState(p: PoolPaths, s: ScaleState): Promise<void> {
  await writeFileAtomic(p.scaleState, JSON.stringify(s) + '\n');
}
