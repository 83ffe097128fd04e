// `qdo wait REV…|PATTERN` (spec/porcelain.md §qdo wait): returns when every selected job
// version is terminal. Jobs announce their own end by writing `qdo-end.json` into their run
// folder (scheduler-common.md §Records), so wait watches those files and refreshes on each;
// the scheduler is asked only by refreshJobs, i.e. at most once per status interval
// (spec/submissions.md §Refresh). The clock, the timers and the file watcher are injectable.
import { basename } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, ExitCode } from '../errors.js';
import { parseWalltime } from '../model/resource-units.js';
import { FAILED_STATES, isTerminal, neverStarts } from '../model/states.js';
import type { Runner } from '../scheduler/runner.js';
import { fullName, runDirOfJob, selectJobs, type JobVersion } from './jobs.js';
import { DEFAULT_STATUS_INTERVAL, refreshJobs, type RefreshReport } from './refresh.js';
import { chooseScheduler } from './scheduler-choice.js';
import { homeAllocation } from './world.js';

/** setTimeout/clearTimeout, replaceable in tests. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface EndRecordWatcher {
  /** Also watch these run folders (watch picks up newly submitted versions). */
  add(dirs: string[]): void;
  close(): Promise<void>;
}

/** Calls `onEnd` whenever a `qdo-end.json` appears or changes in (a task folder of) these run folders. */
export type WatchEndRecords = (dirs: string[], onEnd: (path: string) => void) => Promise<EndRecordWatcher>;

export const END_RECORD = 'qdo-end.json';

/** The chokidar watcher, loaded only when something is waited on. */
export const watchEndRecords: WatchEndRecords = async (dirs, onEnd) => {
  const { watch } = await import('chokidar');
  const w = watch(dirs, {
    ignoreInitial: true,
    // Array tasks keep their records in <runDir>/<index>/.
    depth: 1,
    // Logs change all the time; only the end record matters.
    ignored: (p, stats) => stats?.isFile() === true && basename(p) !== END_RECORD,
  });
  const fire = (p: string) => {
    if (basename(p) === END_RECORD) onEnd(p);
  };
  w.on('add', fire).on('change', fire);
  await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  return { add: (d) => void w.add(d), close: () => w.close() };
};

/** Sleeps until a timer fires or someone calls kick(); a kick while awake is not lost. */
export class Sleeper {
  private kicked = false;
  private wake: (() => void) | null = null;
  constructor(private readonly timers: Timers) {}

  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** True (and forgets it) if kick() was called since the last sleep or take. */
  take(): boolean {
    const k = this.kicked;
    this.kicked = false;
    return k;
  }

  sleep(ms: number): Promise<void> {
    if (this.take()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const h = this.timers.set(() => done(), ms);
      const done = () => {
        this.timers.clear(h);
        this.wake = null;
        this.kicked = false;
        resolve();
      };
      this.wake = done;
    });
  }
}

/** status_interval of each scheduler kind (config.md), in ms. */
export async function statusIntervals(ctx: Context, kinds: string[], runner?: Runner): Promise<Map<string, number>> {
  const home = await homeAllocation(ctx);
  const out = new Map<string, number>();
  for (const k of new Set(kinds)) out.set(k, ((await chooseScheduler(ctx, home, k, runner)).config.status_interval ?? DEFAULT_STATUS_INTERVAL) * 1000);
  return out;
}

/**
 * How long until a refresh could ask a scheduler again: the earliest group's last query plus
 * its status interval, between 1 s and the interval (another qdo may have asked meanwhile).
 */
export function nextQueryDelay(report: RefreshReport, intervals: Map<string, number>, now: Date): number {
  let best = Math.max(DEFAULT_STATUS_INTERVAL * 1000, ...intervals.values());
  for (const g of report.groups) {
    const iv = intervals.get(g.scheduler) ?? DEFAULT_STATUS_INTERVAL * 1000;
    const left = g.last ? Date.parse(g.last) + iv - now.getTime() : iv;
    best = Math.min(best, Math.max(1000, Math.min(iv, left)));
  }
  return best;
}

/** `--timeout`: the durations of `--time` (90s, 10m, 1h30m, 1:30:00; a bare number is minutes). */
export function parseTimeout(text: string): number {
  return parseWalltime(text, '--timeout') * 1000;
}

export interface WaitProgress {
  total: number;
  /** Terminal, whatever the end. */
  done: number;
  completed: number;
  /** Terminal and not completed (FAILED_STATES). */
  failed: number;
}

export interface WaitOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  runner?: Runner;
  timers?: Timers;
  watch?: WatchEndRecords;
  /** After every refresh. */
  onProgress?(p: WaitProgress): void;
  /** A group that cannot be asked (another cluster, scheduler failing): once per distinct note. */
  onNote?(note: string): void;
}

export type WaitOutcome = 'completed' | 'failed' | 'lost' | 'never-starts' | 'timeout';

export interface WaitResult {
  jobs: JobVersion[];
  outcome: WaitOutcome;
  progress: WaitProgress;
  /** Jobs that ended other than completed (lost ones included). */
  failed: JobVersion[];
  /** Jobs qdo gave up on as lost (submissions.md §Lost). */
  lost: JobVersion[];
  /** Jobs pending that can never start (DependencyNeverSatisfied): no longer waited for. */
  neverStart: JobVersion[];
  /** Jobs not ended (timeout only). */
  unfinished: JobVersion[];
}

/**
 * Exit codes (spec/exit-codes.md): all completed 0, some ended otherwise 1, timed out 5,
 * some lost 8, some can never start 9. The first that applies of timeout, lost,
 * never-starts, failed wins.
 */
export const WAIT_EXIT: Record<WaitOutcome, number> = { completed: ExitCode.ok, failed: ExitCode.negative, timeout: ExitCode.busy, lost: ExitCode.lost, 'never-starts': ExitCode.neverStarts };

/** A job wait no longer waits for: ended, or pending with a dependency that can never be satisfied. */
function settled(j: JobVersion): boolean {
  return isTerminal(j.sub!.state) || neverStarts(j.sub!);
}

export function progressOf(jobs: JobVersion[]): WaitProgress {
  let done = 0;
  let completed = 0;
  let failed = 0;
  for (const j of jobs) {
    const st = j.sub?.state;
    if (st === undefined || !isTerminal(st)) continue;
    done++;
    if (st === 'completed') completed++;
    else if (FAILED_STATES.has(st)) failed++;
  }
  return { total: jobs.length, done, completed, failed };
}

export async function waitJobs(ctx: Context, jobs: JobVersion[], o: WaitOptions = {}): Promise<WaitResult> {
  const never = jobs.filter((j) => !j.sub);
  if (never.length > 0) {
    throw new ConflictError('never-submitted', `cannot wait for ${never.map((j) => `${fullName(j)}@${j.version}`).join(', ')}: never submitted through qdo (made with plumbing), so it never ends`, {
      hint: 'wait for versions made by qdo submit (qdo log JOB lists them)',
    });
  }
  const timers = o.timers ?? realTimers;
  const sleeper = new Sleeper(timers);
  const intervals = await statusIntervals(ctx, jobs.map((j) => j.sub!.scheduler), o.runner);
  let timedOut = false;
  const timeout = o.timeoutMs === undefined ? undefined : timers.set(() => ((timedOut = true), sleeper.kick()), o.timeoutMs);
  let watcher: EndRecordWatcher | null = null;
  const notes = new Set<string>();
  try {
    for (;;) {
      sleeper.take();
      const report = await refreshJobs(ctx, jobs, { runner: o.runner });
      for (const g of report.groups) {
        const note = g.problem && `${g.jobs} job(s) on ${g.scheduler} (${g.cluster}) not asked: ${g.problem}; only their end records can end them`;
        if (note && !notes.has(note)) {
          notes.add(note);
          o.onNote?.(note);
        }
      }
      o.onProgress?.(progressOf(jobs));
      if (jobs.every(settled) || timedOut) break;
      if (!watcher) {
        // Refresh once more after the watcher is ready: a record written meanwhile is not missed.
        watcher = await (o.watch ?? watchEndRecords)(jobs.filter((j) => !settled(j)).map(runDirOfJob), () => sleeper.kick());
        continue;
      }
      await sleeper.sleep(nextQueryDelay(report, intervals, ctx.now()));
    }
  } finally {
    if (timeout !== undefined) timers.clear(timeout);
    await watcher?.close();
  }
  const progress = progressOf(jobs);
  const failed = jobs.filter((j) => isTerminal(j.sub!.state) && j.sub!.state !== 'completed');
  const lost = jobs.filter((j) => j.sub!.state === 'lost');
  const neverStart = jobs.filter((j) => !isTerminal(j.sub!.state) && neverStarts(j.sub!));
  const unfinished = jobs.filter((j) => !settled(j));
  const outcome: WaitOutcome = unfinished.length > 0 ? 'timeout' : lost.length > 0 ? 'lost' : neverStart.length > 0 ? 'never-starts' : failed.length > 0 ? 'failed' : 'completed';
  return { jobs, outcome, progress, failed, lost, neverStart, unfinished };
}

export async function wait(ctx: Context, args: string[], o: WaitOptions = {}): Promise<WaitResult> {
  const sel = await selectJobs(ctx, args, 'qdo wait');
  return waitJobs(ctx, sel.jobs, o);
}
