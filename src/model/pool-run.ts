// A pool's runs, workers and pilots as data (spec/pools.md §Files): the ticket a submit
// queues, the `#QDO_POOL` lines of a rendered run script, the final record of a run, a
// worker's identity and heartbeat, a pilot's record; and the pure rules that match runs
// to workers. No I/O, no clock.
import { RepositoryError, UsageError } from '../errors.js';
import { canonicalBytes } from './canonical-json.js';
import { show } from './resources.js';

/**
 * One pool record from its text: JSON whose `schema` is `schema` and that `valid` accepts,
 * else a RepositoryError `code` naming the file (`what`: how the error calls it).
 */
function parseRecord<T>(text: string, source: string, code: string, schema: string, what: string, valid: (o: Record<string, unknown>) => boolean): T {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new RepositoryError(code, `${source}: not valid JSON (${(e as Error).message})`);
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o.schema !== schema || !valid(o)) {
    throw new RepositoryError(code, `${source}: not a ${schema} ${what}: ${show(v).slice(0, 200)}`);
  }
  return o as unknown as T;
}

export const TICKET_SCHEMA = 'qdo.pool-ticket/v1';
export const DONE_SCHEMA = 'qdo.pool-run/v1';
export const WORKER_SCHEMA = 'qdo.pool-worker/v1';
export const PILOT_SCHEMA = 'qdo.pool-pilot/v1';

/** What a queued run needs and where its script is. Immutable under one file name. */
export interface Ticket {
  schema: typeof TICKET_SCHEMA;
  /** The run's id in its pool (its scheduler id): `<9 base36 ms>-<6 hex>`. */
  key: string;
  /** The manifest id (the tag, for findByTag). */
  tag: string | null;
  name: string;
  /** Absolute: the rendered script (in the run folder). */
  script: string;
  /** Absolute: where the script starts (the submit folder). */
  cwd: string;
  /** Slot units it occupies (cpus x tasks). */
  slots: number;
  /** Capability words a worker must have. */
  needs: string[];
  /** MiB it needs, when it says (counted against workers that declare memory). */
  mem: number | null;
  gpus: number;
  /** Its time limit in seconds (also its declared duration), or null. */
  time: number | null;
  /** Keys of runs of the same pool that must have completed first. */
  after: string[];
  submitted: string;
}

/** A ticket file's name: the key on the first attempt, `<key>~<n>` from the second on. */
export function ticketName(key: string, attempt: number): string {
  return attempt <= 1 ? key : `${key}~${attempt}`;
}

export function parseTicketName(name: string): { key: string; attempt: number } | null {
  const m = /^([0-9a-z]{9}-[0-9a-f]{6})(?:~(\d+))?$/.exec(name);
  if (!m) return null;
  if (m[2] === undefined) return { key: m[1]!, attempt: 1 };
  const attempt = Number(m[2]);
  return Number.isSafeInteger(attempt) && attempt >= 2 ? { key: m[1]!, attempt } : null;
}

export function isRunKey(s: string): boolean {
  return /^[0-9a-z]{9}-[0-9a-f]{6}$/.test(s);
}

/** A new key: sortable by time (first come, first served), unique by its random part. */
export function newRunKey(nowMs: number, random6hex: string): string {
  return `${nowMs.toString(36).padStart(9, '0')}-${random6hex}`;
}

export function encodeTicket(t: Ticket): Buffer {
  return canonicalBytes(t);
}

export function parseTicket(text: string, source: string): Ticket {
  return parseRecord<Ticket>(text, source, 'bad-pool-ticket', TICKET_SCHEMA, 'ticket', (o) =>
    typeof o.key === 'string' &&
    isRunKey(o.key) &&
    (o.tag === null || typeof o.tag === 'string') &&
    typeof o.name === 'string' &&
    typeof o.script === 'string' &&
    o.script.startsWith('/') &&
    typeof o.cwd === 'string' &&
    Number.isSafeInteger(o.slots) &&
    (o.slots as number) >= 1 &&
    Array.isArray(o.needs) &&
    o.needs.every((w) => typeof w === 'string') &&
    (o.mem === null || Number.isSafeInteger(o.mem)) &&
    Number.isSafeInteger(o.gpus) &&
    (o.time === null || Number.isSafeInteger(o.time)) &&
    Array.isArray(o.after) &&
    o.after.every((k) => typeof k === 'string' && isRunKey(k)) &&
    typeof o.submitted === 'string',
  );
}

// ---- #QDO_POOL lines (spec/pools.md §Rendered script) ----

export interface PoolDirectives {
  name: string;
  slots: number;
  needs: string[];
  mem: number | null;
  gpus: number;
  time: number | null;
  after: string[];
  tag: string | null;
}

export const DIRECTIVE = '#QDO_POOL';

export function renderPoolDirectives(d: PoolDirectives): string[] {
  const out = [`${DIRECTIVE} name=${d.name}`, `${DIRECTIVE} slots=${d.slots}`];
  if (d.needs.length) out.push(`${DIRECTIVE} needs=${d.needs.join(',')}`);
  if (d.mem !== null) out.push(`${DIRECTIVE} mem=${d.mem}`);
  if (d.gpus > 0) out.push(`${DIRECTIVE} gpus=${d.gpus}`);
  if (d.time !== null) out.push(`${DIRECTIVE} time=${d.time}`);
  if (d.after.length) out.push(`${DIRECTIVE} after=${d.after.join(',')}`);
  if (d.tag !== null) out.push(`${DIRECTIVE} tag=${d.tag}`);
  return out;
}

/** The `#QDO_POOL key=value` lines at the top of a script (up to the first non-comment line). */
export function parsePoolDirectives(script: string, source: string): PoolDirectives {
  const d: PoolDirectives = { name: 'run', slots: 1, needs: [], mem: null, gpus: 0, time: null, after: [], tag: null };
  const lines = script.split('\n');
  for (const [i, line] of lines.entries()) {
    if (i === 0 && line.startsWith('#!')) continue;
    if (!line.startsWith('#')) break;
    if (!line.startsWith(`${DIRECTIVE} `)) continue;
    const m = /^#QDO_POOL ([a-z]+)=(.*)$/.exec(line);
    const bad = (what: string) => new UsageError(`${source}:${i + 1}: ${what}, found ${JSON.stringify(line)}`, { code: 'bad-pool-directive' });
    if (!m) throw bad('expected "#QDO_POOL key=value"');
    const [, k, v] = m as unknown as [string, string, string];
    const int = (min: number) => {
      if (!/^\d+$/.test(v) || Number(v) < min) throw bad(`${k}: expected an integer >= ${min}`);
      return Number(v);
    };
    switch (k) {
      case 'name':
        d.name = v;
        break;
      case 'slots':
        d.slots = int(1);
        break;
      case 'needs':
        d.needs = v === '' ? [] : v.split(',');
        break;
      case 'mem':
        d.mem = int(1);
        break;
      case 'gpus':
        d.gpus = int(0);
        break;
      case 'time':
        d.time = int(1);
        break;
      case 'after':
        d.after = v === '' ? [] : v.split(',');
        if (!d.after.every(isRunKey)) throw bad('after: expected run keys of this pool');
        break;
      case 'tag':
        d.tag = v;
        break;
      default:
        throw bad(`unknown key "${k}" (known: name, slots, needs, mem, gpus, time, after, tag)`);
    }
  }
  return d;
}

// ---- done/<key>.json: how a run ended (spec/pools.md §States) ----

export const RUN_END_STATES = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'LOST'] as const;
export type RunEndState = (typeof RUN_END_STATES)[number];

export interface RunEnd {
  schema: typeof DONE_SCHEMA;
  key: string;
  tag: string | null;
  state: RunEndState;
  /** The wrapper's exit status; null if it never ran or was killed. */
  exit_code: number | null;
  reason: string | null;
  /** Which worker ran it last (null: ended before any worker took it). */
  worker: string | null;
  host: string | null;
  /** The pilot job's scheduler id, when the worker was a pilot. */
  pilot: string | null;
  attempt: number;
  started: string | null;
  ended: string;
}

export function encodeRunEnd(r: RunEnd): Buffer {
  return canonicalBytes(r);
}

export function parseRunEnd(text: string, source: string): RunEnd {
  return parseRecord<RunEnd>(text, source, 'bad-pool-run', DONE_SCHEMA, 'record', (o) => typeof o.key === 'string' && (RUN_END_STATES as readonly unknown[]).includes(o.state));
}

// ---- workers ----

export interface WorkerInfo {
  schema: typeof WORKER_SCHEMA;
  id: string;
  /** `worker` runs runs; `agent` is a qdo command that takes a ticket for a moment (cancel, recovery). */
  kind: 'worker' | 'agent';
  pool: string;
  host: string;
  pid: number;
  /** The process's identity beyond its pid (boot id and start time), null where unknown. */
  identity: string | null;
  started: string;
  slots: number;
  capabilities: string[];
  mem: number | null;
  gpus: number | null;
  /** The pilot job it runs in, if any. */
  pilot: { key: string; sched_id: string | null } | null;
  /** When its pilot job's time ends (it stops claiming runs it cannot finish), or null. */
  ends_at: string | null;
}

export function encodeWorker(w: WorkerInfo): Buffer {
  return canonicalBytes(w);
}

export function parseWorker(text: string, source: string): WorkerInfo {
  return parseRecord<WorkerInfo>(text, source, 'bad-pool-worker', WORKER_SCHEMA, 'record', (o) => typeof o.id === 'string' && typeof o.host === 'string' && typeof o.pid === 'number');
}

export type WorkerMode = 'claiming' | 'paused' | 'draining' | 'expiring' | 'stopping';

/** Rewritten by a worker every few seconds: it is alive, and what it is doing. */
export interface Heartbeat {
  time: string;
  seq: number;
  mode: WorkerMode;
  used: number;
  running: string[];
  /** Runs it ended since it started, and in the last five minutes. */
  ended: number;
  ended_5m: number;
  /** Since when it has had no run (null while busy). */
  idle_since: string | null;
}

export function parseHeartbeat(text: string | undefined): Heartbeat | null {
  if (text === undefined) return null;
  try {
    const o = JSON.parse(text) as Heartbeat;
    return typeof o.time === 'string' && typeof o.seq === 'number' ? o : null;
  } catch {
    return null; // being replaced: the previous one counts as missing this once
  }
}

/** What a worker can offer at most, and what it has free now. */
export interface Capacity {
  slots: number;
  capabilities: string[];
  /** MiB; null: not counted. */
  mem: number | null;
  /** GPUs; null: has GPUs (capability gpu) but does not count them; 0: none. */
  gpus: number | null;
}

/** A worker's GPUs: as given; else uncounted when it offers `gpu`; else none. */
export function gpusOf(given: number | null | undefined, capabilities: string[]): number | null {
  if (given !== null && given !== undefined) return given;
  return capabilities.includes('gpu') ? null : 0;
}

export interface Usage {
  slots: number;
  mem: number;
  gpus: number;
}

/** Whether the run could ever run on this worker (its capabilities and size). */
export function couldRun(t: Pick<Ticket, 'slots' | 'needs' | 'mem' | 'gpus'>, c: Capacity): boolean {
  if (t.slots > c.slots) return false;
  if (!t.needs.every((w) => c.capabilities.includes(w))) return false;
  if (t.gpus > 0 && (c.gpus === 0 || (c.gpus !== null && t.gpus > c.gpus))) return false;
  if (t.mem !== null && c.mem !== null && t.mem > c.mem) return false;
  return true;
}

/** Whether it fits in what is free now. */
export function fitsNow(t: Pick<Ticket, 'slots' | 'mem' | 'gpus'>, c: Capacity, used: Usage): boolean {
  if (t.slots > c.slots - used.slots) return false;
  if (t.gpus > 0 && c.gpus !== null && t.gpus > c.gpus - used.gpus) return false;
  if (t.mem !== null && c.mem !== null && t.mem > c.mem - used.mem) return false;
  return true;
}

/** Seconds a run without a declared duration still needs to be worth starting on a pilot. */
export const UNDECLARED_RESERVE_SEC = 60;

/** Whether a pilot with `leftSec` seconds still has the time this run declares. */
export function hasTimeFor(t: Pick<Ticket, 'time'>, leftSec: number | null): boolean {
  if (leftSec === null) return true;
  return leftSec >= (t.time ?? UNDECLARED_RESERVE_SEC);
}

// ---- pilots ----

export interface PilotRecord {
  schema: typeof PILOT_SCHEMA;
  key: string;
  pool: string;
  scheduler: string;
  cluster: string;
  sched_id: string | null;
  /** `submitting` until the scheduler answered; then a scheduler state (states.ts); terminal when it ended. */
  state: string;
  state_time: string;
  intent: string;
  submitted: string | null;
  host: string;
  pid: number;
  /** The submitter's start (util/proc.ts ProcessIdentity.start), so a reused pid is not taken for it. */
  pid_start?: string | null;
  reason: string | null;
}

export function encodePilot(p: PilotRecord): Buffer {
  return canonicalBytes(p);
}

export function parsePilot(text: string, source: string): PilotRecord {
  return parseRecord<PilotRecord>(text, source, 'bad-pool-pilot', PILOT_SCHEMA, 'record', (o) => typeof o.key === 'string' && typeof o.state === 'string');
}

export function isPilotKey(s: string): boolean {
  return /^p-[0-9a-z]{9}-[0-9a-f]{4}$/.test(s);
}

export function newPilotKey(nowMs: number, random4hex: string): string {
  return `p-${nowMs.toString(36).padStart(9, '0')}-${random4hex}`;
}

/** A worker or agent id: host, pid and a random part (the folder name under workers/). */
export function newWorkerId(host: string, pid: number, random4hex: string): string {
  const h = host.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'host';
  return `${h}.${pid}.${random4hex}`;
}
