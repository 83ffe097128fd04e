// Learning job states (spec/submissions.md §Refresh). In order of cost:
//  1. a terminal state already recorded is final, but for one cheap look (one stat) at a
//     job ended within `rerun_window`: a rerun marker says it runs again (a requeue);
//  2. a job's own records in its run folder: an end record ends it (per task for arrays), a
//     start record shows a pending job running, without asking anyone;
//  3. the remaining live jobs of one scheduler and cluster are asked in ONE query when some
//     job needs it: one no query has covered within the status interval (default 30 s,
//     across all qdo processes of the user, keyed by the ids asked), or one whose end record
//     needs the scheduler's word; between queries the recorded states are shown with their age;
//  4. a job no one knows any more (not in the queue, not in accounting, no end record) is
//     `lost` once that has lasted `lost_after` (default 600 s), with the evidence.
// Jobs on another cluster are never queried from here. A submission whose submitter died
// before recording the scheduler's answer is looked up by its tag (idempotent submit).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context, ProcessIdentity } from '../context.js';
import { QdoError } from '../errors.js';
import { DEFAULT_LOST_AFTER, DEFAULT_RERUN_WINDOW, type AllocationConfig } from '../model/config.js';
import { isTerminal, signalName } from '../model/states.js';
import type { Submission } from '../model/submission.js';
import { writeFileAtomic } from '../store/atomic.js';
import { readConfig } from '../store/config.js';
import type { Layout } from '../store/layout.js';
import { readManifest } from '../store/manifests.js';
import { casSubmission } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import type { PolicyReport } from './policies.js';
import type { Backend, JobState } from '../scheduler/types.js';
import { mapBounded, runDirOfJob, type JobVersion } from './jobs.js';
import { attemptWanted, readEndRecord, readStartRecord, rerunMark, stateFromEndRecord, type EndRecord, type StartRecord } from './refresh-records.js';
import { backendFor, chooseScheduler } from './scheduler-choice.js';
import { homeAllocation } from './world.js';

/** Jobs whose files a refresh reads or whose records it changes at once. */
const WRITES_IN_FLIGHT = 16;

export { readEndRecord, stateFromEndRecord, type EndRecord } from './refresh-records.js';

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
/** Arrays with more tasks than this are not decided from their task records (too many reads). */
const MAX_ARRAY_RECORDS = 10_000;

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
  /** The scheduler was asked and failed (the states shown are the last known): its error. */
  error?: QdoError;
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
  /** Never ask the scheduler (the jobs' own records only). */
  offline?: boolean;
  /** Do not apply retry/notify policies to the ends seen (qdo retry applies them itself). */
  noPolicies?: boolean;
  runner?: Runner;
  /**
   * The home allocation, when the caller has just opened it (listLatest: trust check
   * included, spec/trust.md §Allocations): not opened and checked a second time.
   */
  home?: Layout;
}

/** What the job's own files said, for the scheduler's answer to be read against. */
interface Look {
  /** An end record of the attempt the record waits for that needs the scheduler's word (a signal). */
  undecided?: EndRecord;
  /** The start record read, if any (evidence for `lost`). */
  start?: StartRecord | null;
  /** Re-opened by a rerun marker: the marker's identity, to record once dealt with. */
  mark?: string;
  /** The state was just learned from the job's own records: no query is needed for it. */
  own?: boolean;
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

/**
 * Writes what this refresh learned, as a compare-and-swap against the record it decided
 * from (spec/submissions.md §Writes): if another qdo changed the record meanwhile (the
 * submitter recorded the scheduler's answer, another refresh got there first), theirs is
 * newer and stays; this process then goes on with the record as it is now.
 */
async function update(j: JobVersion, next: Partial<Submission>): Promise<boolean> {
  const read = j.sub!;
  const merged: Submission = { ...read, ...next };
  // The same state learned again, from another source (the queue confirming qdo's own
  // `held`), is no change: writing it cost the first status after a 10^4-point sweep 10^4
  // record rewrites (spec/submissions.md §Refresh step 4).
  const same = (['state', 'exit_code', 'reason', 'sched_id', 'attempt', 'signal', 'unknown_since', 'rerun_mark'] as const).every((k) => (merged[k] ?? null) === (read[k] ?? null));
  if (same) return false;
  for (const k of ['attempt', 'signal', 'unknown_since', 'rerun_mark'] as const) if (merged[k] === undefined || merged[k] === null) delete merged[k];
  const { ok, current } = await casSubmission(j.layout, read, merged);
  j.sub = current ?? read;
  return ok;
}

/** Settings of refresh from the home allocation's config (config.md), read once per refresh. */
class Settings {
  private cfg: Promise<AllocationConfig> | null = null;
  private home: Promise<Layout> | null = null;
  constructor(
    private readonly ctx: Context,
    opened?: Layout,
  ) {
    if (opened) this.home = Promise.resolve(opened);
  }
  layout(): Promise<Layout> {
    return (this.home ??= homeAllocation(this.ctx));
  }
  config(): Promise<AllocationConfig> {
    return (this.cfg ??= this.layout().then((h) => readConfig(h, this.ctx.user)));
  }
}

/** `rerun_window` (config.md) in ms: how long after its end a job is still looked at for a rerun. */
export async function rerunWindowMs(ctx: Context): Promise<number> {
  return ((await new Settings(ctx).config()).rerun_window ?? DEFAULT_RERUN_WINDOW) * 1000;
}

/**
 * For gc (spec/porcelain.md §qdo gc, What is removed): of jobs known to have ended (by their
 * record, or for a dry run by their end record), those the scheduler has taken back into its queue (a requeue, by hand or by the cluster,
 * whose next attempt has not started: no rerun marker yet). One query per scheduler and
 * cluster, the records left as they are. A job that cannot be asked (another cluster, a pool,
 * a failing scheduler) is in `unasked` with why: nothing says it will not run again.
 */
export async function queuedAgain(ctx: Context, jobs: JobVersion[], o: { runner?: Runner } = {}): Promise<{ queued: Set<JobVersion>; unasked: Map<JobVersion, string> }> {
  const queued = new Set<JobVersion>();
  const unasked = new Map<JobVersion, string>();
  const groups = new Map<string, JobVersion[]>();
  for (const j of jobs) {
    const s = j.sub;
    if (!s || s.sched_id === null || s.scheduler.startsWith('pool:')) continue;
    const key = `${s.scheduler}@${s.cluster}`;
    const g = groups.get(key);
    if (g) g.push(j);
    else groups.set(key, [j]);
  }
  if (groups.size === 0) return { queued, unasked };
  const home = await homeAllocation(ctx);
  const { clusterName } = await import('../scheduler/cluster.js');
  for (const g of groups.values()) {
    const { scheduler, cluster } = g[0]!.sub!;
    const skip = (why: string) => g.forEach((j) => unasked.set(j, why));
    const here = await clusterName(scheduler, ctx.env, ctx.host).catch(() => null);
    if (here !== cluster) {
      skip(`on ${scheduler} cluster ${cluster}, which this machine cannot ask whether it was requeued`);
      continue;
    }
    try {
      const choice = await chooseScheduler(ctx, home, scheduler, o.runner);
      const backend = await backendFor(ctx, choice, { runner: o.runner });
      const states = await backend.query(g.map((j) => j.sub!.sched_id!));
      for (const j of g) {
        const st = states.get(j.sub!.sched_id!);
        if (st && st.state !== 'unknown' && !isTerminal(st.state)) queued.add(j);
      }
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      skip(`${scheduler} could not be asked whether it was requeued: ${e.message}`);
    }
  }
  return { queued, unasked };
}

async function refreshStates(ctx: Context, jobs: JobVersion[], o: RefreshOptions): Promise<Omit<RefreshReport, 'policy'>> {
  const ended: JobVersion[] = [];
  const nowMs = () => ctx.now().getTime();
  const now = () => ctx.now().toISOString();
  const settings = new Settings(ctx, o.home);
  const live = new Map<JobVersion, Look>();
  const submitting: JobVersion[] = [];

  // Step 1 for a job that ended before rerun_window: final, decided here without a promise
  // per job (status over 10^3 ended jobs; bench/README.md §Start-up).
  const window = jobs.some((j) => j.sub && isTerminal(j.sub.state)) ? ((await settings.config()).rerun_window ?? DEFAULT_RERUN_WINDOW) : 0;
  const at = nowMs();
  const looking = jobs.filter((j) => {
    const s = j.sub;
    if (!s || s.state === 'not-submitted') return false;
    return !isTerminal(s.state) || !(window === 0 || at - Date.parse(s.state_time) > window * 1000);
  });
  // Steps 1-2 look at each job's own files: independent per job, so several at a time;
  // the results are taken in the jobs' order.
  const looked = await mapBounded(looking, WRITES_IN_FLIGHT, async (j): Promise<{ look: Look; decided: 'ended' | 'final' | 'live' } | 'submitting' | null> => {
    const s = j.sub!;
    if (s.state === 'submitting') return 'submitting';
    let look: Look = {};
    if (isTerminal(s.state)) {
      // Step 1: one cheap look at a recently ended job (submissions.md §Attempts).
      const mark = await rerunMark(runDirOfJob(j));
      if (mark !== null && mark !== (s.rerun_mark ?? null)) look = { mark };
      else if (s.state !== 'lost') return null;
    }
    return { look, decided: await fromOwnRecords(ctx, j, look) };
  });
  looking.forEach((j, i) => {
    const r = looked[i];
    if (r === null || r === undefined) return;
    if (r === 'submitting') submitting.push(j);
    else if (r.decided === 'ended') ended.push(j);
    else if (r.decided === 'live') live.set(j, r.look);
  });

  const groups = new Map<string, { scheduler: string; cluster: string; jobs: JobVersion[] }>();
  for (const j of [...live.keys(), ...submitting]) {
    const key = `${j.sub!.scheduler}@${j.sub!.cluster}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { scheduler: j.sub!.scheduler, cluster: j.sub!.cluster, jobs: [] }));
    g.jobs.push(j);
  }
  const reports: GroupReport[] = [];
  if (groups.size === 0) return { groups: reports, ended };

  const home = await settings.layout();
  const cache = await readCache(home);
  const asked: QueryCache = {};
  const intervals = new Map<string, number>();
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
    const interval = (choice.config.status_interval ?? DEFAULT_STATUS_INTERVAL) * 1000;
    intervals.set(key, interval);
    const lostAfter = (choice.config.lost_after ?? DEFAULT_LOST_AFTER) * 1000;
    const graceMs = (choice.config.submit_grace ?? DEFAULT_SUBMIT_GRACE) * 1000;
    const stale = (j: JobVersion) => j.sub!.state === 'submitting' && isAbandoned(ctx, j.sub!, graceMs);
    const lastAsked = (j: JobVersion): number => {
      const t = j.sub!.sched_id ? cache[key]?.asked?.[j.sub!.sched_id] : undefined;
      return t ? nowMs() - Date.parse(t) : Infinity;
    };
    // Step 3: the query cache is keyed by what was asked. A job no query covered within the
    // interval makes the group due (one call for all its jobs); so does a job whose end
    // record needs the scheduler's word (at most once a second) or a re-opened one. A job
    // whose state its own records just gave needs no query.
    const need = g.jobs.filter((j) => live.has(j) && !live.get(j)!.own);
    const due =
      o.force ||
      need.some((j) => lastAsked(j) >= interval) ||
      g.jobs.some((j) => (live.get(j)?.undecided !== undefined || (live.get(j)?.mark !== undefined && !live.get(j)!.own)) && lastAsked(j) >= ENDED_FLOOR_MS);
    const needRecovery = g.jobs.filter(stale);
    if (!due && needRecovery.length === 0) continue;

    const byId = new Map<string, JobVersion>();
    for (const j of g.jobs) if (j.sub!.sched_id) byId.set(j.sub!.sched_id, j);
    let backend: Backend;
    try {
      backend = await backendFor(ctx, choice, {
        runner: o.runner,
        readExitRecord: (id) => exitRecordState(byId.get(id)),
        isArrayJob: (id) => byId.get(id)?.sub?.array !== undefined,
      });
    } catch (e) {
      report.problem = e instanceof QdoError ? e.message : String(e);
      if (e instanceof QdoError) report.error = e;
      continue;
    }
    try {
      const byTag = new Map<string, Promise<string | null>>(); // one lookup per array chunk
      // A job found by its tag is recorded in the scheduler's waiting state; what it is now
      // (held, running, over) is asked in the same call, not at the next interval.
      const found: JobVersion[] = [];
      for (const j of needRecovery) {
        await recover(ctx, backend, j, byTag, graceMs);
        if (j.sub!.sched_id !== null && !isTerminal(j.sub!.state)) {
          live.set(j, {});
          found.push(j);
        }
      }
      const ids = (due ? g.jobs.filter((j) => j.sub!.sched_id !== null && live.has(j)) : found).map((j) => j.sub!.sched_id!);
      if (ids.length > 0) {
        const states = await backend.query(ids);
        report.queried = true;
        report.last = now();
        const entry = (asked[key] ??= { time: report.last, jobs: 0, asked: {} });
        entry.time = report.last;
        entry.jobs += ids.length;
        for (const id of ids) entry.asked![id] = report.last;
        // Each record is changed on its own (a compare-and-swap under its shard folder's lock,
        // submissions.md §Writes), several at a time: 10^4 changed states were 10^4
        // sequential lock + write + fsync rounds (74 s); in flight together, the file
        // system's journal commits their fsyncs together.
        const endedHere = await mapBounded(g.jobs, WRITES_IN_FLIGHT, async (j) => {
          const st = j.sub!.sched_id ? states.get(j.sub!.sched_id) : undefined;
          if (!st || !live.has(j)) return false;
          const wasLive = !isTerminal(j.sub!.state) || live.get(j)!.mark !== undefined;
          return (await applyState(j, st, live.get(j)!, now(), lostAfter)) && wasLive && isTerminal(j.sub!.state);
        });
        g.jobs.forEach((j, i) => endedHere[i] && ended.push(j));
      }
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      report.problem = e.message;
      report.error = e;
    }
  }
  if (Object.keys(asked).length > 0) await writeCache(home, asked, intervals);
  return { groups: reports, ended };
}

/**
 * Step 2 (submissions.md §Refresh): what the job's own records decide. 'ended' (this
 * process saw the job end: its policies apply) and 'final' need nothing more; 'live' goes
 * on to the scheduler, with what was seen kept in `look`.
 */
async function fromOwnRecords(ctx: Context, j: JobVersion, look: Look): Promise<'ended' | 'final' | 'live'> {
  const s = j.sub!;
  const time = ctx.now().toISOString();
  const dir = runDirOfJob(j);
  const before = s.state;
  // Only the process whose write ended the job applies its policies (another may have won);
  // a terminal job re-opened and ending the same way again is not a new end.
  const endedBy = (changed: boolean): 'ended' | 'final' => (changed && (!isTerminal(before) || j.sub!.state !== before) ? 'ended' : 'final');
  if (s.array !== undefined) {
    // Array tasks keep records per task (<runDir>/<index>): every task's final end record ends the array.
    const end = await arrayEndState(j);
    if (end) {
      return endedBy(await update(j, { state: end.state, state_source: 'exit-record', state_time: time, exit_code: end.exitCode, reason: end.reason, signal: null, unknown_since: null, ...(look.mark ? { rerun_mark: look.mark } : {}) }));
    }
    return 'live';
  }
  // After a rerun marker, the records to look for are those of an attempt after the one the
  // terminal state is about; otherwise those of the attempt the record waits for.
  const wanted = look.mark !== undefined ? (s.attempt ?? 1) + 1 : attemptWanted(s);
  const rec = await readEndRecord(dir);
  if (rec && rec.attempt >= wanted) {
    const fromRecord = stateFromEndRecord(rec);
    if (fromRecord) {
      const mark = look.mark ?? (await rerunMark(dir));
      return endedBy(await update(j, { state: fromRecord.state, state_source: 'exit-record', state_time: time, exit_code: fromRecord.exitCode, reason: null, attempt: rec.attempt, signal: null, unknown_since: null, rerun_mark: mark }));
    }
    look.undecided = rec;
  }
  if (s.state === 'lost' && look.mark === undefined) return look.undecided ? 'live' : 'final';
  if (look.undecided === undefined && (s.state === 'pending' || s.state === 'held' || look.mark !== undefined)) {
    const start = await readStartRecord(dir);
    look.start = start;
    if (start && start.attempt >= wanted) {
      // Its own start record says it runs: no scheduler call needed to show it running.
      look.own = true;
      await update(j, { state: 'running', state_source: 'start-record', state_time: time, exit_code: null, reason: null, attempt: start.attempt, signal: null, unknown_since: null, ...(look.mark ? { rerun_mark: look.mark } : {}) });
      return 'live';
    }
  }
  if (look.mark !== undefined && look.undecided === undefined) {
    // A marker for no newer attempt of this job (an attempt it had already seen): noted, so
    // that the next look costs one stat again.
    await update(j, { rerun_mark: look.mark });
    return 'final';
  }
  return 'live';
}

/** Every task's final end record decides an array (spec/submissions.md §Refresh step 2). */
async function arrayEndState(j: JobVersion): Promise<{ state: 'completed' | 'failed'; exitCode: number; reason: string | null } | null> {
  const { arrayIndices } = await import('./run-folder.js');
  const indices = typeof j.sub!.array === 'string' ? await arrayIndices(j.sub!.array) : null;
  if (!indices || indices.length === 0 || indices.length > MAX_ARRAY_RECORDS) return null;
  const dir = runDirOfJob(j);
  let failed = 0;
  let code = 0;
  for (const i of indices) {
    const r = await readEndRecord(join(dir, String(i)));
    const d = r && stateFromEndRecord(r);
    if (!d) return null; // a task not ended, or ended by a signal: the scheduler decides
    if (d.state === 'failed') {
      failed++;
      code = Math.max(code, d.exitCode);
    }
  }
  return failed === 0 ? { state: 'completed', exitCode: 0, reason: null } : { state: 'failed', exitCode: code, reason: `${failed} of ${indices.length} tasks failed` };
}

/** For the backend, an id the scheduler has forgotten: what the job's own records say (news only). */
async function exitRecordState(j: JobVersion | undefined): Promise<JobState | null> {
  if (!j?.sub?.sched_id) return null;
  const id = j.sub.sched_id;
  if (j.sub.array !== undefined) {
    const end = await arrayEndState(j);
    return end && { id, state: end.state, raw: `exit ${end.exitCode}`, source: 'exit-record', exitCode: end.exitCode, ...(end.reason ? { reason: end.reason } : {}) };
  }
  const rec = await readEndRecord(runDirOfJob(j));
  const s = rec && rec.attempt >= attemptWanted(j.sub) ? stateFromEndRecord(rec) : null;
  if (!s) return null;
  return { id, state: s.state, raw: `exit ${s.exitCode}`, source: 'exit-record', exitCode: s.exitCode };
}

/** When the scheduler has forgotten a signalled job: ran to its time limit → timeout, else cancelled. */
async function guessSignalled(j: JobVersion, r: EndRecord): Promise<{ state: 'timeout' | 'cancelled'; reason: string }> {
  const start = (await readStartRecord(runDirOfJob(j)))?.time ?? null;
  const limit = (await readManifest(j.layout, j.id)).resources.time;
  if (start && r.time && limit !== undefined && Date.parse(r.time) - Date.parse(start) >= (limit - 60) * 1000) {
    return { state: 'timeout', reason: `stopped by SIG${r.signal} at its time limit (the scheduler no longer knows the job)` };
  }
  return { state: 'cancelled', reason: `stopped by SIG${r.signal} before its time limit (the scheduler no longer knows the job)` };
}

/** The scheduler's explanation, with who cancelled and which signal, when it says (spec/states.md). */
export function reasonOf(st: JobState): string | null {
  const parts: string[] = [];
  if (st.reason) parts.push(st.reason);
  const by = /^CANCELLED by (\d+)/.exec(st.raw);
  if (by) parts.push(`cancelled by uid ${by[1]}`);
  if (typeof st.signal === 'number' && st.signal > 0 && !parts.some((p) => /signal|SIG/.test(p))) parts.push(`killed by SIG${signalName(st.signal)}`);
  return parts.length > 0 ? parts.join('; ') : null;
}

async function applyState(j: JobVersion, st: JobState, look: Look, time: string, lostAfterMs: number): Promise<boolean> {
  const s = j.sub!;
  const undecided = look.undecided;
  const mark = look.mark !== undefined ? { rerun_mark: look.mark } : {};
  if (st.state === 'unknown' && undecided && undecided.signal === null && undecided.exit_code !== null) {
    return update(j, { state: 'failed', state_source: 'exit-record', state_time: time, exit_code: undecided.exit_code, signal: signalName(undecided.exit_code - 128), reason: `killed by signal ${undecided.exit_code - 128} (the scheduler no longer knows the job)`, attempt: undecided.attempt, unknown_since: null, ...mark, rerun_mark: await rerunMark(runDirOfJob(j)) });
  }
  if (st.state === 'unknown' && undecided) {
    const g = await guessSignalled(j, undecided);
    return update(j, { state: g.state, state_source: 'exit-record', state_time: time, exit_code: undecided.exit_code, signal: undecided.signal, reason: g.reason, attempt: undecided.attempt, unknown_since: null, ...mark, rerun_mark: await rerunMark(runDirOfJob(j)) });
  }
  if (st.state === 'unknown') {
    if (look.mark !== undefined) return update(j, mark); // a re-opened job keeps its end
    // No one knows the job: keep what was known, say why, and after lost_after call it lost
    // (submissions.md §Lost). Only an answer counts: a failing scheduler never gets here.
    const since = s.unknown_since ?? time;
    const why = st.reason ?? 'the scheduler does not know this job any more';
    if (st.source === 'none' && Date.parse(time) - Date.parse(since) >= lostAfterMs) {
      return update(j, { state: 'lost', state_source: 'none', state_time: time, exit_code: null, signal: null, reason: await lostEvidence(j, look, why, since), unknown_since: since, rerun_mark: await rerunMark(runDirOfJob(j)) });
    }
    if (s.state === 'unknown' || s.state === 'lost') return update(j, { reason: why, unknown_since: st.source === 'none' ? since : null });
    return update(j, { reason: st.source === 'none' ? `${why} (since ${since}; lost after ${Math.round(lostAfterMs / 1000)} s unless its end is learned)` : why, unknown_since: st.source === 'none' ? since : null });
  }
  let reason = reasonOf(st);
  // squeue never says who cancelled: keep qdo's own note of a cancel it sent.
  if (reason === null && st.state === 'cancelled') reason = s.reason !== null && /^cancel requested/.test(s.reason) ? s.reason : 'cancelled (the scheduler does not say by whom)';
  const next: Partial<Submission> = {
    state: st.state,
    state_source: st.source,
    state_time: time,
    exit_code: st.exitCode ?? null,
    reason,
    signal: typeof st.signal === 'number' && st.signal > 0 ? signalName(st.signal) : null,
    unknown_since: null,
    ...mark,
  };
  // The scheduler says it waits to start while the folder shows an attempt that started:
  // it was requeued after that attempt, whose records are no news any more (§Attempts).
  if ((st.state === 'pending' || st.state === 'held') && s.array === undefined) {
    // The scheduler says it waits to start. If an attempt it had not ended is running by its
    // start record, that answer is either stale (a lagging or cached queue) or a requeue. A
    // requeue stops the running wrapper, which leaves an end record (a signal): with one,
    // the job was requeued after that attempt, whose records are no news any more
    // (§Attempts). Without one, the start record is the better witness: the job stays as it
    // is (a requeue after a node failure then shows running until the next attempt starts).
    const start = look.start !== undefined ? look.start : s.state === 'pending' || s.state === 'held' ? null : await readStartRecord(runDirOfJob(j));
    if (look.undecided !== undefined) {
      if (look.undecided.attempt > (s.attempt ?? 0)) next.attempt = look.undecided.attempt;
    } else if (start && start.attempt >= attemptWanted(s)) {
      return update(j, { reason: `${s.state} by its start record (attempt ${start.attempt}); the scheduler says ${st.raw || st.state}, a stale answer or a requeue` });
    }
  }
  if (isTerminal(st.state) && s.array === undefined && next.attempt === undefined) {
    // Which attempt ended, from its end record, as when the record itself decided (step 2): a
    // job that ended between step 2's look and the scheduler's answer (the local backend
    // answers from the same end record) had its end recorded without it.
    const rec = look.undecided ?? (await readEndRecord(runDirOfJob(j)));
    if (rec && rec.attempt >= attemptWanted(s) && rec.attempt > (s.attempt ?? 0)) next.attempt = rec.attempt;
  }
  if (isTerminal(st.state) && look.mark === undefined) next.rerun_mark = await rerunMark(runDirOfJob(j));
  return update(j, next);
}

/** Why a job is called lost: what was asked and what its folder shows (submissions.md §Lost). */
async function lostEvidence(j: JobVersion, look: Look, said: string, since: string): Promise<string> {
  const dir = runDirOfJob(j);
  const start = look.start !== undefined ? look.start : await readStartRecord(dir);
  const ran = start && start.attempt >= attemptWanted(j.sub!) - (j.sub!.state === 'pending' || j.sub!.state === 'held' ? 0 : 1) ? `it started on ${start.host ?? 'an unknown host'} at ${start.time ?? 'an unknown time'} (attempt ${start.attempt}) and left no end record` : 'it left no start record';
  return `lost: ${said}; ${ran} in ${dir}; unknown since ${since}`;
}

// ---- the query cache (spec/submissions.md §Refresh step 3) ----

interface QueryCache {
  [group: string]: {
    /** When the group was last asked. */
    time: string;
    jobs: number;
    /** Job id → when it was last asked; entries older than the group's interval are dropped. */
    asked?: Record<string, string>;
  };
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
 * Merges what this refresh asked into the cache as it is on disk now (another qdo may have
 * written meanwhile; the later time of an id wins) and drops what no longer bounds anything.
 * Not locked: a lost update costs one extra query, never a wrong state.
 */
async function writeCache(home: Layout, asked: QueryCache, intervals: Map<string, number>): Promise<void> {
  const cache = await readCache(home);
  for (const [key, e] of Object.entries(asked)) {
    const old = cache[key];
    const merged: Record<string, string> = { ...(old?.asked ?? {}) };
    for (const [id, t] of Object.entries(e.asked ?? {})) if (!merged[id] || merged[id]! < t) merged[id] = t;
    const keep = intervals.get(key) ?? DEFAULT_STATUS_INTERVAL * 1000;
    const cutoff = Date.parse(e.time) - keep;
    for (const [id, t] of Object.entries(merged)) if (Date.parse(t) < cutoff) delete merged[id];
    cache[key] = { time: !old || old.time < e.time ? e.time : old.time, jobs: e.jobs, asked: merged };
  }
  await writeFileAtomic(cachePath(home), JSON.stringify(cache) + '\n', { mkdirs: true });
}

// ---- recovery of interrupted submits (spec/submissions.md §Recovery) ----

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
    await update(j, { sched_id: found, submitted: j.sub!.submitted ?? time, state: backend.waitingState ?? 'pending', state_source: 'qdo', state_time: time, reason: 'found by its tag after an interrupted submit', ...(chunk ? { array_job: { ...aj, base } } : {}) });
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
