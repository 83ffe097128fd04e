// `qdo logs`: a job's stdout or stderr, printed or followed (spec/scheduler-common.md §Logs).
// The job wrapper writes both into the task folder while the job runs, so this works the
// same on every backend and needs no scheduler command. Following reads what the file holds
// now, then what is appended, until the job is terminal and the file is drained:
//  - a change is noticed by a watcher (chokidar, loaded only when following) or, because
//    inotify does not see writes made on other nodes of a shared file system, by polling
//    every `pollMs` whatever the watcher says;
//  - the end is the task's final end record (exit_code set), or failing that the state a
//    refresh learns (refreshJobs, which asks the scheduler at most once per status interval);
//  - a requeued job starts a new log (the wrapper keeps the earlier attempt's as stdout.N and
//    starts a new file): a changed start record, inode or a shorter file restarts reading
//    from the beginning. `attempt` reads one attempt's log (the earlier ones never change).
// Waiting is injected (`watch`), so tests run the loop without real time.
import { open } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Context } from '../context.js';
import { NotFoundError, UsageError } from '../errors.js';
import { isTerminal } from '../model/states.js';
import { START_RECORD, STDERR_LOG, STDOUT_LOG } from '../scheduler/wrapper.js';
import type { Runner } from '../scheduler/runner.js';
import type { JobVersion } from './jobs.js';
import { readEndRecord, refreshJobs } from './refresh.js';
import { readStartRecord } from './refresh-records.js';
import { arrayIndices, arrayOf, existingRunDir, selectOne, taskDirs, versionName, type TaskDir } from './run-folder.js';
import { statOrNull } from '../util/fs.js';

export type LogStream = 'stdout' | 'stderr';

/** Wakes the follow loop: on a change in the watched folders, after `ms`, or on abort. */
export interface Waiter {
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
export type WatchFactory = (dirs: string[]) => Promise<Waiter>;

export type LogEvent =
  /** Nothing to print: no task has written this stream yet (or, following, not yet). */
  | { kind: 'no-output'; name: string; state: string; following: boolean }
  /** The log was started again (requeue): what follows is the new run's output. */
  | { kind: 'restarted'; name: string; index: string | null }
  /** Following stopped because the job ended (state as last known: maybe not terminal yet). */
  | { kind: 'ended'; name: string; state: string; exitCode: number | null };

export interface LogsOptions {
  stream: LogStream;
  /** Array index (--task); default every task that has output. */
  task?: string;
  /** One attempt (--attempt, from 1; spec/submissions.md §Attempts); default the latest. */
  attempt?: number;
  follow?: boolean;
  /** Bytes of one task's log, in order. `index` is null for a plain job. */
  data(index: string | null, chunk: Uint8Array): void;
  event(e: LogEvent): void;
  /** Ends following cleanly (Ctrl-C). */
  signal?: AbortSignal;
  /** Default: chokidar on the run folder (and task folders), plus polling. */
  watch?: WatchFactory;
  /** Longest wait between two looks at the files. Default 1000 ms. */
  pollMs?: number;
  /** Refresh the job's state (and so maybe ask the scheduler) every this many polls. Default 5. */
  refreshEvery?: number;
  runner?: Runner;
}

export interface LogsResult {
  job: JobVersion;
  /** Tasks whose log had any bytes. */
  printed: number;
}

const CHUNK = 1 << 20;

interface Tracked {
  task: TaskDir;
  file: string;
  offset: number;
  ino: number | null;
  /** Inode of the start record when reading began: a new one means a new run. */
  startIno: number | null;
  hadBytes: boolean;
}


/** Emits what `t.file` holds beyond what was already emitted. */
async function pump(t: Tracked, name: string, o: LogsOptions): Promise<void> {
  const start = await statOrNull(join(t.task.dir, START_RECORD));
  const st = await statOrNull(t.file);
  let restarted = false;
  if (start && t.startIno !== null && start.ino !== t.startIno) restarted = true;
  if (st && t.ino !== null && (st.ino !== t.ino || st.size < t.offset)) restarted = true;
  if (start) t.startIno = start.ino;
  if (restarted && t.offset > 0) o.event({ kind: 'restarted', name, index: t.task.index });
  if (restarted) t.offset = 0;
  if (!st) return;
  t.ino = st.ino;
  if (st.size <= t.offset) return;
  const fh = await open(t.file, 'r');
  try {
    while (t.offset < st.size) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, st.size - t.offset));
      const { bytesRead } = await fh.read(buf, 0, buf.length, t.offset);
      if (bytesRead === 0) break; // truncated meanwhile: the next look restarts
      t.offset += bytesRead;
      t.hadBytes = true;
      o.data(t.task.index, buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}

/** True if every task the job has (or the named one) wrote its final end record. */
async function allTasksEnded(j: JobVersion, runDir: string, tracked: Tracked[], task: string | undefined): Promise<boolean> {
  let dirs: string[];
  const array = await arrayOf(j);
  if (array === undefined || task !== undefined) dirs = tracked.map((t) => t.task.dir);
  else {
    const all = await arrayIndices(array);
    if (!all) return false; // cannot tell which tasks exist: the scheduler decides
    dirs = all.map((i) => join(runDir, String(i)));
  }
  if (dirs.length === 0) return false;
  for (const d of dirs) {
    const r = await readEndRecord(d);
    if (!r || r.exit_code === null) return false;
  }
  return true;
}

/**
 * The file of attempt `n` of a task's log: the plain name for the latest attempt, `stdout.N`
 * for an earlier one; null if the task has no such attempt (yet).
 */
async function attemptLog(dir: string, file: string, n: number): Promise<{ path: string; latest: boolean } | null> {
  const latest = (await readStartRecord(dir))?.attempt ?? (await statOrNull(join(dir, file)) ? 1 : 0);
  if (n === latest) return { path: join(dir, file), latest: true };
  if (n < latest && (await statOrNull(join(dir, `${file}.${n}`)))) return { path: join(dir, `${file}.${n}`), latest: false };
  return null;
}

export async function logs(ctx: Context, rev: string, o: LogsOptions): Promise<LogsResult> {
  if (o.attempt !== undefined && (!Number.isSafeInteger(o.attempt) || o.attempt < 1)) {
    throw new UsageError(`--attempt: expected a number from 1, found ${JSON.stringify(o.attempt)}`, { code: 'bad-attempt' });
  }
  const j = await selectOne(ctx, rev, 'logs');
  const runDir = await existingRunDir(j);
  const name = versionName(j);
  const state = (): string => (j.sub ? j.sub.state : 'unsubmitted');
  const file = o.stream === 'stdout' ? STDOUT_LOG : STDERR_LOG;
  const tracked = new Map<string, Tracked>();
  let anyAttempt = false;
  let oldOnly = o.attempt !== undefined;
  const track = async (): Promise<Tracked[]> => {
    for (const t of await taskDirs(j, runDir, o.task)) {
      const key = t.index ?? '';
      if (tracked.has(key)) continue;
      let path = join(t.dir, file);
      if (o.attempt !== undefined) {
        const a = await attemptLog(t.dir, file, o.attempt);
        if (!a) continue;
        anyAttempt = true;
        if (a.latest) oldOnly = false;
        path = a.path;
      }
      tracked.set(key, { task: t, file: path, offset: 0, ino: null, startIno: null, hadBytes: false });
    }
    return [...tracked.values()];
  };
  const pumpAll = async (): Promise<void> => {
    for (const t of await track()) await pump(t, name, o);
  };
  const printed = () => [...tracked.values()].filter((t) => t.hadBytes).length;

  if (o.attempt !== undefined) {
    await track();
    if (!anyAttempt) {
      throw new NotFoundError('no-such-attempt', `${name}${o.task !== undefined ? ` task ${o.task}` : ''} has no attempt ${o.attempt} (yet)`, {
        hint: 'qdo show lists the attempts of a job',
      });
    }
  }
  // An earlier attempt's log never changes: there is nothing to follow.
  if (!o.follow || oldOnly) {
    await pumpAll();
    if (printed() === 0) {
      // Exit records only: showing a log never asks the scheduler.
      await refreshJobs(ctx, [j], { offline: true });
      o.event({ kind: 'no-output', name, state: state(), following: false });
    }
    return { job: j, printed: printed() };
  }

  const watch = o.watch ?? chokidarWatcher;
  const pollMs = o.pollMs ?? 1000;
  const refreshEvery = Math.max(1, o.refreshEvery ?? 5);
  const waiter = await watch([runDir]);
  let told = false;
  try {
    for (let round = 0; ; round++) {
      if (o.signal?.aborted) break;
      await pumpAll();
      let ended = await allTasksEnded(j, runDir, [...tracked.values()], o.task);
      if (!ended && (round % refreshEvery === 0 || !j.sub)) {
        await refreshJobs(ctx, [j], { runner: o.runner });
        ended = !j.sub || isTerminal(j.sub.state);
      }
      if (ended) {
        // The state the end record gives; a signalled end needs the scheduler's word.
        if (j.sub && !isTerminal(j.sub.state)) await refreshJobs(ctx, [j], { offline: true });
        if (j.sub && !isTerminal(j.sub.state)) await refreshJobs(ctx, [j], { runner: o.runner });
        await pumpAll(); // what was written between the look and the end
        if (printed() === 0) o.event({ kind: 'no-output', name, state: state(), following: false });
        o.event({ kind: 'ended', name, state: state(), exitCode: j.sub?.exit_code ?? null });
        break;
      }
      if (!told && printed() === 0) {
        o.event({ kind: 'no-output', name, state: state(), following: true });
        told = true;
      }
      await waiter.wait(pollMs, o.signal);
    }
  } finally {
    await waiter.close();
  }
  return { job: j, printed: printed() };
}

/**
 * Whether the watcher should skip `path` under one of `roots`: it looks at the files of a
 * run folder and of its array task folders (`<index>/`), never into the job's own
 * sub-folders, which may hold many files.
 */
export function outsideTaskFolders(path: string, roots: string[]): boolean {
  for (const root of roots) {
    const rel = relative(root, path);
    if (rel.startsWith('..') || isAbsolute(rel)) continue;
    const parts = rel === '' ? [] : rel.split(sep);
    return parts.length > 2 || (parts.length === 2 && !/^\d+$/.test(parts[0]!));
  }
  return true;
}

/** The default waiter: chokidar on the given run folders and their task folders. */
export const chokidarWatcher: WatchFactory = async (dirs) => {
  const { watch } = await import('chokidar');
  const w = watch(dirs, { ignoreInitial: true, depth: 1, ignored: (p: string) => outsideTaskFolders(p, dirs) });
  // Changes before 'ready' may be missed; the caller reads the files after this returns.
  await new Promise<void>((resolve) => {
    w.once('ready', () => resolve());
    w.once('error', () => resolve());
  });
  let changed = false;
  let wake: (() => void) | null = null;
  w.on('all', () => {
    changed = true;
    wake?.();
  });
  w.on('error', () => undefined); // polling still finds changes
  return {
    wait(ms, signal) {
      if (changed || signal?.aborted) {
        changed = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          wake = null;
          changed = false;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    close: () => w.close(),
  };
};
