// The Slurm backend (spec/scheduler-slurm.md): sbatch, one squeue for all ids, at most one
// sacct for the ids squeue has forgotten, then the jobs' own exit records. Every command
// goes through the injected runner (runner.ts), which retries transient failures.
import { idBatches } from '../id-batches.js';
import { SchedulerError, UsageError, isQdoError } from '../../errors.js';
import { runCommand, type RunOptions, type Runner } from '../runner.js';
import { TERMINAL_STATES, type Backend, type CheckAnswer, type JobState, type RenderSpec, type SubmitOptions } from '../types.js';
import {
  SACCT_FIELDS,
  SLURM_ID_RE,
  SQUEUE_FORMAT,
  aggregateArray,
  isAccountingDisabled,
  isInvalidJobId,
  SLURM_SAFE_SUBMIT_RETRY,
  SLURM_TRANSIENT,
  parseSacct,
  parseSbatchParsable,
  parseSqueue,
  recordToState,
  type SlurmRecord,
} from './parse.js';
import { checkScriptSize, packedElements, SLURM_DEFAULT_MAX_SCRIPT_BYTES } from '../packing.js';
import { SLURM_DEFAULT_MAX_ELEMENTS } from './conf.js';
import { TAG_PREFIX, renderSlurm } from './render.js';

export type AccountingMode = 'auto' | 'on' | 'off';
export type JobcompMode = AccountingMode;

export interface SlurmBackendOptions {
  /** Runs scheduler commands; tests pass a fake. Default runCommand. */
  runner?: Runner;
  /**
   * sacct use (spec/scheduler-slurm.md §Accounting): 'auto' asks sacct and stops asking
   * once it says accounting is disabled; 'on' makes any sacct failure an error; 'off'
   * never runs sacct.
   */
  accounting?: AccountingMode;
  /**
   * Job completion records (`sacct -c`, spec/scheduler-slurm.md §Job completion), asked for
   * plain jobs that squeue and accounting cannot answer: same three modes.
   */
  jobcomp?: JobcompMode;
  /** The job's own exit record, for ids neither squeue nor sacct know (supplied by core). */
  readExitRecord?: (id: string) => Promise<JobState | null>;
  /**
   * Whether an id is an array job (core knows from its record). Job completion records list
   * array elements under their own numeric ids, one of which is the array's, so only ids
   * this says are not arrays are asked there; without it, none are.
   */
  isArrayJob?: (id: string) => boolean;
  /** Per-command timeout (default: the runner's). */
  timeoutMs?: number;
  /** How far back findByTag looks in accounting (sacct --starttime). Default "now-7days". */
  tagLookback?: string;
  /** Most elements of a packed array: slurm.conf MaxArraySize (conf.ts). Default 1000. */
  maxArraySize?: number;
  /** Largest script sbatch takes: SchedulerParameters max_script_size. Default 4 MiB. */
  maxScriptBytes?: number;
}

const TRANSIENT = [...SLURM_TRANSIENT];
const SAFE_SUBMIT_RETRY = [...SLURM_SAFE_SUBMIT_RETRY];

export class SlurmBackend implements Backend {
  readonly kind = 'slurm';
  readonly maxArraySize: number;
  readonly maxScriptBytes: number;
  private readonly run: Runner;
  private readonly mode: AccountingMode;
  private readonly jobcompMode: JobcompMode;
  private readonly isArrayJob: ((id: string) => boolean) | undefined;
  private readonly readExitRecord: ((id: string) => Promise<JobState | null>) | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly tagLookback: string;
  /** 'auto' learns this from sacct's first answer and then stops asking. */
  private accountingDisabled = false;
  /** 'auto' learns this from `sacct -c`'s first failure and then stops asking. */
  private jobcompUnusable: string | null = null;

  constructor(opts: SlurmBackendOptions = {}) {
    this.run = opts.runner ?? runCommand;
    this.mode = opts.accounting ?? 'auto';
    this.jobcompMode = opts.jobcomp ?? 'auto';
    this.isArrayJob = opts.isArrayJob;
    this.readExitRecord = opts.readExitRecord;
    this.timeoutMs = opts.timeoutMs;
    this.tagLookback = opts.tagLookback ?? 'now-7days';
    this.maxArraySize = opts.maxArraySize ?? SLURM_DEFAULT_MAX_ELEMENTS;
    this.maxScriptBytes = opts.maxScriptBytes ?? SLURM_DEFAULT_MAX_SCRIPT_BYTES;
  }

  render(spec: RenderSpec): string {
    const script = renderSlurm(spec);
    const n = packedElements(spec)?.length;
    if (n !== undefined && n > this.maxArraySize) {
      throw new UsageError(`elements: ${n} elements, but this Slurm takes arrays of at most ${this.maxArraySize} (MaxArraySize)`, {
        code: 'array-too-large',
        hint: 'pack at most maxArraySize elements into each array job',
        data: { elements: n, limit: this.maxArraySize },
      });
    }
    checkScriptSize(script, this.maxScriptBytes, 'Slurm (max_script_size)', n);
    return script;
  }

  /** Element i of packed array 42 is "42_i" (spec/scheduler-slurm.md §Packed arrays). */
  elementId(baseId: string, index: number): string {
    if (!/^\d+$/.test(baseId) || !Number.isInteger(index) || index < 0) {
      throw new SchedulerError('scheduler-bad-id', `elementId: expected a Slurm array job id like "42" and an index >= 0, found ${JSON.stringify(baseId)} and ${index}`);
    }
    return `${baseId}_${index}`;
  }

  /**
   * `sbatch --test-only` with the script on stdin (spec/scheduler-slurm.md §Check): exit 0
   * and "Job N to start at …" is a yes (nothing is submitted; N is no job), exit 1 with
   * its error a no. Safe to retry: it submits nothing.
   */
  async check(script: string, opts: SubmitOptions): Promise<CheckAnswer> {
    const r = await this.run(['sbatch', '--test-only'], this.opts({ cwd: opts.cwd, input: script, okExitCodes: [0, 1] }));
    const said = `${r.stderr}\n${r.stdout}`
      .split('\n')
      .map((l) => l.replace(/^sbatch:\s*(error:\s*)?/, '').trim())
      .filter((l) => l !== '');
    return { accepted: r.exitCode === 0, message: said.join('; ') || (r.exitCode === 0 ? 'accepted' : `sbatch --test-only exited ${r.exitCode}`) };
  }

  /**
   * sbatch is not idempotent: it is retried only after errors that prove nothing was
   * submitted. A timeout or lost reply becomes `scheduler-submit-ambiguous`, after which
   * the caller looks the job up with findByTag (spec/scheduler-slurm.md §Tag).
   */
  async submit(scriptPath: string, opts: SubmitOptions): Promise<string> {
    const argv = ['sbatch', '--parsable', ...(opts.hold ? ['--hold'] : []), scriptPath];
    let stdout: string;
    try {
      ({ stdout } = await this.run(argv, this.opts({ cwd: opts.cwd, transient: SAFE_SUBMIT_RETRY })));
    } catch (e) {
      if (isQdoError(e) && (e.code === 'scheduler-timeout' || (e.code === 'scheduler-command-failed' && /Socket timed out|Zero Bytes were transmitted/i.test(stderrOf(e))))) {
        throw new SchedulerError('scheduler-submit-ambiguous', `sbatch may or may not have submitted ${scriptPath}: ${e.message}`, {
          hint: 'the job may exist; qdo looks for it by its tag before submitting again',
          cause: e,
          data: { command: argv },
        });
      }
      throw e;
    }
    try {
      return parseSbatchParsable(stdout).id;
    } catch (e) {
      // sbatch said it succeeded but not with what: the job may exist (spec/submissions.md §Submitting).
      throw new SchedulerError('scheduler-submit-ambiguous', `sbatch may or may not have submitted ${scriptPath}: it exited 0 but printed no job id (${JSON.stringify(stdout.trim().slice(0, 100))})`, {
        hint: 'the job may exist; qdo looks for it by its tag before submitting again',
        cause: e,
        data: { command: argv },
      });
    }
  }

  /**
   * States in the documented order (spec/scheduler-slurm.md §Query): squeue; for the ids it
   * has forgotten, accounting (sacct); for plain jobs still unanswered, job completion
   * records (sacct -c); then the jobs' own exit records; else unknown with the reasons.
   */
  async query(ids: string[]): Promise<Map<string, JobState>> {
    const wanted = [...new Set(ids)];
    const wantedSet = new Set(wanted);
    const out = new Map<string, JobState>();
    const notSlurm = wanted.filter((id) => !SLURM_ID_RE.test(id));
    for (const id of notSlurm) out.set(id, { id, state: 'unknown', raw: '', source: 'none', reason: 'not a Slurm job id' });
    let open = wanted.filter((id) => SLURM_ID_RE.test(id));
    if (open.length === 0) return out;

    open = resolve(open, await this.squeue(open), out);
    const notes = ['not in squeue'];
    /** A live state from sacct for a job squeue has forgotten: stale (slurmdbd lags). */
    const stale = new Map<string, JobState>();
    if (open.length > 0) {
      const acct = await this.sacct(open);
      if (Array.isArray(acct)) {
        const got = new Map<string, JobState>();
        open = resolve(open, acct, got);
        for (const [id, s] of got) {
          if (out.has(id)) continue; // squeue's answer is the more recent one
          if (TERMINAL_STATES.has(s.state) || !wantedSet.has(id)) out.set(id, s);
          else stale.set(id, s);
        }
        notes.push('not in sacct');
      } else {
        notes.push(acct.unavailable);
      }
    }
    // The job's own exit record beats a stale live state.
    for (const id of [...stale.keys()]) {
      const rec = await this.exitRecord(id);
      if (rec !== null) {
        out.set(id, rec);
        stale.delete(id);
      }
    }
    const forComp = [...open, ...stale.keys()].filter((id) => /^\d+$/.test(id) && this.isArrayJob !== undefined && !this.isArrayJob(id));
    let compNote: string | null = null;
    if (forComp.length > 0) {
      const comp = await this.jobcomp(forComp);
      if (Array.isArray(comp)) {
        const byId = new Map<string, SlurmRecord>();
        for (const c of comp) if (c.rawId === c.id && !byId.has(c.id)) byId.set(c.id, c);
        const answered = new Set<string>();
        for (const id of forComp) {
          const r = byId.get(id);
          if (r === undefined || !TERMINAL_STATES.has(r.state)) continue;
          out.set(id, recordToState(id, r));
          stale.delete(id);
          answered.add(id);
        }
        if (answered.size > 0) open = open.filter((x) => !answered.has(x));
        compNote = 'not in the job completion records';
      } else {
        compNote = comp.unavailable;
      }
    }
    for (const [id, s] of stale) out.set(id, s);
    await Promise.all(
      open.map(async (id) => {
        const rec = await this.exitRecord(id);
        const why = [...notes, ...(compNote !== null && forComp.includes(id) ? [compNote] : [])].join('; ');
        out.set(id, rec ?? { id, state: 'unknown', raw: '', source: 'none', reason: why });
      }),
    );
    return out;
  }

  /** scancel exits 0 for jobs that have already ended or been purged: nothing to stop. */
  async cancel(ids: string[]): Promise<void> {
    const list = arrayRanges(checkIds(ids, 'cancel'));
    if (list.length === 0) return;
    for (const batch of idBatches(list)) await this.run(['scancel', ...batch], this.opts({ transient: TRANSIENT }));
  }

  async hold(ids: string[]): Promise<void> {
    await this.scontrol('hold', ids);
  }

  async release(ids: string[]): Promise<void> {
    await this.scontrol('release', ids);
  }

  /** The job whose --comment is qdo:<tag>: squeue first, then accounting (§Tag). */
  async findByTag(tag: string): Promise<string | null> {
    const comment = `${TAG_PREFIX}${tag}`;
    const { stdout } = await this.run(['squeue', '-h', '-r', '-t', 'all', '--me', '-O', SQUEUE_FORMAT], this.opts({ transient: TRANSIENT, env: { SLURM_BITSTR_LEN: '0' } }));
    const found = pickTagged(parseSqueue(stdout), comment);
    if (found !== null) return found;
    const acct = await this.sacctRun(['-S', this.tagLookback]);
    return Array.isArray(acct) ? pickTagged(acct, comment) : null;
  }

  /** One squeue per batch of ids (id-batches.ts: one argument list stays under the OS limit). */
  private async squeue(ids: string[]): Promise<SlurmRecord[]> {
    const out: SlurmRecord[] = [];
    for (const batch of idBatches(ids)) for (const r of await this.squeueBatch(batch)) out.push(r);
    return out;
  }

  private async squeueBatch(ids: string[]): Promise<SlurmRecord[]> {
    const argv = ['squeue', '-h', '-r', '-t', 'all', '-j', ids.join(','), '-O', SQUEUE_FORMAT];
    try {
      // SLURM_BITSTR_LEN=0: never cut array index lists short.
      const { stdout } = await this.run(argv, this.opts({ transient: TRANSIENT, env: { SLURM_BITSTR_LEN: '0' } }));
      return parseSqueue(stdout);
    } catch (e) {
      // squeue fails this way only when it knows none of the ids: they all ended long enough
      // ago to be purged (MinJobAge), which is an answer, not an error (§Purged jobs).
      if (isQdoError(e) && e.code === 'scheduler-command-failed' && isInvalidJobId(stderrOf(e))) return [];
      throw e;
    }
  }

  private sacct(ids: string[]): Promise<SlurmRecord[] | { unavailable: string }> {
    // An element that never started (its array cancelled while pending) is in accounting
    // only as the array's own record "42_[0-2]", which `sacct -j 42_2` does not list and
    // `sacct -j 42` does (checked on Slurm 22.05): ask for the arrays too.
    return this.inBatches(withArrays(ids), (batch) => this.sacctRun(['-j', batch.join(',')]));
  }

  /** Runs a query per batch of ids and joins the records; the first batch that cannot answer says why. */
  private async inBatches(ids: string[], ask: (batch: string[]) => Promise<SlurmRecord[] | { unavailable: string }>): Promise<SlurmRecord[] | { unavailable: string }> {
    const out: SlurmRecord[] = [];
    for (const batch of idBatches(ids)) {
      const r = await ask(batch);
      if (!Array.isArray(r)) return r;
      for (const x of r) out.push(x);
    }
    return out;
  }

  /** Runs sacct with the fixed format; says why when accounting cannot answer (§Accounting). */
  private async sacctRun(select: string[]): Promise<SlurmRecord[] | { unavailable: string }> {
    if (this.mode === 'off') return { unavailable: 'accounting is off' };
    if (this.accountingDisabled) return { unavailable: 'Slurm accounting storage is disabled' };
    const argv = ['sacct', '-n', '-P', '-X', ...select, '-o', SACCT_FIELDS];
    try {
      const { stdout } = await this.run(argv, this.opts({ transient: TRANSIENT }));
      return parseSacct(stdout);
    } catch (e) {
      if (!isQdoError(e)) throw e;
      const disabled = e.code === 'scheduler-command-missing' || isAccountingDisabled(stderrOf(e));
      if (this.mode === 'on') {
        if (!disabled) throw e;
        throw new SchedulerError('slurm-accounting-disabled', `sacct cannot answer (${e.message}) but accounting is configured as on`, {
          hint: 'set the Slurm accounting option to auto or off for this cluster',
          cause: e,
        });
      }
      if (disabled) {
        this.accountingDisabled = true;
        return { unavailable: 'Slurm accounting storage is disabled' };
      }
      // auto: a database that does not answer leaves states unknown, never failed.
      return { unavailable: `sacct failed: ${firstLine(stderrOf(e)) || e.message}` };
    }
  }

  /**
   * `sacct -c`: the job completion plugin's records (jobcomp/filetxt, elasticsearch, …),
   * which sacct reads without the accounting database (spec/scheduler-slurm.md §Job
   * completion). Same line format as accounting; "Unknown type ArrayJobId" lines on stderr
   * are sacct's own noise about array fields and are ignored.
   */
  private jobcomp(ids: string[]): Promise<SlurmRecord[] | { unavailable: string }> {
    return this.inBatches(ids, (batch) => this.jobcompBatch(batch));
  }

  private async jobcompBatch(ids: string[]): Promise<SlurmRecord[] | { unavailable: string }> {
    if (this.jobcompMode === 'off') return { unavailable: 'job completion records are off' };
    if (this.jobcompUnusable !== null) return { unavailable: this.jobcompUnusable };
    const argv = ['sacct', '-c', '-n', '-P', '-j', ids.join(','), '-o', SACCT_FIELDS];
    try {
      const { stdout } = await this.run(argv, this.opts({ transient: TRANSIENT }));
      return parseSacct(stdout).map((r) => ({ ...r, source: 'jobcomp' as const }));
    } catch (e) {
      if (!isQdoError(e)) throw e;
      if (this.jobcompMode === 'on') throw e;
      const why = `sacct -c failed: ${firstLine(stderrOf(e)) || e.message}`;
      // A missing plugin or file does not come back within one refresh: stop asking.
      if (e.code === 'scheduler-command-missing' || e.code === 'scheduler-command-failed') this.jobcompUnusable = why;
      return { unavailable: why };
    }
  }

  private async scontrol(verb: 'hold' | 'release', ids: string[]): Promise<void> {
    const all = arrayRanges(checkIds(ids, verb));
    for (const list of idBatches(all)) await this.scontrolBatch(verb, list);
  }

  private async scontrolBatch(verb: 'hold' | 'release', list: string[]): Promise<void> {
    try {
      await this.run(['scontrol', verb, list.join(',')], this.opts({ transient: TRANSIENT }));
    } catch (e) {
      if (isQdoError(e) && e.code === 'scheduler-command-failed') {
        // scontrol names each job it could not change ("Job has already finished for job 9").
        const said = stderrOf(e)
          .split('\n')
          .filter((l) => / for job /.test(l))
          .join('; ');
        throw new SchedulerError('scheduler-rejected', `scontrol ${verb} ${list.join(',')}: ${said || e.message}`, { cause: e, data: { ids: list } });
      }
      throw e;
    }
  }

  private async exitRecord(id: string): Promise<JobState | null> {
    if (this.readExitRecord === undefined) return null;
    const rec = await this.readExitRecord(id);
    return rec === null ? null : { ...rec, id, source: rec.source || 'exit-record' };
  }

  private opts(o: RunOptions): RunOptions {
    return this.timeoutMs === undefined ? o : { ...o, timeoutMs: this.timeoutMs };
  }
}

/**
 * Fills `out` with the states of the ids these records answer; returns the ids still open.
 * A base id of an array ("17") gets the aggregate of its elements, and every element seen
 * gets its own entry ("17_1", …) as well (spec/scheduler-slurm.md §Arrays).
 */
export function resolve(ids: string[], recs: SlurmRecord[], out: Map<string, JobState>): string[] {
  // Indexes of the records, first one winning as with find(): each id is then matched in
  // constant time (10^4 live ids against 10^4 lines was quadratic: 1.7 s of CPU).
  const first = <K>(m: Map<K, SlurmRecord>, k: K, r: SlurmRecord) => void (m.has(k) || m.set(k, r));
  const byArrayBase = new Map<string, SlurmRecord[]>();
  const byId = new Map<string, SlurmRecord>();
  const byElement = new Map<string, SlurmRecord>();
  const wholeById = new Map<string, SlurmRecord>();
  const plainByRaw = new Map<string, SlurmRecord>();
  const singleByRaw = new Map<string, SlurmRecord>();
  for (const r of recs) {
    if (r.arrayBase !== undefined) {
      const l = byArrayBase.get(r.arrayBase);
      if (l) l.push(r);
      else byArrayBase.set(r.arrayBase, [r]);
    }
    first(byId, r.id, r);
    for (const e of r.elements) first(byElement, e, r);
    if (r.id === r.rawId) first(wholeById, r.id, r);
    if (r.arrayBase === undefined) first(plainByRaw, r.rawId, r);
    if (r.elements.length === 1) first(singleByRaw, r.rawId, r);
  }
  const open: string[] = [];
  for (const id of ids) {
    const arrayRecs = byArrayBase.get(id);
    if (arrayRecs !== undefined) {
      const elements: JobState[] = [];
      for (const r of arrayRecs) {
        const names = r.elements.length > 0 ? r.elements : [r.id];
        for (const name of names) {
          const s = recordToState(name, r);
          elements.push(s);
          out.set(name, s);
        }
      }
      out.set(id, aggregateArray(id, elements));
      continue;
    }
    // An element's own record beats its array's record that still lists it as a range; an
    // array cancelled before any element started is listed whole, as "42" (Slurm 22.05).
    const base = /^(\d+)_\d+$/.exec(id)?.[1];
    const hit = byId.get(id) ?? byElement.get(id) ?? (base !== undefined ? wholeById.get(base) : undefined) ?? plainByRaw.get(id) ?? singleByRaw.get(id);
    if (hit !== undefined) out.set(id, recordToState(id, hit));
    else open.push(id);
  }
  return open;
}

/** The ids plus the arrays of the element ids among them ("42_3" → "42"): accounting lists an element that never ran only under its array. */
function withArrays(ids: string[]): string[] {
  const bases = ids.map((id) => /^(\d+)_\d+$/.exec(id)?.[1]).filter((b): b is string => b !== undefined);
  return [...new Set([...ids, ...bases])];
}

function pickTagged(recs: SlurmRecord[], comment: string): string | null {
  const ids = recs.filter((r) => r.comment === comment).map((r) => r.arrayBase ?? r.rawId);
  // Two jobs with one tag means an earlier recovery submitted again: the first one is it.
  return ids.length === 0 ? null : [...new Set(ids)].sort((a, b) => Number(a) - Number(b))[0]!;
}

/**
 * The elements of each array as ranges (`17_[0-999]`), other ids as they are, in the order
 * each first appears: slurmctld takes one range of a pending array as one request (a cancel
 * of 1,000 elements named one by one took 0.7 s, as a range 0.02 s; a sweep's 10^4 points
 * are 10 such arrays). Only runs of consecutive indexes make a range, so that a token never
 * holds a comma (scontrol's list is comma-separated) (spec/scheduler-slurm.md §Many ids).
 */
export function arrayRanges(ids: readonly string[]): string[] {
  const order: (string | { base: string; idx: number[] })[] = [];
  const arrays = new Map<string, number[]>();
  for (const id of ids) {
    const m = /^(\d+)_(\d+)$/.exec(id);
    if (m === null) {
      order.push(id);
      continue;
    }
    let idx = arrays.get(m[1]!);
    if (idx === undefined) {
      arrays.set(m[1]!, (idx = []));
      order.push({ base: m[1]!, idx });
    }
    idx.push(Number(m[2]));
  }
  const out: string[] = [];
  for (const x of order) {
    if (typeof x === 'string') {
      out.push(x);
      continue;
    }
    const idx = [...new Set(x.idx)].sort((a, b) => a - b);
    for (let i = 0; i < idx.length; ) {
      let j = i;
      while (j + 1 < idx.length && idx[j + 1] === idx[j]! + 1) j++;
      out.push(j > i ? `${x.base}_[${idx[i]}-${idx[j]}]` : `${x.base}_${idx[i]}`);
      i = j + 1;
    }
  }
  return out;
}

function checkIds(ids: string[], verb: string): string[] {
  const list = [...new Set(ids)];
  for (const id of list) {
    if (!SLURM_ID_RE.test(id)) throw new SchedulerError('scheduler-bad-id', `${verb}: expected Slurm job ids like "12" or "12_3", found ${JSON.stringify(id)}`);
  }
  return list;
}

function stderrOf(e: { data: Record<string, unknown> }): string {
  return typeof e.data.stderr === 'string' ? e.data.stderr : '';
}

function firstLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}
