// Learning job states (spec/submissions.md §Refresh). In order of cost:
//  1. a terminal state already recorded is final: nothing is read;
//  2. a job's own end record in its run folder ends it without asking anyone;
//  3. the remaining live jobs of one scheduler and cluster are asked in ONE query, at most
//     once per status interval (default 30 s) across all qdo processes of the user; between
//     queries the recorded states are shown with their age.
// Jobs on another cluster are never queried from here. A submission whose submitter died
// before recording the scheduler's answer is looked up by its tag (idempotent submit).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context, ProcessIdentity } from '../context.js';
import { QdoError } from '../errors.js';
import { isTerminal } from '../model/states.js';
import type { Submission } from '../model/submission.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Layout } from '../store/layout.js';
import { readManifest } from '../store/manifests.js';
import { casSubmission } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import type { PolicyReport } from './policies.js';
import type { Backend, JobState } from '../scheduler/types.js';
import { runDirOfJob, type JobVersion } from './jobs.js';
import { backendFor, chooseScheduler } from './scheduler-choice.js';
import { homeAllocation } from './world.js';

export const DEFAULT_STATUS_INTERVAL = 30;
/**
 * Default `submit_grace` (config.md), in seconds: how long after qdo last tried a submit may
 * still reach the scheduler (an orphaned sbatch retrying, a reply lost in a slow network).
 * A `submitting` record is declared `not-submitted` only once it is older than this; a
 * submitter on another host, which cannot be looked at, is presumed gone after it.
 */
export const DEFAULT_SUBMIT_GRACE = 600;
/** The least time between two queries made because a job's end record appeared. */
export const ENDED_FLOOR_MS = 1000;

export interface EndRecord {
  exit_code: number | null;
  signal: string | null;
  time?: string;
}

export interface GroupReport {
  scheduler: string;
  cluster: string;
  jobs: number;
  /** True if this refresh asked the scheduler. */
  queried: boolean;
  /** When the scheduler was last asked about this group (by any qdo), if ever. */
  last: string | null;
  /** Not queried because the jobs are on another cluster, or the scheduler failed. */
  problem: string | null;
}

export interface RefreshReport {
  groups: GroupReport[];
  /** Jobs this refresh saw end. */
  ended: JobVersion[];
  /** What the manifests' policies did about those ends (retry, notify; policies.ts). */
  policy: PolicyReport;
}

export interface RefreshOptions {
  /** Ask the scheduler even within the interval (--refresh). */
  force?: boolean;
  /** Never ask the scheduler (exit records only). */
  offline?: boolean;
  /** Do not apply retry/notify policies to the ends seen (qdo retry applies them itself). */
  noPolicies?: boolean;
  runner?: Runner;
}

export async function readEndRecord(taskDir: string): Promise<EndRecord | null> {
  try {
    const v = JSON.parse(await readFile(join(taskDir, 'qdo-end.json'), 'utf8')) as Record<string, unknown>;
    return {
      exit_code: typeof v.exit_code === 'number' ? v.exit_code : null,
      signal: typeof v.signal === 'string' ? v.signal : null,
      time: typeof v.time === 'string' ? v.time : undefined,
    };
  } catch {
    return null; // absent, or being replaced: the scheduler is asked instead
  }
}

async function readStartTime(taskDir: string): Promise<string | null> {
  try {
    const v = JSON.parse(await readFile(join(taskDir, 'qdo-start.json'), 'utf8')) as { time?: unknown };
    return typeof v.time === 'string' ? v.time : null;
  } catch {
    return null;
  }
}

/** An end record decides alone unless a signal stopped the job (then: time limit or cancel?). */
export function stateFromEndRecord(r: EndRecord): { state: 'completed' | 'failed'; exitCode: number } | null {
  if (r.exit_code === null || r.signal !== null) return null;
  // 128+N without a trapped signal: the script died of signal N that the wrapper never saw
  // (scancel signals every process of the job at once). A cancel or a kill by the scheduler
  // looks the same as a crash here; only the scheduler can tell.
  if (r.exit_code > 128) return null;
  return { state: r.exit_code === 0 ? 'completed' : 'failed', exitCode: r.exit_code };
}

/** When the scheduler has forgotten a signalled job: ran to its time limit → timeout, else cancelled. */
async function guessSignalled(j: JobVersion, r: EndRecord): Promise<{ state: 'timeout' | 'cancelled'; reason: string }> {
  const dir = runDirOfJob(j);
  const start = await readStartTime(dir);
  const limit = (await readManifest(j.layout, j.id)).resources.time;
  if (start && r.time && limit !== undefined && Date.parse(r.time) - Date.parse(start) >= (limit - 60) * 1000) {
    return { state: 'timeout', reason: `stopped by SIG${r.signal} at its time limit (the scheduler no longer knows the job)` };
  }
  return { state: 'cancelled', reason: `stopped by SIG${r.signal} before its time limit (the scheduler no longer knows the job)` };
}

interface QueryCache {
  [group: string]: { time: string; jobs: number };
}

function cachePath(home: Layout): string {
  return join(home.cache, 'queries.json');
}

async function readCache(home: Layout): Promise<QueryCache> {
  try {
    const v = JSON.parse(await readFile(cachePath(home), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as QueryCache) : {};
  } catch {
    return {}; // derived data: absent or damaged means "never asked"
  }
}

/**
 * Writes what this refresh learned, as a compare-and-swap against the record it decided
 * from (spec/submissions.md §Writes): if another qdo changed the record meanwhile (the
 * submitter recorded the scheduler's answer, another refresh got there first), theirs is
 * newer and stays; this process then goes on with the record as it is now.
 */
async function update(j: JobVersion, next: Partial<Submission>): Promise<boolean> {
  const read = j.sub!;
  const merged: Submission = { ...read, ...next };
  const same = (['state', 'state_source', 'exit_code', 'reason', 'sched_id'] as const).every((k) => merged[k] === read[k]);
  if (same) return false;
  const { ok, current } = await casSubmission(j.layout, read, merged);
  j.sub = current ?? read;
  return ok;
}

/**
 * Refreshes, then applies the manifests' policies to the jobs that ended, whoever asked:
 * an end seen by wait, watch, show or logs is retried or notified just as one seen by status.
 */
export async function refreshJobs(ctx: Context, jobs: JobVersion[], o: RefreshOptions = {}): Promise<RefreshReport> {
  // Runs of a pool: first requeue the runs of dead workers and keep the pilots (spec/pools.md §Scaling).
  const poolNotes = jobs.some((j) => j.sub?.scheduler.startsWith('pool:')) ? await (await import('./pool/hook.js')).beforeRefresh(ctx, jobs, o) : null;
  const r = await refreshStates(ctx, jobs, o);
  poolNotes?.(r.groups);
  let policy: PolicyReport = { retried: [], notified: [], problems: [] };
  if (r.ended.length > 0 && !o.noPolicies) {
    const { applyPolicies } = await import('./policies.js');
    policy = await applyPolicies(ctx, r.ended, { runner: o.runner });
  }
  return { ...r, policy };
}

async function refreshStates(ctx: Context, jobs: JobVersion[], o: RefreshOptions): Promise<Omit<RefreshReport, 'policy'>> {
  const ended: JobVersion[] = [];
  const now = () => ctx.now().toISOString();
  const live: JobVersion[] = [];
  const undecided = new Map<JobVersion, EndRecord>();
  const submitting: JobVersion[] = [];

  for (const j of jobs) {
    const s = j.sub;
    if (!s || isTerminal(s.state)) continue;
    if (s.state === 'submitting') {
      submitting.push(j);
      continue;
    }
    // Array jobs keep records per element (<runDir>/<index>); their state is the scheduler's.
    const rec = s.array !== undefined ? null : await readEndRecord(runDirOfJob(j));
    const fromRecord = rec && stateFromEndRecord(rec);
    if (fromRecord) {
      // Only the process whose write ended the job applies its policies (another may have won).
      if (await update(j, { state: fromRecord.state, state_source: 'exit-record', state_time: now(), exit_code: fromRecord.exitCode, reason: null })) ended.push(j);
      continue;
    }
    if (rec) undecided.set(j, rec);
    live.push(j);
  }

  const groups = new Map<string, { scheduler: string; cluster: string; jobs: JobVersion[] }>();
  for (const j of [...live, ...submitting]) {
    const key = `${j.sub!.scheduler}@${j.sub!.cluster}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { scheduler: j.sub!.scheduler, cluster: j.sub!.cluster, jobs: [] }));
    g.jobs.push(j);
  }
  const reports: GroupReport[] = [];
  if (groups.size === 0) return { groups: reports, ended };

  const home = await homeAllocation(ctx);
  const cache = await readCache(home);
  let cacheChanged = false;
  const { clusterName } = await import('../scheduler/cluster.js');
  for (const [key, g] of groups) {
    const report: GroupReport = { scheduler: g.scheduler, cluster: g.cluster, jobs: g.jobs.length, queried: false, last: cache[key]?.time ?? null, problem: null };
    reports.push(report);
    if (o.offline) continue;
    const here = await clusterName(g.scheduler, ctx.env, ctx.host).catch(() => null);
    if (here !== g.cluster) {
      report.problem = `on ${g.scheduler} cluster ${g.cluster}; this machine is ${here ? `on ${here}` : `not on it`}`;
      continue;
    }
    const choice = await chooseScheduler(ctx, home, g.scheduler, o.runner);
    const interval = choice.config.status_interval ?? DEFAULT_STATUS_INTERVAL;
    const graceMs = (choice.config.submit_grace ?? DEFAULT_SUBMIT_GRACE) * 1000;
    const stale = (j: JobVersion) => j.sub!.state === 'submitting' && isAbandoned(ctx, j.sub!, graceMs);
    const since = report.last ? ctx.now().getTime() - Date.parse(report.last) : Infinity;
    // A job whose end record is there but undecided (a signal, or a status above 128) has ended: worth one query
    // now rather than a whole interval later, at most once a second.
    const hasEnded = g.jobs.some((j) => undecided.has(j));
    const due = o.force || since >= interval * 1000 || (hasEnded && since >= ENDED_FLOOR_MS);
    const needRecovery = g.jobs.filter(stale);
    if (!due && needRecovery.length === 0) continue;

    const runDirs = new Map<string, JobVersion>();
    for (const j of g.jobs) if (j.sub!.sched_id) runDirs.set(j.sub!.sched_id, j);
    let backend: Backend;
    try {
      backend = await backendFor(ctx, choice, { runner: o.runner, readExitRecord: (id) => exitRecordState(runDirs.get(id)) });
    } catch (e) {
      report.problem = e instanceof QdoError ? e.message : String(e);
      continue;
    }
    try {
      const byTag = new Map<string, Promise<string | null>>(); // one lookup per array chunk
      for (const j of needRecovery) await recover(ctx, backend, j, byTag, graceMs);
      const ids = due ? g.jobs.filter((j) => j.sub!.sched_id !== null && !isTerminal(j.sub!.state)).map((j) => j.sub!.sched_id!) : [];
      if (ids.length > 0) {
        const states = await backend.query(ids);
        report.queried = true;
        report.last = now();
        cache[key] = { time: report.last, jobs: ids.length };
        cacheChanged = true;
        for (const j of g.jobs) {
          const st = j.sub!.sched_id ? states.get(j.sub!.sched_id) : undefined;
          if (!st) continue;
          const wasLive = !isTerminal(j.sub!.state);
          if ((await applyState(j, st, undecided.get(j), now())) && wasLive && isTerminal(j.sub!.state)) ended.push(j);
        }
      }
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      report.problem = e.message;
    }
  }
  if (cacheChanged) await writeFileAtomic(cachePath(home), JSON.stringify(cache, null, 1) + '\n', { mkdirs: true });
  return { groups: reports, ended };
}

async function exitRecordState(j: JobVersion | undefined): Promise<JobState | null> {
  if (!j) return null;
  const rec = await readEndRecord(runDirOfJob(j));
  const s = rec && stateFromEndRecord(rec);
  if (!s) return null;
  return { id: j.sub!.sched_id!, state: s.state, raw: `exit ${s.exitCode}`, source: 'exit-record', exitCode: s.exitCode };
}

async function applyState(j: JobVersion, st: JobState, undecidedRec: EndRecord | undefined, time: string): Promise<boolean> {
  if (st.state === 'unknown' && undecidedRec && undecidedRec.signal === null && undecidedRec.exit_code !== null) {
    return update(j, { state: 'failed', state_source: 'exit-record', state_time: time, exit_code: undecidedRec.exit_code, reason: `killed by signal ${undecidedRec.exit_code - 128} (the scheduler no longer knows the job)` });
  }
  if (st.state === 'unknown' && undecidedRec) {
    const g = await guessSignalled(j, undecidedRec);
    return update(j, { state: g.state, state_source: 'exit-record', state_time: time, exit_code: undecidedRec.exit_code, reason: g.reason });
  }
  if (st.state === 'unknown' && j.sub!.state !== 'unknown') {
    // Keep what was known, and say why it could not be confirmed.
    return update(j, { reason: st.reason ?? 'the scheduler does not know this job any more' });
  }
  return update(j, {
    state: st.state,
    state_source: st.source,
    state_time: time,
    exit_code: st.exitCode ?? null,
    reason: st.reason ?? null,
  });
}

/** The process that recorded a submission's intent. */
export function submitterOf(s: Submission): ProcessIdentity {
  return { host: s.host, pid: s.pid, start: typeof s.pid_start === 'string' ? s.pid_start : null };
}

/** When qdo last tried to submit it: the intent, or when the submitter gave up (ambiguous answer). */
function lastAttempt(s: Submission): number {
  return Math.max(Date.parse(s.intent), Date.parse(s.state_time));
}

/**
 * Whether a `submitting` record is to be looked up now (spec/submissions.md §Recovery): its
 * submitter is provably gone (this host: no process with its pid and start time), or it cannot
 * be looked at (another host) and the last attempt is older than the grace period. A living
 * submitter records the answer itself.
 */
export function isAbandoned(ctx: Context, s: Submission, graceMs = DEFAULT_SUBMIT_GRACE * 1000): boolean {
  const live = ctx.alive(submitterOf(s));
  if (live === 'alive') return false;
  if (live === 'dead') return true;
  return ctx.now().getTime() - lastAttempt(s) > graceMs;
}

/**
 * A submitter died between recording its intent and the scheduler's answer. A point of a
 * packed sweep chunk (record field `array_job`, spec/sweeps.md §Intent) went out in its
 * chunk's array job: that is found by the chunk's tag, and the point is its element. Not
 * found: `not-submitted` once the grace period since the last attempt is over (a submit may
 * still arrive late); the local backend's spool is written by the submitter itself, so a
 * dead submitter's job is there or never will be.
 */
async function recover(ctx: Context, backend: Backend, j: JobVersion, byTag: Map<string, Promise<string | null>>, graceMs: number): Promise<void> {
  const aj = j.sub!.array_job as { tag?: unknown; index?: unknown; base?: unknown } | undefined;
  const chunk = typeof aj?.tag === 'string' && typeof aj.index === 'number' && backend.elementId ? { tag: aj.tag, index: aj.index } : null;
  const tag = chunk ? chunk.tag : j.id;
  let lookup = byTag.get(tag);
  if (!lookup) byTag.set(tag, (lookup = backend.findByTag ? backend.findByTag(tag) : Promise.resolve(null)));
  const base = await lookup;
  const found = base && chunk ? backend.elementId!(base, chunk.index) : base;
  const time = ctx.now().toISOString();
  if (found) {
    await update(j, { sched_id: found, submitted: j.sub!.submitted ?? time, state: 'pending', state_source: 'qdo', state_time: time, reason: 'found by its tag after an interrupted submit', ...(chunk ? { array_job: { ...aj, base } } : {}) });
    return;
  }
  const grace = backend.kind === 'local' && ctx.alive(submitterOf(j.sub!)) === 'dead' ? 0 : graceMs;
  const age = ctx.now().getTime() - lastAttempt(j.sub!);
  if (age <= grace) {
    const until = new Date(lastAttempt(j.sub!) + grace).toISOString();
    await update(j, { reason: `the submitting qdo stopped; not found by its tag yet (not-submitted if still not found after ${until})` });
    return;
  }
  await update(j, { state: 'not-submitted', state_source: 'qdo', state_time: time, reason: 'the submitting qdo stopped before the scheduler took the job' });
}
