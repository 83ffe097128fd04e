// What the PBS Pro and TORQUE backends share (spec/scheduler-pbs.md §Backends): running a
// command through the injected runner and turning its failure into the error users see,
// submit with ambiguous-failure detection, tolerant qdel, qhold/qrls, and the resolution
// of queried ids (record → state, forgotten id → the job's own exit record).
import { userInfo } from 'node:os';
import { SchedulerError, isQdoError } from '../../errors.js';
import { runCommand, type RunOptions, type RunResult, type Runner } from '../runner.js';
import type { SourceMode } from '../../model/config.js';
import type { JobState, SubmitOptions } from '../types.js';
import { classifyPbsStderr, errorFromLines, PBS_TRANSIENT, pbsCommandError, type PbsErrorLine } from './parse-errors.js';
import { isPbsJobId, parseQsubOutput } from './parse-qsub.js';
import { idBatches } from '../id-batches.js';
import { jobIndex, jobSequence, sameJobId, type PbsJob } from './pbs-job.js';

export interface PbsBackendOptions {
  /** Runs scheduler commands; tests pass a fake. Default runCommand. */
  runner?: Runner;
  /** The job's own exit record, for ids the server no longer knows (supplied by core). */
  readExitRecord?: (id: string) => Promise<JobState | null>;
  /** Per-command timeout (default: the runner's). */
  timeoutMs?: number;
  /** Whose jobs findByTag searches (PBS Pro `qselect -u`). Default: the current user. */
  user?: string;
  /** Most elements of a packed array (PBS Pro max_array_size; TORQUE max_job_array_size). */
  maxArraySize?: number;
  /**
   * The server's history of finished jobs (spec/scheduler-pbs.md §History): 'auto' (default)
   * uses it where the server keeps it; 'on' makes a job the server does not know an error
   * (the site keeps history, so qdo should find it there); 'off' never asks for it (PBS Pro
   * without -x; TORQUE's C records ignored): the jobs' exit records answer.
   */
  history?: SourceMode;
  /** TORQUE under Slurm's wrapper: passed to its internal Slurm backend (element ids). */
  isArrayJob?: (id: string) => boolean;
  slurmAccounting?: SourceMode;
  slurmJobcomp?: SourceMode;
}

/**
 * Element `index` of a packed array: "123[].server" → "123[4].server" (the subjob id both
 * PBS Pro and TORQUE print). Undefined when baseId is not an array id.
 */
export function subjobId(baseId: string, index: number): string | undefined {
  if (!Number.isInteger(index) || index < 0) return undefined;
  const m = /^(\d+)\[\](.*)$/.exec(baseId);
  return m ? `${m[1]}[${index}]${m[2]}` : undefined;
}

/** Failures that prove qsub submitted nothing, so it may be retried. */
export const SAFE_SUBMIT_RETRY: readonly RegExp[] = [/cannot connect to (the )?(default )?server/i, /Connection refused/, /No route to host/, /Unknown Host/i];
/** Failures after which a job may or may not exist (the reply was lost). */
const AMBIGUOUS_SUBMIT = /Premature end of message|End of File|timed out|Communication failure|Connection reset/i;

export function stderrOf(e: { data: Record<string, unknown> }): string {
  return typeof e.data.stderr === 'string' ? e.data.stderr : '';
}
function stdoutOf(e: { data: Record<string, unknown> }): string {
  return typeof e.data.stdout === 'string' ? e.data.stdout : '';
}
function exitOf(e: { data: Record<string, unknown> }): number | null {
  return typeof e.data.exitCode === 'number' ? e.data.exitCode : null;
}

export class PbsCommands {
  readonly run: Runner;
  readonly readExitRecord: ((id: string) => Promise<JobState | null>) | undefined;
  readonly timeoutMs: number | undefined;
  readonly user: string | undefined;
  readonly history: SourceMode;

  constructor(
    readonly scheduler: 'pbspro' | 'torque',
    opts: PbsBackendOptions,
  ) {
    this.run = opts.runner ?? runCommand;
    this.readExitRecord = opts.readExitRecord;
    this.timeoutMs = opts.timeoutMs;
    this.user = opts.user;
    this.history = opts.history ?? 'auto';
  }

  get label(): string {
    return this.scheduler === 'pbspro' ? 'PBS Pro' : 'TORQUE';
  }

  userName(): string {
    return this.user ?? userInfo().username;
  }

  opts(o: RunOptions): RunOptions {
    return this.timeoutMs === undefined ? o : { ...o, timeoutMs: this.timeoutMs };
  }

  /**
   * Runs argv; exit codes in `ok` are answers (partial answers included). Any other
   * failure becomes scheduler-unavailable (after the runner's retries) or
   * scheduler-rejected with the server's own words.
   */
  async exec(argv: string[], ok: number[] = [0], extra: RunOptions = {}): Promise<RunResult> {
    const r = await this.attempt(argv, ok, extra);
    if ('failed' in r) throw pbsCommandError(argv, r, this.scheduler);
    return r;
  }

  /** As exec, but a failure (after retries) is returned for the caller to read per id. */
  async attempt(argv: string[], ok: number[] = [0], extra: RunOptions = {}): Promise<RunResult | Failure> {
    try {
      return await this.run(argv, this.opts({ transient: [...PBS_TRANSIENT], okExitCodes: ok, ...extra }));
    } catch (e) {
      if (isQdoError(e) && e.code === 'scheduler-command-failed') return { failed: true, stdout: stdoutOf(e), stderr: stderrOf(e), exitCode: exitOf(e) };
      throw e;
    }
  }

  /**
   * qsub is not idempotent: retried only after failures that prove nothing was submitted;
   * a lost reply becomes scheduler-submit-ambiguous, after which core looks the job up
   * with findByTag (spec/scheduler-pbs.md §Tag).
   */
  async submit(scriptPath: string, opts: SubmitOptions): Promise<string> {
    const argv = ['qsub', ...(opts.hold ? ['-h'] : []), scriptPath];
    const ambiguous = (why: string, cause: unknown): SchedulerError =>
      new SchedulerError('scheduler-submit-ambiguous', `qsub may or may not have submitted ${scriptPath}: ${why}`, {
        hint: 'the job may exist; qdo looks for it by its tag before submitting again',
        cause,
        data: { command: argv, scheduler: this.scheduler },
      });
    let r: RunResult;
    try {
      r = await this.run(argv, this.opts({ cwd: opts.cwd, transient: [...SAFE_SUBMIT_RETRY] }));
    } catch (e) {
      if (isQdoError(e) && e.code === 'scheduler-timeout') throw ambiguous(e.message, e);
      if (isQdoError(e) && e.code === 'scheduler-command-failed') {
        const err = stderrOf(e);
        if (AMBIGUOUS_SUBMIT.test(err) && !SAFE_SUBMIT_RETRY.some((re) => re.test(err))) throw ambiguous(err.trim(), e);
        // Slurm's wrapper prints sbatch's complaint on stdout.
        throw pbsCommandError(argv, { stdout: stdoutOf(e), stderr: err, exitCode: exitOf(e) }, this.scheduler);
      }
      throw e;
    }
    try {
      return parseQsubOutput(r.stdout, this.scheduler);
    } catch (e) {
      throw ambiguous(`it exited 0 but printed no job id (${JSON.stringify(r.stdout.trim().slice(0, 100))})`, e);
    }
  }

  /**
   * qdel: ids the server reports as finished or unknown have nothing left to stop, so they
   * are not an error (as scancel). Slurm's wrapper says nothing at all in that case
   * (exit 1, empty output: slurm-torque-wrapper/qdel_unknown_job.stdout).
   */
  async cancel(ids: string[]): Promise<void> {
    const list = checkIds(ids, 'cancel', this.label);
    // In batches under the OS limit on a command line (§Many ids).
    for (const batch of idBatches(list)) {
      const argv = ['qdel', ...batch];
      const r = await this.attempt(argv);
      if (!('failed' in r)) continue;
      const lines = perIdLines(r);
      const bad = lines.filter((l) => l.kind !== 'unknown-job' && l.kind !== 'job-finished');
      if (bad.length === 0) continue;
      throw errorFromLines(argv, r, bad, this.scheduler);
    }
  }

  /** qhold / qrls: every failed operand is an error (qhold.1B:188-202). */
  async holdOrRelease(cmd: 'qhold' | 'qrls', ids: string[]): Promise<void> {
    const list = checkIds(ids, cmd === 'qhold' ? 'hold' : 'release', this.label);
    for (const batch of idBatches(list)) {
      const argv = [cmd, ...batch];
      const r = await this.attempt(argv);
      if ('failed' in r) throw errorFromLines(argv, r, perIdLines(r), this.scheduler);
    }
  }

  /**
   * `qstat <args> id…` once per batch of ids under the OS limit (§Many ids), the records and
   * stderr lines of all batches joined, as one call's would be.
   */
  async qstatBatches<J>(args: string[], ids: string[], ok: number[], parse: (stdout: string) => J[]): Promise<{ jobs: J[]; lines: PbsErrorLine[] }> {
    const jobs: J[] = [];
    const lines: PbsErrorLine[] = [];
    for (const batch of idBatches(ids)) {
      const r = await this.exec([...args, ...batch], ok);
      for (const j of parse(r.stdout)) jobs.push(j);
      for (const l of classifyPbsStderr(r.stderr)) lines.push(l);
    }
    return { jobs, lines };
  }

  /**
   * States for the requested ids from the records one qstat printed, and stderr's lines.
   * An id without a record — the server said "Unknown Job Id" (history off or purged,
   * TORQUE's keep_completed passed) or said nothing (Slurm's wrapper) — gets the job's
   * own exit record, else 'unknown'. A finished record without an outcome (no exit status)
   * also asks the exit record.
   */
  async resolve(ids: string[], jobs: PbsJob[], lines: PbsErrorLine[], toState: (j: PbsJob) => JobState): Promise<Map<string, JobState>> {
    const out = new Map<string, JobState>();
    // Indexes, so matching is linear in ids + records + lines (§Many ids). A stderr line
    // names the id it is about: it speaks of `id` if findJob(line.id, [{ id }]) would match,
    // which is the same relation as the line's record matching `id`, seen from the other side.
    const findRecord = jobIndex(jobs);
    const saidLines = lines.filter((l): l is PbsErrorLine & { id: string } => l.id !== undefined);
    const saidIndex = saidAbout(saidLines);
    await Promise.all(
      ids.map(async (id) => {
        const found = findRecord(id);
        // History off: a finished record is not used; the job's own exit record answers.
        const job = found !== undefined && this.history === 'off' && toState(found).source === 'history' ? undefined : found;
        if (job !== undefined) {
          const s = { ...toState(job), id };
          if (s.state === 'unknown' && s.source === 'history') {
            const rec = await this.exitRecord(id);
            if (rec !== null) {
              out.set(id, rec);
              return;
            }
          }
          out.set(id, s);
          return;
        }
        const said = saidIndex(id);
        if (this.history === 'on' && found === undefined) {
          throw new SchedulerError('pbs-history-missing', `the ${this.label} server does not know job ${id}${said ? ` (${said.message})` : ''}, but its history is configured as on`, {
            hint: 'set pbs.history to auto (or off) in .qdo/config.json if this server keeps no history of finished jobs',
            data: { id },
          });
        }
        const rec = await this.exitRecord(id);
        out.set(
          id,
          rec ?? {
            id,
            state: 'unknown',
            raw: '',
            source: 'none',
            reason: said
              ? `${said.message} (the server keeps no record of it: history is off or has been purged)`
              : `the ${this.label} server did not list it`,
          },
        );
      }),
    );
    return new Map(ids.map((id) => [id, out.get(id)!]));
  }

  async exitRecord(id: string): Promise<JobState | null> {
    if (this.readExitRecord === undefined) return null;
    const rec = await this.readExitRecord(id);
    return rec === null ? null : { ...rec, id, source: rec.source || 'exit-record' };
  }
}

/** The first line (in order) about each id, found through the lines' sequence numbers. */
function saidAbout(lines: (PbsErrorLine & { id: string })[]): (id: string) => PbsErrorLine | undefined {
  const bySeq = new Map<string, (PbsErrorLine & { id: string })[]>();
  for (const l of lines) {
    const seq = jobSequence(l.id);
    const list = bySeq.get(seq);
    if (list) list.push(l);
    else bySeq.set(seq, [l]);
  }
  return (id) => bySeq.get(jobSequence(id))?.find((l) => l.id === id || sameJobId(l.id, id));
}

export interface Failure {
  failed: true;
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

/** Lines from both streams (Slurm's wrapper prints its errors on stdout), warnings dropped. */
function perIdLines(r: { stdout: string; stderr: string }): PbsErrorLine[] {
  return [...classifyPbsStderr(r.stderr), ...classifyPbsStderr(r.stdout)].filter((l) => l.kind !== 'warning');
}

export function checkIds(ids: string[], verb: string, label: string): string[] {
  const list = [...new Set(ids)];
  for (const id of list) {
    if (!isPbsJobId(id)) throw new SchedulerError('scheduler-bad-id', `${verb}: expected ${label} job ids like "123.server" or "123[].server", found ${JSON.stringify(id)}`);
  }
  return list;
}

/** Ids that are not PBS job ids get 'unknown' without asking the server. */
export function splitIds(ids: string[], label: string): { valid: string[]; invalid: Map<string, JobState> } {
  const wanted = [...new Set(ids)];
  const invalid = new Map<string, JobState>();
  for (const id of wanted) if (!isPbsJobId(id)) invalid.set(id, { id, state: 'unknown', raw: '', source: 'none', reason: `not a ${label} job id` });
  return { valid: wanted.filter((id) => isPbsJobId(id)), invalid };
}
