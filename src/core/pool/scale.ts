// Keeping a pool's pilots (spec/pools.md §Scaling): runs on every refresh that sees runs of
// the pool (status, wait, watch, show, logs) and on `qdo pool scale`. One pass:
//  1. learns the pilots' states (one scheduler query, at most every few seconds) and finds
//     pilots whose submitter died before recording the scheduler's answer (by their tag);
//  2. queues again the runs of dead workers, settles queued runs none should start;
//  3. under the pool's scale lock, plans (model/pool-scale.ts) and records the new pilots'
//     intents; then, with no lock held, submits them, cancels waiting pilots not needed and
//     asks one pilot to drain (consolidate).
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { exists } from '../../util/fs.js';
import type { Context } from '../../context.js';
import { QdoError } from '../../errors.js';
import { PILOT_SCHEMA, couldRun, newPilotKey, type PilotRecord } from '../../model/pool-run.js';
import { pilotCapacity } from '../../model/pool-capacity.js';
import { planScale, type PilotView, type ScalePlan } from '../../model/pool-scale.js';
import { isTerminal } from '../../model/states.js';
import type { PoolDefinition } from '../../model/pool.js';
import { writeFileAtomic } from '../../store/atomic.js';
import { codeFault } from '../../store/trust.js';
import {
  changeControl,
  changePilot,
  createPilot,
  listPilotKeys,
  listQueued,
  listWorkerIds,
  readHeartbeat,
  readPilot,
  readScaleState,
  readWorker,
  withScaleLock,
  writeScaleState,
  type PoolPaths,
} from '../../store/pool.js';
import type { Runner } from '../../scheduler/runner.js';
import type { Backend, JobState } from '../../scheduler/types.js';
import { shellQuote } from '../../scheduler/wrapper.js';
import { DEFAULT_SUBMIT_GRACE, readEndRecord, stateFromEndRecord } from '../refresh.js';
import { backendFor, chooseScheduler } from '../scheduler-choice.js';
import type { PoolRef } from './find.js';
import { recoverWorkers, settleQueued, type RecoverReport } from './recover.js';
import { TicketCache } from './tickets.js';

/** A scale pass reads the queue at most this often per pool, unless forced. */
export const SCALE_FLOOR_MS = 2000;
/** The pilots' scheduler is asked at most this often per pool, unless forced. */
export const PILOT_QUERY_INTERVAL_MS = 10_000;

export interface ScaleOptions {
  /** Ask the scheduler and plan now, whatever the floors (qdo pool scale, --refresh). */
  force?: boolean;
  /** Plan now, whatever SCALE_FLOOR_MS (runs were just queued); the query interval holds. */
  now?: boolean;
  /** Files only: no scheduler call (recovery still runs). */
  offline?: boolean;
  runner?: Runner;
  /** How this qdo is started (node and its script), for the pilots' command line. */
  self?: string[];
}

export interface ScaleReport {
  pool: string;
  /** False when skipped (ran less than SCALE_FLOOR_MS ago). */
  ran: boolean;
  recovered: RecoverReport;
  settled: string[];
  queried: boolean;
  plan: ScalePlan | null;
  submitted: { key: string; sched_id: string }[];
  cancelled: string[];
  problems: string[];
}

function pilotsOf(rs: (PilotRecord | null)[]): PilotRecord[] {
  return rs.filter((r): r is PilotRecord => r !== null);
}

async function readPilots(p: PoolPaths): Promise<PilotRecord[]> {
  return pilotsOf(await Promise.all((await listPilotKeys(p)).map((k) => readPilot(p, k).catch(() => null))));
}

/** The command line of a pilot job: the qdo worker of this pool, told which pilot it is. */
export function pilotScript(root: string, def: PoolDefinition, key: string, self: string[]): string {
  const time = def.resources.time;
  const argv = [...self, 'pool', 'worker', def.name, '--alloc', root, '--pilot', key, ...(time !== undefined ? ['--time-left', `${time}s`] : [])];
  return `#!/bin/bash\n# A pilot of qdo pool ${def.name} (spec/pools.md §Pilots): its worker claims runs until idle.\nexec ${argv.map(shellQuote).join(' ')}\n`;
}

export async function scalePool(ctx: Context, ref: PoolRef, o: ScaleOptions = {}): Promise<ScaleReport> {
  const { paths: p, def } = ref;
  const nowMs = ctx.now().getTime();
  const report: ScaleReport = { pool: def.name, ran: false, recovered: { dead: [], requeued: [], settled: [] }, settled: [], queried: false, plan: null, submitted: [], cancelled: [], problems: [] };
  const state = await readScaleState(p);
  if (!o.force && !o.now && state.passed && nowMs - Date.parse(state.passed) < SCALE_FLOOR_MS) return report;
  report.ran = true;
  let queried = state.queried;

  let backend: Backend | null = null;
  const pilotStates = new Map<string, string>();
  let pilots = await readPilots(p);
  if (def.scheduler !== null && !o.offline) {
    const { clusterName } = await import('../../scheduler/cluster.js');
    const here = await clusterName(def.scheduler, ctx.env, ctx.host).catch(() => null);
    if (here !== def.cluster) report.problems.push(`its pilots run on ${def.scheduler} cluster ${def.cluster}; this machine is ${here ? `on ${here}` : 'not on it'}: not scaled from here`);
    else {
      try {
        const choice = await chooseScheduler(ctx, ref.layout, def.scheduler, o.runner);
        const byId = new Map(pilots.filter((r) => r.sched_id).map((r) => [r.sched_id!, r]));
        backend = await backendFor(ctx, choice, { runner: o.runner, readExitRecord: (id) => pilotExitRecord(p, byId.get(id)) });
        await recoverPilots(ctx, p, backend, pilots);
        // A pilot's own end record ends it without asking anyone (as refresh does for jobs).
        for (const r of pilots) {
          if (r.sched_id === null || isTerminal(r.state) || r.state === 'not-submitted') continue;
          const ended = await pilotExitRecord(p, r);
          if (ended) await changePilot(p, r.key, (cur) => (isTerminal(cur.state) ? null : { ...cur, state: ended.state, state_time: ctx.now().toISOString() }));
        }
        pilots = await readPilots(p);
        const live = pilots.filter((r) => r.sched_id !== null && !isTerminal(r.state) && r.state !== 'not-submitted');
        const due = o.force || !queried || nowMs - Date.parse(queried) >= PILOT_QUERY_INTERVAL_MS;
        if (live.length && due) {
          const states = await backend.query(live.map((r) => r.sched_id!));
          report.queried = true;
          queried = ctx.now().toISOString();
          for (const r of live) {
            const st = states.get(r.sched_id!);
            if (st && st.state !== 'unknown' && st.state !== r.state) {
              await changePilot(p, r.key, (cur) => (isTerminal(cur.state) ? null : { ...cur, state: st.state, state_time: queried!, reason: st.reason ?? cur.reason }));
            }
          }
        }
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        report.problems.push(e.message);
        backend = null;
      }
      pilots = await readPilots(p);
    }
  }
  for (const r of pilots) pilotStates.set(r.key, r.state);
  report.recovered = await recoverWorkers(ctx, p, def, { pilotStates });
  const cache = new TicketCache();
  report.settled = await settleQueued(ctx, p, def, cache);

  if (backend !== null && o.self === undefined && def.worker_command === null) {
    report.problems.push('cannot start pilots: the command that starts qdo is unknown here (set worker_command with qdo pool add --worker-command)');
  } else if (backend !== null) {
    const self = def.worker_command ?? o.self!;
    // A worker command from pool.json runs as you in every pilot: only from a file nobody else can change.
    const fault = def.worker_command !== null ? await codeFault(p.def, ctx.user) : null;
    if (fault) report.problems.push(`not starting pilots: pool.json names a worker command, but ${fault.path}: ${fault.why} (spec/pools.md §Trust)`);
    const failing = fault ? null : await failingPilot(p, await readPilots(p), ctx.now().getTime());
    if (failing) report.problems.push(failing);
    const intents = await withScaleLock(p, async () => {
      const plan = planScale({
        min: def.pilots.min,
        max: def.pilots.max,
        slots: def.slots,
        idle: def.idle,
        consolidate: def.consolidate,
        pilots: await pilotViews(p, await readPilots(p), def.lease, ctx.now().getTime()),
        demand: await demandOf(p, ref, cache),
        nowMs: ctx.now().getTime(),
      });
      report.plan = plan;
      const made: PilotRecord[] = [];
      // After a pilot that failed, no new one for a while: no sbatch storm from a broken setup.
      for (let i = 0; i < (failing || fault ? 0 : plan.add); i++) {
        const t = ctx.now().toISOString();
        const rec: PilotRecord = {
          schema: PILOT_SCHEMA,
          key: newPilotKey(ctx.now().getTime(), randomBytes(2).toString('hex')),
          pool: def.name,
          scheduler: def.scheduler!,
          cluster: def.cluster!,
          sched_id: null,
          state: 'submitting',
          state_time: t,
          intent: t,
          submitted: null,
          host: ctx.host,
          pid: ctx.self.pid,
          pid_start: ctx.self.start,
          reason: null,
        };
        await createPilot(p, rec);
        made.push(rec);
      }
      return made;
    });
    // No lock from here on: scheduler calls (spec/locking.md).
    for (const rec of intents) {
      try {
        const id = await submitPilot(ref, backend, rec, self);
        const t = ctx.now().toISOString();
        await changePilot(p, rec.key, (cur) => (cur.sched_id ? null : { ...cur, sched_id: id, submitted: t, state: 'pending', state_time: t }));
        report.submitted.push({ key: rec.key, sched_id: id });
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        const ambiguous = e.code === 'scheduler-submit-ambiguous';
        await changePilot(p, rec.key, (cur) => (ambiguous ? { ...cur, reason: `submit ambiguous: ${e.message}` } : { ...cur, state: 'not-submitted', state_time: ctx.now().toISOString(), reason: e.message }));
        report.problems.push(`pilot ${rec.key}: ${e.message}`);
      }
    }
    const plan = report.plan!;
    if (plan.cancel.length) {
      const ids = pilotsOf(await Promise.all(plan.cancel.map((k) => readPilot(p, k)))).filter((r) => r.sched_id && !isTerminal(r.state)).map((r) => r.sched_id!);
      try {
        if (ids.length) await backend.cancel(ids);
        for (const k of plan.cancel) await changePilot(p, k, (cur) => ({ ...cur, reason: `cancelled by qdo: not needed (${plan.why})` }));
        report.cancelled.push(...ids);
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        report.problems.push(`cancelling pilots ${ids.join(', ')}: ${e.message}`);
      }
    }
    const present = new Set(await listWorkerIds(p));
    await changeControl(p, (c) => ({ ...c, drain: [...new Set([...c.drain.filter((w) => present.has(w)), ...plan.drain])].sort() }));
  }
  await writeScaleState(p, { queried, passed: ctx.now().toISOString() });
  return report;
}

async function submitPilot(ref: PoolRef, backend: Backend, rec: PilotRecord, self: string[]): Promise<string> {
  const dir = ref.paths.pilotDir(rec.key);
  await mkdir(dir, { recursive: true });
  const script = backend.render({
    jobName: `qdo-pool-${ref.def.name}`,
    resources: { ...ref.def.resources, nodes: 1 },
    script: pilotScript(ref.layout.root, ref.def, rec.key, self),
    runDir: dir,
    submitDir: ref.paths.dir,
    env: {},
    tag: rec.key,
  });
  const path = `${dir}/job.${backend.kind}.sh`;
  await writeFileAtomic(path, script, { mode: 0o755 });
  return backend.submit(path, { cwd: ref.paths.dir });
}

/** A pilot whose submitter died before recording the scheduler's answer: found by its tag, or it never got there. */
async function recoverPilots(ctx: Context, p: PoolPaths, backend: Backend, pilots: PilotRecord[]): Promise<void> {
  for (const r of pilots) {
    const live = ctx.alive({ host: r.host, pid: r.pid, start: r.pid_start ?? null });
    const gone = live === 'dead' || (live === 'unknown' && ctx.now().getTime() - Date.parse(r.intent) > DEFAULT_SUBMIT_GRACE * 1000);
    if (r.state !== 'submitting' || !gone) continue;
    const found = backend.findByTag ? await backend.findByTag(r.key).catch(() => null) : null;
    const t = ctx.now().toISOString();
    await changePilot(p, r.key, (cur) =>
      cur.state !== 'submitting' ? null : found ? { ...cur, sched_id: found, submitted: t, state: 'pending', state_time: t, reason: 'found by its tag after an interrupted submit' } : { ...cur, state: 'not-submitted', state_time: t, reason: 'the scaling qdo stopped before the scheduler took it' },
    );
  }
}

async function pilotExitRecord(p: PoolPaths, r: PilotRecord | undefined): Promise<JobState | null> {
  if (!r) return null;
  const rec = await readEndRecord(p.pilotDir(r.key));
  const s = rec && stateFromEndRecord(rec);
  return s ? { id: r.sched_id!, state: s.state, raw: `exit ${s.exitCode}`, source: 'exit-record', exitCode: s.exitCode } : null;
}

/** Each pilot with its worker, if that worker is registered and alive. */
async function pilotViews(p: PoolPaths, pilots: PilotRecord[], lease: number, nowMs: number): Promise<PilotView[]> {
  const byPilot = new Map<string, PilotView['worker']>();
  for (const id of await listWorkerIds(p)) {
    const w = await readWorker(p, id).catch(() => null);
    if (!w?.pilot) continue;
    const hb = await readHeartbeat(p, id);
    if (!hb || nowMs - Date.parse(hb.time) > lease * 1000) continue;
    byPilot.set(w.pilot.key, { id, used: hb.used, mode: hb.mode, running: hb.running.length });
  }
  const out: PilotView[] = [];
  for (const r of pilots) {
    let state = r.state;
    if (!isTerminal(state) && state !== 'not-submitted') {
      // Its worker is up: running, whatever the last query said. Its job wrote an end record
      // (even a provisional one): it is ending and holds nothing, whatever the scheduler says yet.
      if (byPilot.has(r.key)) state = 'running';
      else if (await readEndRecord(p.pilotDir(r.key))) state = 'completed';
    }
    // Started (its start record is there) but no live worker: starting up, or ending; never cancelled as waiting.
    const started = byPilot.has(r.key) || (await exists(join(p.pilotDir(r.key), 'qdo-start.json')));
    out.push({ key: r.key, state, intentMs: Date.parse(r.intent), worker: byPilot.get(r.key) ?? null, started });
  }
  return out;
}

/** Slot units of each queued run a pilot could run (a run none could run adds no pilot). */
async function demandOf(p: PoolPaths, ref: PoolRef, cache: TicketCache): Promise<number[]> {
  const cap = pilotCapacity(ref.def);
  const out: number[] = [];
  for (const f of await listQueued(p)) {
    const t = await cache.get(f).catch(() => null);
    if (t && couldRun(t, cap)) out.push(t.slots);
  }
  return out;
}

/** How long a pilot that failed (refused, or its job failed) keeps new pilots from being submitted. */
export const PILOT_BACKOFF_MS = 120_000;

/**
 * Why no pilot should be added now, or null: a pilot refused by the scheduler, or whose job
 * ended with a failure (its worker could not start: a wrong worker command, a missing qdo on
 * the node), less than PILOT_BACKOFF_MS ago. Its log is named so the user can look.
 */
async function failingPilot(p: PoolPaths, pilots: PilotRecord[], nowMs: number): Promise<string | null> {
  for (const r of pilots) {
    if (nowMs - Date.parse(r.state_time) > PILOT_BACKOFF_MS) continue;
    if (r.state === 'not-submitted') return `pilot ${r.key} was refused at ${r.state_time} (${r.reason ?? 'no reason given'}); no new pilot for ${PILOT_BACKOFF_MS / 1000} s`;
    const rec = await readEndRecord(p.pilotDir(r.key));
    if (rec && rec.exit_code !== null && rec.exit_code !== 0 && rec.signal === null) {
      return `pilot job ${r.sched_id ?? r.key} failed with exit ${rec.exit_code} (see ${p.pilotDir(r.key)}/stderr); no new pilot for ${PILOT_BACKOFF_MS / 1000} s`;
    }
  }
  return null;
}
