// Pure parsers for the Slurm commands qdo runs (spec/scheduler-slurm.md §Formats).
// Every function here is tested on outputs captured from a real Slurm 22.05
// (test/fixtures/slurm/, captured by test/fixtures/slurm/capture.sh).
import { SchedulerError } from '../../errors.js';
import type { JobState, NormalState, StateSource } from '../types.js';

/**
 * `squeue -h -t all -j <ids> -O <SQUEUE_FORMAT>`. With -O, a field given a suffix and no
 * size is printed unpadded and untruncated, so '|' separates fields. Comment is last and
 * may itself contain '|': everything after the fifth '|' up to the final one is the comment.
 * JobArrayID prints "12", "17_2" or "18_[0-9%2]"; JobID is the unique numeric id.
 * exit_code is a raw wait status (768 = exit 3, 9 = signal 9).
 */
export const SQUEUE_FORMAT = 'JobArrayID:|,JobID:|,State:|,Reason:|,exit_code:|,Comment:|';

/** `sacct -n -P -X -j <ids> -o <SACCT_FIELDS>` (-P: '|' separated, Comment last). */
export const SACCT_FIELDS = 'JobID,JobIDRaw,State,ExitCode,Reason,Comment';

/** One job (or one array element, or one block of pending array elements) as Slurm lists it. */
export interface SlurmRecord {
  /** As Slurm prints it: "12", "17_2", or "18_[0-9%2]" for still-pending array elements. */
  id: string;
  /** Unique numeric job id (squeue JobID / sacct JobIDRaw). */
  rawId: string;
  /** Array base id ("17" for "17_2"), absent for a plain job. */
  arrayBase?: string;
  /** Element ids this record stands for ("17_2"; every pending element of "18_[0-9%2]"). */
  elements: string[];
  state: NormalState;
  /** Slurm's state verbatim ("CANCELLED by 0", "TIMEOUT"). */
  raw: string;
  reason?: string;
  exitCode?: number | null;
  signal?: number | null;
  /** The job's --comment, absent when Slurm prints "(null)" or nothing. */
  comment?: string;
  source: StateSource;
}

/** Job ids qdo hands to Slurm: "12" or an array element "12_3". */
export const SLURM_ID_RE = /^\d+(_\d+)?$/;

// Slurm job state words (squeue(1) §JOB STATE CODES) → qdo states (spec/scheduler-slurm.md
// §States). PENDING is refined by its reason (held) in normaliseSlurmState.
const STATE_MAP: Record<string, NormalState> = {
  BOOT_FAIL: 'node-fail',
  CANCELLED: 'cancelled',
  COMPLETED: 'completed',
  COMPLETING: 'running',
  CONFIGURING: 'pending',
  DEADLINE: 'timeout',
  FAILED: 'failed',
  NODE_FAIL: 'node-fail',
  OUT_OF_MEMORY: 'out-of-memory',
  PENDING: 'pending',
  PREEMPTED: 'preempted',
  REQUEUED: 'pending',
  REQUEUE_FED: 'pending',
  REQUEUE_HOLD: 'held',
  RESIZING: 'running',
  RESV_DEL_HOLD: 'held',
  REVOKED: 'cancelled',
  RUNNING: 'running',
  SIGNALING: 'running',
  SPECIAL_EXIT: 'failed',
  STAGE_OUT: 'running',
  STOPPED: 'suspended',
  SUSPENDED: 'suspended',
  TIMEOUT: 'timeout',
};

const HELD_REASONS = new Set(['JobHeldUser', 'JobHeldAdmin']);
const TERMINAL: ReadonlySet<NormalState> = new Set(['completed', 'failed', 'cancelled', 'timeout', 'node-fail', 'out-of-memory', 'preempted']);

/** "CANCELLED by 0" / "PENDING" + reason → a qdo state; unknown words → 'unknown'. */
export function normaliseSlurmState(raw: string, reason?: string): NormalState {
  const word = raw.trim().split(/\s+/)[0]?.replace(/\+$/, '') ?? '';
  const state = STATE_MAP[word] ?? 'unknown';
  if (state === 'pending' && reason !== undefined && HELD_REASONS.has(reason)) return 'held';
  return state;
}

/** `sbatch --parsable` prints "123" or "123;cluster" (plus maybe warnings on stderr). */
export function parseSbatchParsable(stdout: string): { id: string; cluster?: string } {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .pop();
  const m = line === undefined ? null : /^(\d+)(?:;(\S+))?$/.exec(line);
  if (!m) {
    throw new SchedulerError('scheduler-bad-output', `sbatch --parsable: expected a job id like "123" or "123;cluster", found ${JSON.stringify(stdout.trim().slice(0, 200))}`);
  }
  return m[2] === undefined ? { id: m[1]! } : { id: m[1]!, cluster: m[2] };
}

/** Parses `squeue -h -t all -O SQUEUE_FORMAT` output. */
export function parseSqueue(stdout: string): SlurmRecord[] {
  return lines(stdout).map((line) => {
    const f = splitFields(line, 6, 'squeue', true);
    const [id, rawId, state, reason, status] = f;
    const rec = baseRecord(id!, rawId!, state!, reason!, f[5]!, 'queue', 'squeue', line);
    if (TERMINAL.has(rec.state)) Object.assign(rec, decodeWaitStatus(status!, line));
    return rec;
  });
}

/** Parses `sacct -n -P -X -o SACCT_FIELDS` output. */
export function parseSacct(stdout: string): SlurmRecord[] {
  return lines(stdout).map((line) => {
    const f = splitFields(line, 6, 'sacct', false);
    const [id, rawId, state, exit, reason] = f;
    const rec = baseRecord(id!, rawId!, state!, reason!, f[5]!, 'accounting', 'sacct', line);
    if (TERMINAL.has(rec.state)) Object.assign(rec, parseExitCodePair(exit!, line));
    return rec;
  });
}

/** squeue's exit_code is a wait status: high byte exit code, low 7 bits signal. */
export function decodeWaitStatus(text: string, line = text): { exitCode: number | null; signal: number | null } {
  if (!/^\d+$/.test(text)) throw bad('squeue', 'exit_code', 'a number', text, line);
  const n = Number(text);
  const signal = n & 0x7f;
  return signal !== 0 ? { exitCode: null, signal } : { exitCode: (n >> 8) & 0xff, signal: null };
}

/** sacct's ExitCode is "code:signal" ("3:0", "0:9"). */
export function parseExitCodePair(text: string, line = text): { exitCode: number | null; signal: number | null } {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) throw bad('sacct', 'ExitCode', '"code:signal"', text, line);
  const signal = Number(m[2]);
  return signal !== 0 ? { exitCode: null, signal } : { exitCode: Number(m[1]), signal: null };
}

/**
 * Element ids of an array id: "17_2" → ["17_2"]; "18_[0-9%2]" → 18_0 … 18_9;
 * "18_[1,3,5-7]" → 18_1, 18_3, 18_5, 18_6, 18_7. A plain id → []. A list Slurm cut short
 * (SLURM_BITSTR_LEN, trailing "...") yields the elements it does show.
 */
export function expandArrayId(id: string): string[] {
  const single = /^(\d+)_(\d+)$/.exec(id);
  if (single) return [id];
  const m = /^(\d+)_\[([^\]]*)\]?$/.exec(id);
  if (!m) return [];
  const base = m[1]!;
  const spec = m[2]!.replace(/%\d+$/, '');
  const out: string[] = [];
  for (const part of spec.split(',')) {
    const r = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part);
    if (!r) continue; // "..." from a truncated list
    const lo = Number(r[1]);
    const hi = r[2] === undefined ? lo : Number(r[2]);
    const step = r[3] === undefined ? 1 : Math.max(1, Number(r[3]));
    for (let i = lo; i <= hi; i += step) out.push(`${base}_${i}`);
  }
  return out;
}

/** squeue says this when it knows none of the ids asked for (never existed or purged). */
export function isInvalidJobId(stderr: string): boolean {
  return /Invalid job id specified/i.test(stderr);
}

/** sacct says this (exit 1) when the cluster runs without accounting storage. */
export function isAccountingDisabled(stderr: string): boolean {
  return /accounting storage is disabled/i.test(stderr);
}

/** Messages after which running the same (idempotent) command again may succeed. */
export const SLURM_TRANSIENT: readonly RegExp[] = [
  /Socket timed out/i,
  /Unable to contact slurm controller/i,
  /Connection refused/i,
  /Connection timed out/i,
  /Zero Bytes were transmitted/i,
  /backup controller in standby/i,
  /Resource temporarily unavailable/i,
  /Problem talking to the database/i,
  /Transport endpoint is not connected/i,
];

/** Messages after which sbatch certainly did not submit (so it may be retried). */
export const SLURM_SAFE_SUBMIT_RETRY: readonly RegExp[] = [/Unable to contact slurm controller/i, /backup controller in standby/i];

export function isTransientSlurmError(stderr: string): boolean {
  return SLURM_TRANSIENT.some((re) => re.test(stderr));
}

export function isSafeSubmitRetry(stderr: string): boolean {
  return SLURM_SAFE_SUBMIT_RETRY.some((re) => re.test(stderr));
}

/** A record as a JobState under a given id. */
export function recordToState(id: string, r: SlurmRecord): JobState {
  const s: JobState = { id, state: r.state, raw: r.raw, source: r.source };
  if (r.exitCode !== undefined) s.exitCode = r.exitCode;
  if (r.signal !== undefined) s.signal = r.signal;
  if (r.reason !== undefined) s.reason = r.reason;
  return s;
}

// Aggregate of an array's elements (spec/scheduler-slurm.md §Arrays): live beats finished,
// and among finished ones the first present in this order wins.
const LIVE_ORDER: NormalState[] = ['running', 'suspended', 'pending', 'held', 'unknown'];
const END_ORDER: NormalState[] = ['failed', 'out-of-memory', 'timeout', 'node-fail', 'preempted', 'cancelled', 'completed'];

/** One state for a whole array from its elements' states. */
export function aggregateArray(id: string, elements: JobState[]): JobState {
  const present = new Set(elements.map((e) => e.state));
  const state = [...LIVE_ORDER, ...END_ORDER].find((s) => present.has(s)) ?? 'unknown';
  const raw = [...new Set(elements.map((e) => e.raw))].join(',');
  const source = elements.some((e) => e.source === 'queue') ? 'queue' : (elements[0]?.source ?? 'none');
  const out: JobState = { id, state, raw, source };
  if (TERMINAL.has(state)) {
    const same = elements.filter((e) => e.state === state);
    const codes = same.map((e) => e.exitCode).filter((c): c is number => typeof c === 'number');
    if (codes.length > 0) out.exitCode = Math.max(...codes);
  }
  return out;
}

function baseRecord(
  id: string,
  rawId: string,
  state: string,
  reason: string,
  comment: string,
  source: StateSource,
  tool: string,
  line: string,
): SlurmRecord {
  if (!/^\d+(_(\d+|\[.*))?$/.test(id)) throw bad(tool, 'job id', 'e.g. "12", "12_3" or "12_[4-9]"', id, line);
  if (!/^\d+$/.test(rawId)) throw bad(tool, 'raw job id', 'a number', rawId, line);
  if (state === '') throw bad(tool, 'state', 'a state word', state, line);
  const rec: SlurmRecord = { id, rawId, elements: expandArrayId(id), state: normaliseSlurmState(state, reason), raw: state, source };
  const under = id.indexOf('_');
  if (under > 0) rec.arrayBase = id.slice(0, under);
  if (reason !== '' && reason !== 'None' && reason !== '(null)') rec.reason = reason;
  if (comment !== '' && comment !== '(null)') rec.comment = comment;
  return rec;
}

function lines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

/**
 * Splits into n fields where the last one takes the rest (a comment may contain '|').
 * squeue -O ends every field with the '|' suffix, so its one trailing '|' is dropped;
 * sacct -P only puts '|' between fields.
 */
function splitFields(line: string, n: number, tool: string, trailing: boolean): string[] {
  const body = trailing && line.endsWith('|') ? line.slice(0, -1) : line;
  const parts = body.split('|');
  if (parts.length < n) throw bad(tool, 'line', `${n} '|'-separated fields`, `${parts.length}`, line);
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join('|')];
}

function bad(tool: string, field: string, expected: string, found: string, line: string): SchedulerError {
  return new SchedulerError('scheduler-bad-output', `${tool}: ${field}: expected ${expected}, found ${JSON.stringify(found)} in line ${JSON.stringify(line)}`);
}
