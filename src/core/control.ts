// `qdo cancel|hold|release REV…|PATTERN` (spec/porcelain.md §qdo cancel|hold|release):
// one scheduler call per scheduler and cluster for all the selected jobs that can be acted
// on; the others are skipped (nothing to do: already ended, already running) or refused
// (never submitted, still being submitted, on another cluster). Terminal jobs are never sent
// to a scheduler, and no lock is held across the call.
import type { Context } from '../context.js';
import { ExitCode, QdoError } from '../errors.js';
import { isTerminal } from '../model/states.js';
import type { Submission } from '../model/submission.js';
import { clusterName } from '../scheduler/cluster.js';
import type { Runner } from '../scheduler/runner.js';
import type { Backend, JobState } from '../scheduler/types.js';
import type { Layout } from '../store/layout.js';
import { changeSubmissions } from '../store/submissions.js';
import { fullName, selectJobs, type JobVersion } from './jobs.js';
import { refreshJobs } from './refresh.js';
import { backendFor, chooseScheduler } from './scheduler-choice.js';
import { homeAllocation } from './world.js';

export const CONTROL_ACTIONS = ['cancel', 'hold', 'release'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

/**
 * What happened to one job:
 *  - done: the scheduler took the request;
 *  - skipped: nothing to do (already ended; hold or release of a running job) — not an error;
 *  - refused: qdo cannot act on it from here (exit 4);
 *  - failed: the scheduler call for its group failed (exit 6, or the error's own code).
 */
export type ControlOutcome = 'done' | 'skipped' | 'refused' | 'failed';

export interface ControlJob {
  job: JobVersion;
  outcome: ControlOutcome;
  /** Stable kebab-case reason for skipped, refused and failed jobs; null when done. */
  code: string | null;
  /** One line for humans: what happened or why not. */
  message: string;
}

export interface ControlResult {
  action: ControlAction;
  jobs: ControlJob[];
  /** 0 if every job was done or skipped; else the most serious failure (spec/exit-codes.md). */
  exitCode: number;
}

const PAST: Record<ControlAction, string> = { cancel: 'cancel requested', hold: 'held', release: 'released' };

/** Why a job is not sent to the scheduler, or null if it should be. */
function triage(action: ControlAction, j: JobVersion): Omit<ControlJob, 'job'> | null {
  const s = j.sub;
  const name = `${fullName(j)}@${j.version}`;
  if (!s) {
    return { outcome: 'refused', code: 'never-submitted', message: `${name} was never submitted through qdo (made with plumbing): there is no scheduler job to ${action}` };
  }
  if (s.state === 'not-submitted') return { outcome: 'skipped', code: 'not-submitted', message: `${name} never reached the scheduler: nothing to ${action}` };
  if (isTerminal(s.state)) return { outcome: 'skipped', code: 'already-ended', message: `${name} already ${s.state}: nothing to ${action}` };
  if (s.state === 'submitting' || s.sched_id === null) {
    return { outcome: 'refused', code: 'still-submitting', message: `${name} is still being submitted (no scheduler id yet): it cannot be ${action === 'cancel' ? 'cancelled' : PAST[action]} until the scheduler has it; try again in a moment (qdo status shows when it is pending)` };
  }
  if (action !== 'cancel' && (s.state === 'running' || s.state === 'suspended')) {
    // Slurm would accept a hold on a running job and keep it for a requeue; qdo's hold means
    // "do not start", so a started job has nothing to hold or release.
    return { outcome: 'skipped', code: 'already-running', message: `${name} is already ${s.state}: ${action} only concerns jobs that have not started` };
  }
  return null;
}

export interface ControlOptions {
  runner?: Runner;
}

/** Acts on jobs already selected (the CLI selects with selectJobs). */
export async function controlJobs(ctx: Context, action: ControlAction, jobs: JobVersion[], o: ControlOptions = {}): Promise<ControlResult> {
  // The jobs' own records are free to read: a job that has ended (end record) or started
  // (start record) since the last refresh is skipped instead of being sent to the
  // scheduler. Never a scheduler query here before the call (one call per group).
  await refreshJobs(ctx, jobs, { offline: true, runner: o.runner });
  const results = new Map<JobVersion, ControlJob>();
  const groups = new Map<string, { scheduler: string; cluster: string; jobs: JobVersion[] }>();
  const here = new Map<string, string>();
  for (const j of jobs) {
    const t = triage(action, j);
    if (t) {
      results.set(j, { job: j, ...t });
      continue;
    }
    const s = j.sub!;
    if (!here.has(s.scheduler)) here.set(s.scheduler, await clusterName(s.scheduler, ctx.env, ctx.host));
    if (here.get(s.scheduler) !== s.cluster) {
      results.set(j, {
        job: j,
        outcome: 'refused',
        code: 'other-cluster',
        message: `${fullName(j)}@${j.version} is ${s.scheduler} job ${s.sched_id} on cluster ${s.cluster}, but this machine is on ${here.get(s.scheduler)}: run qdo ${action} there`,
      });
      continue;
    }
    const key = `${s.scheduler}@${s.cluster}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { scheduler: s.scheduler, cluster: s.cluster, jobs: [] }));
    g.jobs.push(j);
  }

  let exitCode: number = ExitCode.ok;
  if ([...results.values()].some((r) => r.outcome === 'refused')) exitCode = ExitCode.conflict;
  if (groups.size > 0) {
    const home = await homeAllocation(ctx);
    for (const g of groups.values()) {
      const ids = g.jobs.map((j) => j.sub!.sched_id!);
      let started = new Map<string, JobState>();
      let waiting = 'pending';
      try {
        const backend = await backendFor(ctx, await chooseScheduler(ctx, home, g.scheduler, o.runner), { runner: o.runner });
        await backend[action](ids);
        waiting = backend.waitingState ?? waiting;
        // A job may have started between the last look and the hold: Slurm accepts the hold
        // and keeps the job running, held only for a future requeue. Ask once (one query for
        // the group) and report it as it is instead of recording "held".
        if (action === 'hold') started = await startedAnyway(backend, ids);
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        for (const j of g.jobs) results.set(j, { job: j, outcome: 'failed', code: e.code, message: `${fullName(j)}@${j.version}: ${g.scheduler} ${action} failed: ${e.message}` });
        exitCode = Math.max(exitCode, e.exitCode);
        continue;
      }
      const time = ctx.now().toISOString();
      // The records, changed in one batch per allocation (changeSubmissions: each shard
      // folder's lock taken once, the fsyncs shared): one by one, a cancel of a 10^4-point
      // sweep took minutes. Each on the record as it is now: a job seen to end meanwhile
      // keeps its end.
      const byLayout = new Map<Layout, JobVersion[]>();
      for (const j of g.jobs) {
        const js = byLayout.get(j.layout);
        if (js) js.push(j);
        else byLayout.set(j.layout, [j]);
      }
      for (const [l, js] of byLayout) {
        const runOf = new Map(js.map((j) => [j.id, started.get(j.sub!.sched_id!)]));
        const after = await changeSubmissions(
          l,
          js.map((j) => j.id),
          (id, cur) => {
            if (!cur || isTerminal(cur.state)) return null;
            const run = runOf.get(id);
            if (run) return { ...cur, state: run.state, state_source: run.source, state_time: time, reason: `already ${run.state} when held: ${g.scheduler} keeps it ${run.state} and holds it only for a future requeue` };
            return recorded(action, cur, time, waiting);
          },
        );
        js.forEach((j, k) => {
          j.sub = after[k] ?? j.sub;
          const run = runOf.get(j.id);
          if (run) results.set(j, { job: j, outcome: 'skipped', code: 'already-running', message: `${fullName(j)}@${j.version} had already started: ${g.scheduler} keeps it ${run.state} (the hold applies only if it is requeued); cancel it to stop it` });
          else results.set(j, { job: j, outcome: 'done', code: null, message: `${fullName(j)}@${j.version}: ${PAST[action]} (${g.scheduler} job ${j.sub?.sched_id})` });
        });
      }
    }
  }
  return { action, jobs: jobs.map((j) => results.get(j)!), exitCode };
}

/**
 * What the record says after a successful call. Hold and release have a certain outcome (as
 * submit records `pending`/`held`), so qdo records it with state_source "qdo". A cancel does
 * not: the job may have ended by itself just before, and a running job takes a moment to
 * stop. Its state is left to the next refresh; the reason says a cancel is on its way.
 */
function recorded(action: ControlAction, s: Submission, time: string, waiting: string): Submission {
  switch (action) {
    case 'hold':
      return { ...s, state: 'held', state_source: 'qdo', state_time: time, reason: 'held with qdo hold' };
    case 'release':
      return { ...s, state: waiting as Submission['state'], state_source: 'qdo', state_time: time, reason: 'released with qdo release' };
    case 'cancel':
      return { ...s, reason: `cancel requested with qdo cancel at ${time}` };
  }
}

/** The held ids the scheduler says are running or suspended anyway; a failing query tells nothing. */
async function startedAnyway(backend: Backend, ids: string[]): Promise<Map<string, JobState>> {
  const out = new Map<string, JobState>();
  try {
    for (const [id, st] of await backend.query(ids)) if (st.state === 'running' || st.state === 'suspended') out.set(id, st);
  } catch (e) {
    if (!(e instanceof QdoError)) throw e;
  }
  return out;
}

export async function control(ctx: Context, action: ControlAction, args: string[], o: ControlOptions = {}): Promise<ControlResult> {
  const sel = await selectJobs(ctx, args, `qdo ${action}`);
  return controlJobs(ctx, action, sel.jobs, o);
}
