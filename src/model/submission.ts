// Submission records, schema qdo.submission/v1 (spec/submissions.md): the mutable half of a
// job version. The manifest says what the job is and never changes; the submission record
// says where it went (scheduler, cluster, scheduler id) and what qdo last learned of it.
import { RepositoryError } from '../errors.js';
import { archivedFieldProblems } from './archive.js';
import { canonicalBytes } from './canonical-json.js';
import { isValidLeafName, isValidProjectName } from './names.js';
import { isObjectId } from './object-id.js';
import { isProcessStart } from '../util/proc.js';
import { show } from './resources.js';
import { ALL_STATES, STATE_SOURCES, type JobStateName, type StateSource } from './states.js';
import { sweepFieldProblems } from './sweep.js';
import { ISO_TIME_RE } from './time.js';

export const SUBMISSION_SCHEMA = 'qdo.submission/v1';

export interface Submission {
  schema: typeof SUBMISSION_SCHEMA;
  /** The manifest id of the job version. */
  id: string;
  project: string;
  name: string;
  version: number;
  scheduler: string;
  /** Which scheduler instance: Slurm ClusterName, PBS server, or the host for local. */
  cluster: string;
  /** Host qdo submitted from. */
  host: string;
  /** Process that recorded the intent (to tell a dead submitter from a slow one). */
  pid: number;
  /** That process's start (`<boot id>/<pid namespace>/<start ticks>`, util/proc.ts); absent in older records. */
  pid_start?: string;
  /** When the intent was recorded. */
  intent: string;
  /** When the scheduler accepted it; null before. */
  submitted: string | null;
  /** The scheduler's job id (array element ids look like "42_3"); null before. */
  sched_id: string | null;
  /** Scheduler ids this job waits on (afterok). */
  after: string[];
  state: JobStateName;
  /** Where the state was learned: a scheduler source, or "qdo" for qdo's own states. */
  state_source: StateSource | 'qdo';
  /** When the state was learned. */
  state_time: string;
  exit_code: number | null;
  /** The scheduler's or qdo's explanation, if any. */
  reason: string | null;
  /** Which run of the job (the wrapper's attempt number) the state is about; absent: none seen to start. */
  attempt?: number;
  /** The signal that ended the job, by name ("KILL"), when a scheduler or the end record says. */
  signal?: string | null;
  /** Since when the scheduler, its accounting and the job's records all said nothing (lost after lost_after). */
  unknown_since?: string | null;
  /** Identity of the run folder's qdo-rerun.json taken into account ("<ino>:<mtime ms>"). */
  rerun_mark?: string | null;
  /** Later fields (spec/submissions.md §Extension) are kept. */
  [extra: string]: unknown;
}

const REQUIRED = ['schema', 'id', 'project', 'name', 'version', 'scheduler', 'cluster', 'host', 'pid', 'intent', 'submitted', 'sched_id', 'after', 'state', 'state_source', 'state_time', 'exit_code', 'reason'] as const;
const ONE_LINE = (v: unknown) => typeof v === 'string' && v !== '' && !/[\n\r]/.test(v);

export function submissionProblems(v: unknown): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`expected a JSON object, found ${show(v)}`];
  const o = v as Record<string, unknown>;
  const out: string[] = [];
  for (const k of REQUIRED) if (!(k in o)) out.push(`${k}: missing`);
  if ('schema' in o && o.schema !== SUBMISSION_SCHEMA) out.push(`schema: expected "${SUBMISSION_SCHEMA}", found ${show(o.schema)}`);
  if ('id' in o && (typeof o.id !== 'string' || !isObjectId(o.id))) out.push(`id: expected an object id, found ${show(o.id)}`);
  if ('project' in o && (typeof o.project !== 'string' || !isValidProjectName(o.project))) out.push(`project: expected a project name, found ${show(o.project)}`);
  if ('name' in o && (typeof o.name !== 'string' || !isValidLeafName(o.name))) out.push(`name: expected a job name, found ${show(o.name)}`);
  if ('version' in o && (typeof o.version !== 'number' || !Number.isSafeInteger(o.version) || o.version < 1)) out.push(`version: expected an integer >= 1, found ${show(o.version)}`);
  for (const k of ['scheduler', 'cluster', 'host'] as const) if (k in o && !ONE_LINE(o[k])) out.push(`${k}: expected a non-empty one-line string, found ${show(o[k])}`);
  if ('pid' in o && (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid) || o.pid < 0)) out.push(`pid: expected an integer >= 0, found ${show(o.pid)}`);
  if ('pid_start' in o && !isProcessStart(o.pid_start)) out.push(`pid_start: expected "<boot id>/<pid namespace>/<start ticks>", found ${show(o.pid_start)}`);
  for (const k of ['intent', 'state_time'] as const) if (k in o && (typeof o[k] !== 'string' || !ISO_TIME_RE.test(o[k] as string))) out.push(`${k}: expected a UTC time like "2026-11-21T09:30:00.000Z", found ${show(o[k])}`);
  if ('submitted' in o && o.submitted !== null && (typeof o.submitted !== 'string' || !ISO_TIME_RE.test(o.submitted))) out.push(`submitted: expected null or a UTC time, found ${show(o.submitted)}`);
  if ('sched_id' in o && o.sched_id !== null && !ONE_LINE(o.sched_id)) out.push(`sched_id: expected null or a scheduler job id, found ${show(o.sched_id)}`);
  if ('after' in o && (!Array.isArray(o.after) || !o.after.every(ONE_LINE))) out.push(`after: expected a list of scheduler job ids, found ${show(o.after)}`);
  if ('state' in o && (typeof o.state !== 'string' || !ALL_STATES.includes(o.state))) out.push(`state: expected one of ${ALL_STATES.join(', ')}, found ${show(o.state)}`);
  if ('state_source' in o && !(o.state_source === 'qdo' || (STATE_SOURCES as readonly unknown[]).includes(o.state_source))) out.push(`state_source: expected qdo or one of ${STATE_SOURCES.join(', ')}, found ${show(o.state_source)}`);
  if ('exit_code' in o && o.exit_code !== null && (typeof o.exit_code !== 'number' || !Number.isSafeInteger(o.exit_code))) out.push(`exit_code: expected null or an integer, found ${show(o.exit_code)}`);
  if ('reason' in o && o.reason !== null && typeof o.reason !== 'string') out.push(`reason: expected null or a string, found ${show(o.reason)}`);
  if (o.state !== 'submitting' && o.state !== 'not-submitted' && 'sched_id' in o && o.sched_id === null) out.push(`sched_id: a job in state ${show(o.state)} needs a scheduler id`);
  out.push(...truthFieldProblems(o));
  out.push(...sweepFieldProblems(o)); // optional fields of sweeps (spec/sweeps.md §Records)
  out.push(...archivedFieldProblems(o)); // spec/submissions.md §Archived
  return out;
}

/**
 * Optional fields of what a refresh learned (spec/submissions.md §Schema): `attempt` (the
 * run of the job the state is about), `signal` (the signal that ended it, a name such as
 * "KILL"), `unknown_since` (since when no one knows the job: lost after lost_after),
 * `rerun_mark` (the run folder's qdo-rerun.json last taken into account).
 */
function truthFieldProblems(o: Record<string, unknown>): string[] {
  const out: string[] = [];
  if ('attempt' in o && (typeof o.attempt !== 'number' || !Number.isSafeInteger(o.attempt) || o.attempt < 1)) out.push(`attempt: expected an integer >= 1, found ${show(o.attempt)}`);
  if ('signal' in o && o.signal !== null && !(typeof o.signal === 'string' && /^[A-Z0-9]+$/.test(o.signal))) out.push(`signal: expected null or a signal name like "KILL", found ${show(o.signal)}`);
  if ('unknown_since' in o && o.unknown_since !== null && (typeof o.unknown_since !== 'string' || !ISO_TIME_RE.test(o.unknown_since))) out.push(`unknown_since: expected null or a UTC time, found ${show(o.unknown_since)}`);
  if ('rerun_mark' in o && o.rerun_mark !== null && !ONE_LINE(o.rerun_mark)) out.push(`rerun_mark: expected null or a one-line string, found ${show(o.rerun_mark)}`);
  return out;
}

export function parseSubmission(bytes: Buffer, source: string): Submission {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new RepositoryError('bad-submission', `${source}: not valid JSON (${(e as Error).message})`, { hint: 'a hand edit or merge may have broken it; `qdo fsck` reports every such file' });
  }
  const problems = submissionProblems(v);
  if (problems.length > 0) {
    throw new RepositoryError('bad-submission', `${source}: field ${problems[0]}`, { data: { problems } });
  }
  return v as Submission;
}

/** The file's bytes: canonical JSON (sorted keys, one line, final LF) so diffs and merges stay small. */
export function encodeSubmission(s: Submission): Buffer {
  return canonicalBytes(s);
}
