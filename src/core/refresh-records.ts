// What a job's own files say (spec/scheduler-common.md §Records, §Attempts;
// spec/submissions.md §Refresh steps 1–2): its start and end records, which attempt they
// belong to, and the run folder's rerun marker. Reading only; refresh.ts decides.
import { existsSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Submission } from '../model/submission.js';
import { END_RECORD, RERUN_MARKER, START_RECORD } from '../scheduler/wrapper.js';
import { readSmallFileSync, statOrNull } from '../util/fs.js';
import { errnoCode } from '../errors.js';

export interface EndRecord {
  exit_code: number | null;
  signal: string | null;
  time?: string;
  /** The attempt it ends (absent in records written before attempts: 1). */
  attempt: number;
}

export interface StartRecord {
  time: string | null;
  host: string | null;
  attempt: number;
}

// Synchronous, and an absent file is asked about first: a refresh of 10^4 jobs that have not
// started looks for 2 x 10^4 records that are not there, and each failed open through
// fs/promises cost a thrown error and a thread hop (~0.1 ms: most of the time of status
// over 10^4 live local jobs, bench/README.md §Scale).
async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    if (!existsSync(path)) return null;
    const v = JSON.parse(readSmallFileSync(path).toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    // Absent, or being written (a record is one printf, so an instant may show it empty or
    // cut): no record yet; the next look finds it.
    return null;
  }
}

function attemptOf(v: Record<string, unknown>): number {
  return typeof v.attempt === 'number' && Number.isSafeInteger(v.attempt) && v.attempt >= 1 ? v.attempt : 1;
}

export async function readEndRecord(taskDir: string, name = END_RECORD): Promise<EndRecord | null> {
  const v = await readJson(join(taskDir, name));
  if (!v) return null;
  return {
    exit_code: typeof v.exit_code === 'number' ? v.exit_code : null,
    signal: typeof v.signal === 'string' ? v.signal : null,
    time: typeof v.time === 'string' ? v.time : undefined,
    attempt: attemptOf(v),
  };
}

export async function readStartRecord(taskDir: string, name = START_RECORD): Promise<StartRecord | null> {
  const v = await readJson(join(taskDir, name));
  if (!v) return null;
  return { time: typeof v.time === 'string' ? v.time : null, host: typeof v.host === 'string' ? v.host : null, attempt: attemptOf(v) };
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

/**
 * The first attempt whose records are news to this record (spec/submissions.md §Attempts):
 * while it waits to start (pending, held) the one after the attempt it last saw start;
 * otherwise the attempt it is about (a running job's end record ends it).
 */
export function attemptWanted(s: Pick<Submission, 'state' | 'attempt'>): number {
  const seen = typeof s.attempt === 'number' ? s.attempt : 0;
  return s.state === 'pending' || s.state === 'held' ? seen + 1 : Math.max(seen, 1);
}

/** The rerun marker's identity ("<ino>:<mtime ms>"), or null without one: one stat. */
export async function rerunMark(runDir: string): Promise<string | null> {
  let st: Stats | undefined;
  try {
    st = statSync(join(runDir, RERUN_MARKER), { throwIfNoEntry: false });
  } catch (e) {
    if (errnoCode(e) !== 'ENOTDIR') throw e;
    st = undefined; // no run folder, so no marker
  }
  return st ? `${st.ino}:${Math.round(st.mtimeMs)}` : null;
}

/** One attempt of a task folder, for `qdo show` and `qdo logs --attempt` (§Attempts). */
export interface AttemptFiles {
  attempt: number;
  start: StartRecord | null;
  end: EndRecord | null;
  /** File names of its records and logs in the task folder. */
  files: { start: string; end: string; stdout: string; stderr: string };
  /** True for the latest attempt (plain file names). */
  latest: boolean;
}

/** The attempts a task folder holds, oldest first; the latest uses the plain names. */
export async function listAttempts(taskDir: string): Promise<AttemptFiles[]> {
  const out: AttemptFiles[] = [];
  for (let n = 1; ; n++) {
    const start = await readStartRecord(taskDir, `qdo-start.${n}.json`);
    const files = { start: `qdo-start.${n}.json`, end: `qdo-end.${n}.json`, stdout: `stdout.${n}`, stderr: `stderr.${n}` };
    if (!start && !(await statOrNull(join(taskDir, files.start)))) break;
    out.push({ attempt: n, start, end: await readEndRecord(taskDir, files.end), files, latest: false });
  }
  const start = await readStartRecord(taskDir);
  const end = await readEndRecord(taskDir);
  if (start || end || out.length > 0) {
    out.push({ attempt: start?.attempt ?? out.length + 1, start, end, files: { start: START_RECORD, end: END_RECORD, stdout: 'stdout', stderr: 'stderr' }, latest: true });
  }
  return out;
}
