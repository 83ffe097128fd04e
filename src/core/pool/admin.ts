// qdo pool add | list | status | scale | pause | resume | rm (spec/pools.md §Commands,
// spec/porcelain.md §qdo pool). Plain functions: a request in, a result out.
import type { Context } from '../../context.js';
import { ConflictError, UsageError } from '../../errors.js';
import {
  DEFAULT_IDLE_SEC,
  DEFAULT_LEASE_SEC,
  DEFAULT_MAX_REQUEUE,
  POOL_SCHEMA,
  applyPause,
  checkPoolName,
  isPaused,
  parseCapabilities,
  parseNodeRange,
  parseSeconds,
  parseSlots,
  type PoolControl,
  type PoolDefinition,
} from '../../model/pool.js';
import { couldRun, type Heartbeat, type PilotRecord, type WorkerInfo } from '../../model/pool-run.js';
import { pilotCapacity } from '../../model/pool-capacity.js';
import { workerLiveness } from '../../model/pool-scale.js';
import { parseResourceFlags } from '../../model/resource-units.js';
import { isTerminal } from '../../model/states.js';
import { withLock } from '../../store/locks.js';
import {
  changeControl,
  changePoolDef,
  createPool,
  hasExited,
  listPilotKeys,
  readControl,
  readHeartbeat,
  readPilot,
  readTicket,
  readWorker,
  removePool,
  snapshot,
} from '../../store/pool.js';
import { processIdentity } from '../../scheduler/pool-exec.js';
import { readdir } from 'node:fs/promises';
import { allAllocations, allocationsList, homeAllocation, selectAllocation } from '../world.js';
import { allPools, findPool, type PoolRef } from './find.js';
import { scalePool, type ScaleReport } from './scale.js';
import type { WorkerOptions } from './worker.js';

export interface PoolAddRequest {
  name: string;
  alloc?: string;
  scheduler?: string;
  nodes?: string;
  slots?: string;
  capability?: string;
  /** The pilot job's resources as typed: cpus, time, mem, gpus, partition, account, qos, constraint. */
  flags: Record<string, string | undefined>;
  idle?: string;
  lease?: string;
  maxRequeue?: string;
  consolidate?: boolean;
  workerCommand?: string[];
}

const PILOT_FLAGS = ['cpus', 'time', 'mem', 'mem-per-cpu', 'gpus', 'partition', 'queue', 'account', 'qos', 'constraint'];

/** Parses and checks a pool definition; writes nothing. */
export async function definePool(ctx: Context, req: PoolAddRequest): Promise<PoolDefinition> {
  checkPoolName(req.name);
  const scheduler = req.scheduler ?? null;
  if (scheduler !== null && scheduler.startsWith('pool:')) throw new UsageError(`--scheduler ${scheduler}: a pool's pilots go to a scheduler, not to another pool`, { code: 'bad-pool' });
  const given = PILOT_FLAGS.filter((f) => req.flags[f] !== undefined);
  if (scheduler === null) {
    const pilotOnly = [...(req.nodes !== undefined ? ['--nodes'] : []), ...given.map((f) => `--${f}`), ...(req.idle !== undefined ? ['--idle'] : []), ...(req.consolidate ? ['--consolidate'] : []), ...(req.workerCommand ? ['--worker-command'] : [])];
    if (pilotOnly.length) throw new UsageError(`${pilotOnly.join(', ')}: only for a pool with pilots (give --scheduler); workers of a pool without one are started by hand (qdo pool worker ${req.name})`, { code: 'bad-pool' });
  }
  const flags: Record<string, string | undefined> = {};
  for (const f of given) flags[f] = req.flags[f];
  const resources = parseResourceFlags(flags);
  if (resources.gpus === 0) delete resources.gpus;
  const capabilities = req.capability !== undefined ? parseCapabilities(req.capability, '--capability') : [];
  const slots = req.slots !== undefined ? parseSlots(req.slots) : (resources.cpus ?? 1);
  const { clusterName } = await import('../../scheduler/cluster.js');
  const def: PoolDefinition = {
    schema: POOL_SCHEMA,
    name: req.name,
    scheduler,
    cluster: scheduler === null ? null : await clusterName(scheduler, ctx.env, ctx.host),
    pilots: scheduler === null ? { min: 0, max: 0 } : parseNodeRange(req.nodes ?? '0..1'),
    slots,
    capabilities,
    resources,
    idle: req.idle !== undefined ? parseSeconds(req.idle, '--idle') : DEFAULT_IDLE_SEC,
    lease: req.lease !== undefined ? Math.max(10, parseSeconds(req.lease, '--lease')) : DEFAULT_LEASE_SEC,
    max_requeue: req.maxRequeue !== undefined ? parseRequeue(req.maxRequeue) : DEFAULT_MAX_REQUEUE,
    consolidate: req.consolidate === true,
    worker_command: req.workerCommand && req.workerCommand.length ? req.workerCommand : null,
    created: ctx.now().toISOString(),
  };
  if (scheduler !== null) {
    // Render a pilot now, so a resource the scheduler cannot express is refused here, not at the first scale.
    const { backendFor, chooseScheduler } = await import('../scheduler-choice.js');
    const { pilotScript } = await import('./scale.js');
    const l = await selectAllocation(ctx, req.alloc);
    const backend = await backendFor(ctx, await chooseScheduler(ctx, l, scheduler));
    backend.render({ jobName: `qdo-pool-${req.name}`, resources: { ...resources, nodes: 1 }, script: pilotScript(l.root, def, 'p-000000000-0000', ['qdo']), runDir: '/tmp', submitDir: l.root, env: {}, tag: 'p' });
  }
  return def;
}

function parseRequeue(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 100) throw new UsageError(`--max-requeue: expected an integer from 0 to 100, found ${JSON.stringify(text)}`, { code: 'bad-pool' });
  return n;
}

/** `qdo pool add`: pool names are unique across allocations (checked under the home allocations lock). */
export async function addPool(ctx: Context, req: PoolAddRequest): Promise<PoolRef> {
  const def = await definePool(ctx, req);
  const home = await homeAllocation(ctx);
  return withLock(allocationsList(home).file, async () => {
    const allocs = await allAllocations(ctx);
    const existing = (await allPools(ctx, allocs)).find((p) => p.def.name === def.name);
    if (existing) throw new ConflictError('pool-exists', `pool ${def.name} already exists in allocation ${existing.layout.root}`, { hint: 'pool names are unique across allocations' });
    const l = await selectAllocation(ctx, req.alloc, allocs);
    const paths = await createPool(l, def);
    return { layout: l, paths, def };
  });
}

// ---- status ----

export interface WorkerStatus {
  info: WorkerInfo;
  heartbeat: Heartbeat | null;
  dead: boolean;
  why: string;
  paused: boolean;
  claimed: number;
}

export interface PoolStatus {
  ref: PoolRef;
  control: PoolControl;
  queued: number;
  /** Queued runs no pilot of this pool could run (they wait for a worker started by hand). */
  unrunnable: number;
  held: number;
  running: number;
  ended: number;
  workers: WorkerStatus[];
  pilots: PilotRecord[];
  /** Runs ended per minute over the last five minutes, by the live workers. */
  throughput: number;
  /** What the refresh could not do (scheduler down, another cluster). */
  problems: string[];
}

export async function poolStatus(ctx: Context, name?: string, o: { refresh?: boolean; runner?: import('../../scheduler/runner.js').Runner } = {}): Promise<PoolStatus[]> {
  const refs = name !== undefined ? [await findPool(ctx, name)] : await allPools(ctx);
  const out: PoolStatus[] = [];
  for (const ref of refs) {
    // Like any status, this refreshes: pilot states, dead workers, scaling (rate-limited).
    const scaled = o.refresh ? await scalePool(ctx, ref, { runner: o.runner, self: ctx.command }) : null;
    const p = ref.paths;
    const s = await snapshot(p);
    const control = await readControl(p);
    const cap = pilotCapacity(ref.def);
    let unrunnable = 0;
    if (ref.def.scheduler !== null) {
      for (const f of s.queued.values()) {
        const t = await readTicket(f.path).catch(() => null);
        if (t && !couldRun(t, cap)) unrunnable++;
      }
    }
    const workers: WorkerStatus[] = [];
    const pilots: PilotRecord[] = [];
    for (const k of await listPilotKeys(p)) {
      const r = await readPilot(p, k).catch(() => null);
      if (r) pilots.push(r);
    }
    const pilotState = new Map(pilots.map((r) => [r.key, r.state]));
    for (const id of s.workers) {
      const info = await readWorker(p, id).catch(() => null);
      if (!info || info.kind !== 'worker') continue;
      const heartbeat = await readHeartbeat(p, id);
      const live = workerLiveness({ worker: info, heartbeat, nowMs: ctx.now().getTime(), lease: ref.def.lease, here: { host: ctx.host, identity: processIdentity }, pilotState: info.pilot ? pilotState.get(info.pilot.key) : undefined, exited: await hasExited(p, id) });
      workers.push({ info, heartbeat, dead: live.dead, why: live.why, paused: isPaused(control, info.host, info.id), claimed: [...s.claimed.values()].filter((c) => c.worker === id).length });
    }
    let ended = 0;
    try {
      ended = (await readdir(p.done)).filter((n) => n.endsWith('.json')).length;
    } catch {
      ended = 0;
    }
    const throughput = workers.filter((w) => !w.dead).reduce((n, w) => n + (w.heartbeat?.ended_5m ?? 0), 0) / 5;
    out.push({ ref, control, queued: s.queued.size, unrunnable, held: s.held.size, running: s.claimed.size, ended, workers, pilots: pilots.filter((r) => !isTerminal(r.state) && r.state !== 'not-submitted'), throughput, problems: scaled?.problems ?? [] });
  }
  return out;
}

// ---- scale, pause, resume, rm ----

export async function scaleCommand(ctx: Context, name: string, o: { nodes?: string; runner?: import('../../scheduler/runner.js').Runner } = {}): Promise<ScaleReport> {
  let ref = await findPool(ctx, name);
  if (o.nodes !== undefined) {
    if (ref.def.scheduler === null) throw new UsageError(`--nodes: pool ${name} has no scheduler, so no pilots`, { code: 'bad-pool' });
    const range = parseNodeRange(o.nodes);
    ref = { ...ref, def: await changePoolDef(ref.paths, (cur) => ({ ...cur, pilots: range })) };
  }
  return scalePool(ctx, ref, { force: true, runner: o.runner, self: ctx.command });
}

export async function pauseCommand(ctx: Context, name: string, pause: boolean, target: { host?: string; worker?: string }): Promise<{ ref: PoolRef; control: PoolControl }> {
  const ref = await findPool(ctx, name);
  for (const [k, v] of Object.entries(target)) {
    if (v !== undefined && (v === '' || /\s/.test(v))) throw new UsageError(`--${k}: expected a host name or worker id, found ${JSON.stringify(v)}`);
  }
  const control = await changeControl(ref.paths, (c) => applyPause(c, pause, target));
  return { ref, control };
}

export async function removeCommand(ctx: Context, name: string, o: { runner?: import('../../scheduler/runner.js').Runner } = {}): Promise<{ ref: PoolRef; cancelled: string[] }> {
  const ref = await findPool(ctx, name);
  const s = await snapshot(ref.paths);
  const busy = s.queued.size + s.held.size + s.claimed.size;
  if (busy > 0) {
    throw new ConflictError('pool-busy', `pool ${name} still has ${s.queued.size} queued, ${s.held.size} held and ${s.claimed.size} running run(s)`, { hint: `cancel them first (qdo cancel 'PROJECT/*'), or let them end` });
  }
  const cancelled: string[] = [];
  const live = (await Promise.all((await listPilotKeys(ref.paths)).map((k) => readPilot(ref.paths, k)))).filter((r): r is PilotRecord => r !== null && r.sched_id !== null && !isTerminal(r.state) && r.state !== 'not-submitted');
  if (live.length && ref.def.scheduler !== null) {
    const { backendFor, chooseScheduler } = await import('../scheduler-choice.js');
    const backend = await backendFor(ctx, await chooseScheduler(ctx, ref.layout, ref.def.scheduler, o.runner), { runner: o.runner });
    await backend.cancel(live.map((r) => r.sched_id!)).catch(() => undefined); // ended meanwhile: fine
    cancelled.push(...live.map((r) => r.sched_id!));
  }
  await removePool(ref.paths);
  return { ref, cancelled };
}

// ---- worker ----

export interface WorkerRequest {
  name: string;
  alloc?: string;
  slots?: string;
  capability?: string;
  mem?: string;
  gpus?: string;
  idle?: string;
  pilot?: string;
  timeLeft?: string;
}

/**
 * The options of `qdo pool worker`: what it offers (its flags, else what the pool's pilots
 * offer), when it exits (a pilot: the pool's idle time; by hand: --idle, else never).
 */
export async function workerOptions(ctx: Context, req: WorkerRequest): Promise<Omit<WorkerOptions, 'signal' | 'env' | 'log' | 'crash'>> {
  const pool = await findPool(ctx, req.name, undefined, req.alloc);
  const def = pool.def;
  const { parseMemory, parseCount } = await import('../../model/resource-units.js');
  const { gpusOf, isPilotKey } = await import('../../model/pool-run.js');
  if (req.pilot !== undefined && !isPilotKey(req.pilot)) throw new UsageError(`--pilot: expected a pilot key like p-m3x9k2a1q-a3f9, found ${JSON.stringify(req.pilot)}`, { code: 'bad-pool' });
  const pilot = req.pilot !== undefined;
  const capabilities = req.capability !== undefined ? parseCapabilities(req.capability, '--capability') : pilot ? def.capabilities : [];
  const gpusGiven = req.gpus !== undefined ? parseCount(req.gpus, '--gpus', 0) : pilot ? def.resources.gpus : undefined;
  const rec = pilot ? await readPilot(pool.paths, req.pilot!).catch(() => null) : null;
  return {
    pool,
    slots: req.slots !== undefined ? parseSlots(req.slots) : pilot ? def.slots : 1,
    capabilities,
    mem: req.mem !== undefined ? parseMemory(req.mem, '--mem') : pilot ? (def.resources.mem ?? null) : null,
    gpus: gpusOf(gpusGiven, capabilities),
    idleSec: req.idle !== undefined ? parseSeconds(req.idle, '--idle') : pilot ? def.idle : null,
    pilot: pilot ? { key: req.pilot!, schedId: ctx.env.QDO_JOB_ID || rec?.sched_id || null } : null,
    timeLeftSec: req.timeLeft !== undefined ? parseSeconds(req.timeLeft, '--time-left') : null,
  };
}
