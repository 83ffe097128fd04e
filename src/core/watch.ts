// `qdo watch [PATTERN…]` (spec/porcelain.md §qdo watch): status, again and again. Each round
// re-lists the latest versions (a new submission shows up), refreshes them as cheaply as
// refreshJobs allows, and reports what changed. A round runs when a job writes its end
// record, and otherwise after --interval or when the next scheduler query is due.
import type { Context } from '../context.js';
import { NotFoundError } from '../errors.js';
import { isTerminal } from '../model/states.js';
import type { Runner } from '../scheduler/runner.js';
import { listLatest, runDirOfJob, type HiddenJobs, type JobVersion } from './jobs.js';
import { leaveOutEnded, sinceCutoff } from './status.js';
import { refreshJobs, type RefreshReport } from './refresh.js';
import { nextQueryDelay, realTimers, Sleeper, statusIntervals, watchEndRecords, type EndRecordWatcher, type Timers, type WatchEndRecords } from './wait.js';

export interface WatchChange {
  job: JobVersion;
  /** The state shown before, or null for a job seen for the first time. */
  from: string | null;
  to: string;
}

export interface WatchUpdate {
  /** Round number, from 1. */
  round: number;
  jobs: JobVersion[];
  /** On the first round: every job (from null). */
  changes: WatchChange[];
  report: RefreshReport;
  time: Date;
  /** With `since`: the jobs left out this round, by state (status's overview). */
  hidden?: HiddenJobs;
  /** With `since`: the time (ms) this round left out the jobs ended before. */
  since?: number;
}

export interface WatchOptions {
  /** Between rounds (ms); default: until the next scheduler query is due. */
  intervalMs?: number;
  /** Stop once every shown job is terminal (the plain, non-TTY view). */
  untilDone?: boolean;
  /** Stops the watch (q or Ctrl-C on a TTY). */
  signal?: AbortSignal;
  runner?: Runner;
  timers?: Timers;
  watch?: WatchEndRecords;
  onUpdate(u: WatchUpdate): void | Promise<void>;
  /**
   * Leave out the jobs whose latest version ended before this time (ms), as `qdo status
   * --since` does; a function gives it for each round's time (an age: the window moves).
   */
  since?: number | ((now: Date) => number);
}

export function shownState(j: JobVersion): string {
  return j.sub ? j.sub.state : 'unsubmitted';
}

/** Jobs that can still change: submitted through qdo and not terminal. */
function open(j: JobVersion): boolean {
  return j.sub !== null && !isTerminal(j.sub.state);
}

export async function watchStatus(ctx: Context, patterns: string[], o: WatchOptions): Promise<void> {
  const timers = o.timers ?? realTimers;
  const sleeper = new Sleeper(timers);
  const onAbort = () => sleeper.kick();
  o.signal?.addEventListener('abort', onAbort);
  const seen = new Map<string, string>();
  const watched = new Set<string>();
  let watcher: EndRecordWatcher | null = null;
  try {
    for (let round = 1; !o.signal?.aborted; round++) {
      sleeper.take();
      // Ended jobs through the ended-jobs cache, as status reads them (one file, not a record
      // each); with `since`, the jobs that ended before it are left out as status does.
      const since = typeof o.since === 'function' ? o.since(ctx.now()) : o.since;
      const cut = since !== undefined ? await sinceCutoff(ctx, since) : undefined;
      const sel = await listLatest(ctx, patterns, { endedCache: true, allocs: cut?.allocs, hideEndedBefore: cut?.before });
      if (round === 1 && patterns.length > 0 && sel.jobs.length === 0 && (sel.hidden?.count ?? 0) === 0) {
        throw new NotFoundError('no-match', `qdo watch: no job matches ${patterns.map((p) => JSON.stringify(p)).join(' or ')}`, { hint: 'list every job with: qdo status (outside a project folder)' });
      }
      const report = await refreshJobs(ctx, sel.jobs, { runner: o.runner });
      const jobs = since !== undefined && sel.hidden ? leaveOutEnded(sel.jobs, since, sel.hidden) : sel.jobs;
      const changes: WatchChange[] = [];
      for (const j of jobs) {
        const to = shownState(j);
        const from = seen.get(j.id) ?? null;
        if (from !== to) changes.push({ job: j, from, to });
        seen.set(j.id, to);
      }
      await o.onUpdate({ round, jobs, changes, report, time: ctx.now(), ...(sel.hidden ? { hidden: sel.hidden } : {}), ...(since !== undefined ? { since } : {}) });
      if (o.untilDone && !jobs.some(open)) return;
      const dirs = jobs.filter(open).map(runDirOfJob).filter((d) => !watched.has(d));
      if (dirs.length > 0) {
        for (const d of dirs) watched.add(d);
        if (!watcher) watcher = await (o.watch ?? watchEndRecords)(dirs, () => sleeper.kick());
        else watcher.add(dirs);
        continue; // a record written while the watcher started is seen by the next round
      }
      const delay = o.intervalMs ?? nextQueryDelay(report, await statusIntervals(ctx, jobs.filter(open).map((j) => j.sub!.scheduler), o.runner), ctx.now());
      if (o.signal?.aborted) break;
      await sleeper.sleep(delay);
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await watcher?.close();
  }
}
