// A pool seen as a scheduler (spec/pools.md §Submitting): core submits, queries, cancels,
// holds and releases runs of `pool:<name>` exactly as it does Slurm jobs, so every run is an
// ordinary job version and status, show, logs, wait, cancel, retry, diff and gc work
// unchanged. Submit queues a ticket carrying the rendered, wrapped script; query reads
// where each ticket is (queue, held, a worker, done); cancel marks the run and settles a
// queued one at once, a running one through its worker. No process, no lock for a run.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Context } from '../../context.js';
import { SchedulerError, UsageError, errnoCode } from '../../errors.js';
import { parseCapabilities, poolKind, type PoolDefinition } from '../../model/pool.js';
import { UNUSED_IN_POOL, couldRunInPool } from '../../model/pool-capacity.js';
import { DIRECTIVE, TICKET_SCHEMA, isRunKey, newRunKey, parsePoolDirectives, renderPoolDirectives, type RunEnd, type Ticket } from '../../model/pool-run.js';
import type { NormalState } from '../../model/states.js';
import {
  enqueueTicket,
  holdTicket,
  markCancel,
  readControl,
  readNote,
  readRunEnd,
  readTicket,
  readWorker,
  releaseTicket,
  snapshot,
  type PoolPaths,
  type PoolSnapshot,
} from '../../store/pool.js';
import { poolJobVars } from '../../scheduler/pool-exec.js';
import type { Backend, JobState, RenderSpec, SubmitOptions } from '../../scheduler/types.js';
import { renderWrapper } from '../../scheduler/wrapper.js';
import { finishRun, withAgent } from './tickets.js';
import { isPaused, type PoolControl } from '../../model/pool.js';
import type { WorkerInfo } from '../../model/pool-run.js';

const END_TO_STATE: Record<RunEnd['state'], NormalState> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TIMEOUT: 'timeout',
  LOST: 'node-fail',
};

export class PoolBackend implements Backend {
  readonly kind: string;
  /** A run waits in the pool's queue, not in a scheduler's (spec/pools.md §States). */
  readonly waitingState = 'queued' as const;

  constructor(
    private readonly ctx: Context,
    readonly paths: PoolPaths,
    readonly def: PoolDefinition,
  ) {
    this.kind = poolKind(def.name);
  }

  /** `#!/bin/bash`, the `#QDO_POOL` lines, then the common wrapper (spec/pools.md §Rendered script). */
  render(spec: RenderSpec): string {
    const r = spec.resources;
    const field = (f: string) => `${this.kind}: ${f}`;
    if (spec.elements !== undefined) throw new UsageError(`${this.kind} runs one job per ticket; it cannot pack jobs into an array`, { code: 'packing-unsupported' });
    if (r.array !== undefined) throw new UsageError(`${field('--array')}: a pool runs single jobs; submit the elements as a sweep (--grid) instead`, { code: 'pool-unsupported' });
    if ((r.nodes ?? 1) > 1) throw new UsageError(`${field('--nodes')}: a run in a pool uses one worker on one node, found ${r.nodes}`, { code: 'pool-unsupported' });
    const cpus = r.cpus ?? 1;
    const slots = cpus * (r.tasks ?? 1);
    const needs = r.constraint !== undefined ? parseCapabilities(r.constraint, field('--constraint')) : [];
    const mem = r.mem ?? (r.mem_per_cpu !== undefined ? r.mem_per_cpu * cpus : null);
    const wanted = { slots, needs, mem, gpus: r.gpus ?? 0, time: r.time ?? null };
    const why = couldRunInPool(wanted, this.def);
    if (why) throw new UsageError(`${this.kind} cannot run this job: ${why}`, { code: 'pool-cannot-run', hint: `qdo pool status ${this.def.name} shows what its pilots offer` });
    const deps = (spec.dependencies ?? []).flatMap((d) => {
      if (d.type !== 'afterok') throw new UsageError(`${this.kind}: only afterok dependencies are supported, found ${d.type}`, { code: 'pool-unsupported' });
      return d.ids;
    });
    for (const id of deps) if (!isRunKey(id)) throw new UsageError(`${this.kind}: a run can only wait on runs of the same pool, found ${JSON.stringify(id)}`, { code: 'bad-dependency' });
    const ignored = UNUSED_IN_POOL.filter((k) => r[k] !== undefined).map((k) => `${k}=${typeof r[k] === 'string' ? r[k] : JSON.stringify(r[k])}`);
    return [
      '#!/bin/bash',
      `# qdo pool ${this.def.name} (spec/pools.md): a worker of the pool that has what this run needs claims and runs it.`,
      ...renderPoolDirectives({ name: spec.jobName, ...wanted, after: deps, tag: spec.tag ?? null }),
      ...(ignored.length ? [`# Not used in a pool (spec/pools.md §Resources): ${ignored.join(', ')}`] : []),
      '',
      renderWrapper(spec, poolJobVars(cpus)),
    ].join('\n');
  }

  private async checkPool(): Promise<void> {
    try {
      await readFile(this.paths.def);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw new SchedulerError('unknown-pool', `pool ${this.def.name} is gone (${this.paths.dir})`);
      throw e;
    }
  }

  /** Queues the run (or holds it); returns its key, the run's id in the pool. */
  async submit(scriptPath: string, opts: SubmitOptions): Promise<string> {
    let script: string;
    try {
      script = await readFile(scriptPath, 'utf8');
    } catch (e) {
      throw new SchedulerError('pool-submit-failed', `cannot read job script ${scriptPath}: ${errnoCode(e) ?? String(e)}`);
    }
    if (!script.split('\n', 4).some((l) => l.startsWith(DIRECTIVE))) throw new SchedulerError('pool-submit-failed', `${scriptPath} was not rendered for a pool (no ${DIRECTIVE} lines)`);
    const d = parsePoolDirectives(script, scriptPath);
    await this.checkPool();
    const ticket: Ticket = {
      schema: TICKET_SCHEMA,
      key: newRunKey(this.ctx.now().getTime(), randomBytes(3).toString('hex')),
      tag: d.tag,
      name: d.name,
      script: scriptPath,
      cwd: opts.cwd,
      slots: d.slots,
      needs: d.needs,
      mem: d.mem,
      gpus: d.gpus,
      time: d.time,
      after: d.after,
      submitted: this.ctx.now().toISOString(),
    };
    for (const dep of d.after) {
      const s = await this.locate(dep, await snapshot(this.paths));
      if (s === null) throw new SchedulerError('pool-unknown-dependency', `run ${dep} is not in pool ${this.def.name}`);
    }
    await enqueueTicket(this.paths, ticket, { hold: opts.hold });
    return ticket.key;
  }

  /** Where a run is now: its state, raw word and reason. */
  private async locate(key: string, s: PoolSnapshot, cache?: { control?: PoolControl; workers: Map<string, WorkerInfo | null> }): Promise<JobState | null> {
    const q = s.queued.get(key);
    if (q) {
      const note = q.attempt > 1 ? await readNote(this.paths, key) : null;
      return { id: key, state: 'queued', raw: 'QUEUED', source: 'queue', ...(q.attempt > 1 ? { reason: `queued again (attempt ${q.attempt})${note ? `: ${note}` : ''}` } : {}) };
    }
    if (s.held.has(key)) return { id: key, state: 'held', raw: 'HELD', source: 'queue' };
    const c = s.claimed.get(key);
    if (c) {
      const workers = cache?.workers ?? new Map<string, WorkerInfo | null>();
      if (!workers.has(c.worker)) workers.set(c.worker, await readWorker(this.paths, c.worker).catch(() => null));
      const w = workers.get(c.worker) ?? null;
      if (w?.kind === 'agent') return { id: key, state: 'queued', raw: 'SETTLING', source: 'queue' };
      const control = cache ? (cache.control ??= await readControl(this.paths)) : await readControl(this.paths);
      const paused = w !== null && isPaused(control, w.host, w.id);
      const where = w ? `worker ${w.id} on ${w.host}${w.pilot?.sched_id ? ` (pilot job ${w.pilot.sched_id})` : ''}` : `worker ${c.worker}`;
      return { id: key, state: paused ? 'suspended' : 'running', raw: paused ? 'PAUSED' : 'RUNNING', source: 'queue', reason: `${paused ? 'paused' : 'running'} on ${where}${c.attempt > 1 ? `, attempt ${c.attempt}` : ''}` };
    }
    const end = await readRunEnd(this.paths, key);
    if (end) {
      const st: JobState = { id: key, state: END_TO_STATE[end.state], raw: end.state, source: 'exit-record', exitCode: end.state === 'COMPLETED' ? 0 : end.exit_code };
      if (end.reason) st.reason = end.reason;
      return st;
    }
    return null;
  }

  async query(ids: string[]): Promise<Map<string, JobState>> {
    const out = new Map<string, JobState>();
    let s = await snapshot(this.paths);
    const cache = { workers: new Map<string, WorkerInfo | null>() };
    for (const id of ids) {
      // A ticket moving backwards (released, queued again) between two listings: look twice.
      let st = isRunKey(id) ? await this.locate(id, s, cache) : null;
      if (st === null && isRunKey(id)) {
        s = await snapshot(this.paths);
        st = await this.locate(id, s, cache);
      }
      out.set(id, st ?? { id, state: 'unknown', raw: '', source: 'none' });
    }
    return out;
  }

  private async known(ids: string[]): Promise<PoolSnapshot> {
    const s = await snapshot(this.paths);
    const missing: string[] = [];
    for (const id of ids) if (!isRunKey(id) || (await this.locate(id, s)) === null) missing.push(id);
    if (missing.length) throw new SchedulerError('scheduler-unknown-job', `no such run in pool ${this.def.name}: ${missing.join(', ')}`, { data: { ids: missing } });
    return s;
  }

  /**
   * Marks each run cancelled (spec/pools.md §Cancel), then settles those still waiting: taken
   * by this process as an agent and ended CANCELLED at once. A running one is stopped by its
   * worker, which polls the marks (TERM to the run's process group, KILL after the grace).
   */
  async cancel(ids: string[]): Promise<void> {
    const s = await this.known(ids);
    const time = this.ctx.now().toISOString();
    for (const id of ids) if (!(await readRunEnd(this.paths, id))) await markCancel(this.paths, id, `cancelled by ${this.ctx.host}:${this.ctx.self.pid} at ${time}`);
    const waiting = ids.map((id) => s.queued.get(id) ?? s.held.get(id)).filter((t) => t !== undefined);
    if (waiting.length === 0) return;
    await withAgent(this.ctx, this.paths, async (take) => {
      for (const t of waiting) {
        const mine = await take(t);
        if (!mine) continue; // claimed meanwhile: its worker sees the mark
        await finishRun(this.ctx, this.paths, mine, await readTicket(mine.path), { state: 'CANCELLED', exit_code: null, reason: 'cancelled while queued', worker: null, host: null, pilot: null, started: null });
      }
    });
  }

  /** Queued runs move to held/ (a running one is not affected: control.ts skips it). */
  async hold(ids: string[]): Promise<void> {
    const s = await this.known(ids);
    for (const id of ids) {
      const t = s.queued.get(id);
      if (t) await holdTicket(this.paths, t);
    }
  }

  async release(ids: string[]): Promise<void> {
    const s = await this.known(ids);
    for (const id of ids) {
      const t = s.held.get(id);
      if (t) await releaseTicket(this.paths, t);
    }
  }

  /** The run queued with this tag (a manifest id), for recovery after an interrupted submit. */
  async findByTag(tag: string): Promise<string | null> {
    const s = await snapshot(this.paths);
    const files = [...s.queued.values(), ...s.held.values(), ...s.claimed.values()];
    for (const f of files) {
      const t = await readTicket(f.path).catch(() => null);
      if (t?.tag === tag) return t.key;
    }
    return null;
  }
}
