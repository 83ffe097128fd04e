// What users type for resources, turned into the stored form of src/model/resources.ts
// (spec/scheduler-common.md §Units). Pure functions: no I/O, no clock.
//
// Walltime is stored in seconds, memory in MiB. Bare numbers follow Slurm's reading
// (a bare walltime is minutes, a bare memory size is MiB), because most users come from
// Slurm scripts and would be surprised otherwise.
import { UsageError } from '../errors.js';
import { MAIL_EVENTS, resourceProblems, type Resources } from './resources.js';

const TIME_EXAMPLES = 'a duration like 90 (minutes), 30:00, 1:30:00, 2-12, 2-12:30:00, 90m, 2h, 1h30m, 1.5h or 1d';
const MEM_EXAMPLES = 'a size like 512M, 4G, 1.5T';

function bad(field: string, expected: string, found: string, code = 'bad-resource'): UsageError {
  return new UsageError(`${field}: expected ${expected}, found ${JSON.stringify(found)}`, { code, data: { field, found } });
}

/**
 * The accepted range of each numeric resource, in its stored unit (spec/scheduler-common.md
 * §Ranges). Wide enough for any real job, narrow enough that every scheduler can express
 * the value: a typo such as `--time 99999999999999` is an error here, not a job that a
 * scheduler refuses (or silently clamps) later.
 */
export const RESOURCE_RANGES = {
  time: { min: 1, max: 365 * 86400, show: (n: number) => (n === 365 * 86400 ? '365 days' : `${n} s`) },
  mem: { min: 1, max: 1024 ** 3, show: (n: number) => (n === 1024 ** 3 ? '1P' : `${n}M`) },
  mem_per_cpu: { min: 1, max: 1024 ** 3, show: (n: number) => (n === 1024 ** 3 ? '1P' : `${n}M`) },
  cpus: { min: 1, max: 65_535, show: String },
  tasks: { min: 1, max: 10_000_000, show: String },
  nodes: { min: 1, max: 1_000_000, show: String },
  gpus: { min: 0, max: 1_024, show: String },
} as const satisfies Record<string, { min: number; max: number; show: (n: number) => string }>;

export type RangedField = keyof typeof RESOURCE_RANGES;

/** Highest array index accepted in `--array` (Slurm's largest MaxArraySize is 4,000,001). */
export const MAX_ARRAY_INDEX = 4_000_000;

/** Longest text value accepted for a resource (partition, account, paths, …). */
export const MAX_RESOURCE_TEXT = 4096;

/** `value` if it lies in `field`'s range, else an error naming the flag and the range. */
export function checkRange(field: RangedField, value: number, flag: string, found: string): number {
  const r = RESOURCE_RANGES[field];
  if (!Number.isSafeInteger(value) || value < r.min || value > r.max) {
    throw new UsageError(`${flag}: expected ${r.show(r.min)} to ${r.show(r.max)}, found ${JSON.stringify(found)}`, {
      code: 'bad-resource',
      data: { field: flag, found, min: r.min, max: r.max },
    });
  }
  return value;
}

/** Rounds away float noise (1.1h = 3960.0000000000005 s) before rounding up. */
function ceilClean(x: number): number {
  return Math.ceil(Math.round(x * 1e6) / 1e6);
}

const UNIT_SECONDS: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1 };
// Slurm forms (sbatch(1) --time): M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
const SLURM_TIME_RE = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/;
// Unit forms: one or more <number><unit>, units in decreasing order, e.g. 1d12h, 1h30m, 1.5h.
const UNIT_TIME_RE = /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/;

/** Walltime in whole seconds (>= 1); fractions of a second round up. */
export function parseWalltime(text: string, field = 'time'): number {
  const t = String(text).trim().toLowerCase();
  let sec: number | undefined;
  const m = SLURM_TIME_RE.exec(t);
  if (m) {
    const [, d, a, b, c] = m;
    const n = (s: string | undefined): number => (s === undefined ? 0 : Number(s));
    // Slurm's reading: minutes and seconds are below 60 and, after "D-", hours below 24;
    // only the leading field may be as large as it likes (90:00 is 90 minutes).
    const fields = d !== undefined ? [[a, 24], [b, 60], [c, 60]] : c !== undefined ? [[b, 60], [c, 60]] : b !== undefined ? [[b, 60]] : [];
    if (fields.some(([s, max]) => s !== undefined && n(s as string) >= (max as number))) {
      throw bad(field, 'minutes and seconds below 60 and, after "D-", hours below 24 (e.g. 1:30:00, 2-12:30:00)', text);
    }
    if (d !== undefined) {
      // D-H, D-H:M, D-H:M:S
      sec = n(d) * 86400 + n(a) * 3600 + n(b) * 60 + n(c);
    } else if (c !== undefined) {
      sec = n(a) * 3600 + n(b) * 60 + n(c); // H:M:S
    } else if (b !== undefined) {
      sec = n(a) * 60 + n(b); // M:S
    } else {
      sec = n(a) * 60; // M
    }
  } else if (t !== '' && /[dhms]$/.test(t)) {
    const u = UNIT_TIME_RE.exec(t);
    if (u) {
      sec = 0;
      const units = ['d', 'h', 'm', 's'];
      for (let i = 0; i < 4; i++) if (u[i + 1] !== undefined) sec += Number(u[i + 1]) * UNIT_SECONDS[units[i]!]!;
      sec = ceilClean(sec);
    }
  } else if (/^\d*\.\d+$/.test(t)) {
    sec = ceilClean(Number(t) * 60); // decimal minutes, as a bare number is minutes
  }
  if (sec === undefined) throw bad(field, TIME_EXAMPLES, text);
  if (sec < 1) throw bad(field, 'a duration of at least one second', text);
  if (!Number.isSafeInteger(sec) || sec > RESOURCE_RANGES.time.max) throw bad(field, 'a duration of at most 365 days (365-00:00:00)', text);
  return sec;
}

const MEM_FACTOR: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };
const MEM_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*(?:([kmgt])(?:i?b)?)?$/;

/**
 * Memory in whole MiB (>= 1), rounding up. K/M/G/T are binary (as Slurm and PBS read
 * them), with or without a B or iB suffix, any case; a bare number is MiB.
 */
export function parseMemory(text: string, field = 'mem'): number {
  const t = String(text).trim().toLowerCase();
  const m = MEM_RE.exec(t);
  if (!m) throw bad(field, MEM_EXAMPLES, text);
  const mib = ceilClean(Number(m[1]) * MEM_FACTOR[m[2] ?? 'm']!);
  if (mib < 1) throw bad(field, 'a size of at least 1M', text);
  if (!Number.isSafeInteger(mib) || mib > RESOURCE_RANGES.mem.max) throw bad(field, 'a size of at most 1P (1024T)', text);
  return mib;
}

/** An integer count >= min (and <= max), written in decimal. */
export function parseCount(text: string, field: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const t = String(text).trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw bad(field, `an integer >= ${min}`, text);
  if (n > max) throw bad(field, `an integer from ${min} to ${max}`, text);
  return n;
}

/**
 * Checks an array index spec beyond its syntax: each range runs upwards (`5-1` is refused),
 * steps and the `%` limit are at least 1, no index is above MAX_ARRAY_INDEX.
 */
export function arraySpecProblem(spec: string): string | null {
  const [list, limit] = spec.split('%') as [string, string | undefined];
  if (limit !== undefined && Number(limit) < 1) return `a "%" limit of at least 1, not ${limit}`;
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part);
    if (!m) return null; // the syntax check reports it
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return `ranges that run upwards, not ${part}`;
    if (m[3] !== undefined && Number(m[3]) < 1) return `a step of at least 1, not ${part}`;
    if (to > MAX_ARRAY_INDEX) return `indices from 0 to ${MAX_ARRAY_INDEX}, not ${part}`;
  }
  return null;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Slurm's `D-HH:MM:SS` (one day or more) or `HH:MM:SS`. */
export function formatSlurmTime(sec: number): string {
  const s = Math.max(0, Math.ceil(sec));
  const days = Math.floor(s / 86400);
  const rest = s % 86400;
  const hms = `${pad2(Math.floor(rest / 3600))}:${pad2(Math.floor((rest % 3600) / 60))}:${pad2(rest % 60)}`;
  return days > 0 ? `${days}-${hms}` : hms;
}

/** `HH:MM:SS` with hours allowed past 24 (`60:00:00`), as PBS walltime. */
export function formatHms(sec: number): string {
  const s = Math.max(0, Math.ceil(sec));
  return `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}`;
}

/** `4G` when the MiB count is a whole number of GiB, else `4097M` (Slurm syntax). */
export function formatMemory(mib: number): string {
  return mib % 1024 === 0 && mib > 0 ? `${mib / 1024}G` : `${mib}M`;
}

/** The CLI flags parseResourceFlags understands (spec/scheduler-common.md §Flags). */
export const RESOURCE_FLAGS = [
  'cpus',
  'tasks',
  'nodes',
  'mem',
  'mem-per-cpu',
  'gpus',
  'time',
  'partition',
  'queue',
  'account',
  'qos',
  'constraint',
  'array',
  'job-name',
  'output',
  'error',
  'mail-user',
  'mail-type',
] as const;

function oneLine(flag: string, v: string): string {
  const t = v.trim();
  // eslint-disable-next-line no-control-regex
  if (t === '' || /[\n\r]/.test(t)) throw bad(flag, 'a non-empty one-line value', v);
  if (/[\x00-\x1f\x7f]/.test(t)) throw bad(flag, 'a value without control characters', v);
  if (t.length > MAX_RESOURCE_TEXT) throw bad(flag, `a value of at most ${MAX_RESOURCE_TEXT} characters`, `${v.slice(0, 40)}…`);
  return t;
}

/**
 * Turns CLI strings (keys without the leading dashes) into normalised Resources.
 * Undefined values are skipped; keys not in RESOURCE_FLAGS are ignored (the CLI rejects
 * unknown flags itself). Errors name the flag: `--mem: expected a size like ...`.
 */
export function parseResourceFlags(flags: Record<string, string | undefined>): Resources {
  const r: Resources = {};
  const get = (k: string): string | undefined => {
    const v = flags[k];
    return v === undefined || v === null ? undefined : String(v);
  };
  const f = (k: string): string => `--${k}`;
  let v: string | undefined;
  const count = (k: 'cpus' | 'tasks' | 'nodes' | 'gpus', text: string): number => parseCount(text, f(k), RESOURCE_RANGES[k].min, RESOURCE_RANGES[k].max);
  if ((v = get('cpus')) !== undefined) r.cpus = count('cpus', v);
  if ((v = get('tasks')) !== undefined) r.tasks = count('tasks', v);
  if ((v = get('nodes')) !== undefined) r.nodes = count('nodes', v);
  if ((v = get('gpus')) !== undefined) r.gpus = count('gpus', v);
  if ((v = get('mem')) !== undefined) r.mem = parseMemory(v, f('mem'));
  if ((v = get('mem-per-cpu')) !== undefined) r.mem_per_cpu = parseMemory(v, f('mem-per-cpu'));
  if (r.mem !== undefined && r.mem_per_cpu !== undefined) {
    throw new UsageError('--mem and --mem-per-cpu cannot be used together: give memory per node or per CPU, not both', {
      code: 'bad-resource',
      data: { field: '--mem-per-cpu' },
    });
  }
  if ((v = get('time')) !== undefined) r.time = parseWalltime(v, f('time'));
  const partition = get('partition');
  const queue = get('queue');
  if (partition !== undefined && queue !== undefined && partition.trim() !== queue.trim()) {
    throw new UsageError(`--partition and --queue name the same thing and disagree: ${JSON.stringify(partition)} vs ${JSON.stringify(queue)}`, {
      code: 'bad-resource',
      data: { field: '--queue' },
    });
  }
  if (partition !== undefined) r.partition = oneLine(f('partition'), partition);
  else if (queue !== undefined) r.partition = oneLine(f('queue'), queue);
  if ((v = get('account')) !== undefined) r.account = oneLine(f('account'), v);
  if ((v = get('qos')) !== undefined) r.qos = oneLine(f('qos'), v);
  if ((v = get('constraint')) !== undefined) r.constraint = oneLine(f('constraint'), v);
  if ((v = get('array')) !== undefined) {
    const a = v.trim();
    if (resourceProblems({ array: a }).length > 0) throw bad(f('array'), 'an index spec like 1-10, 0-99:2, 1,3,5 or 1-100%10', v);
    const p = arraySpecProblem(a);
    if (p) throw bad(f('array'), p, v);
    r.array = a;
  }
  if ((v = get('job-name')) !== undefined) r.job_name = oneLine(f('job-name'), v);
  if ((v = get('output')) !== undefined) r.stdout = oneLine(f('output'), v);
  if ((v = get('error')) !== undefined) r.stderr = oneLine(f('error'), v);
  const user = get('mail-user');
  const type = get('mail-type');
  if (user !== undefined || type !== undefined) {
    const mail: NonNullable<Resources['mail']> = {};
    if (user !== undefined) mail.user = oneLine(f('mail-user'), user);
    if (type !== undefined) {
      const words = type
        .split(',')
        .map((w) => w.trim().toLowerCase())
        .filter((w) => w !== '');
      const known = MAIL_EVENTS as readonly string[];
      const unknown = words.filter((w) => !known.includes(w) && w !== 'none');
      if (words.length === 0 || unknown.length > 0) throw bad(f('mail-type'), `a comma-separated list of ${MAIL_EVENTS.join(', ')} (or none)`, type);
      // "none" alone means: no mail events at all.
      const events = [...new Set(words.filter((w) => w !== 'none'))];
      if (events.length > 0) mail.events = events;
    }
    if (mail.user !== undefined || mail.events !== undefined) r.mail = mail;
  }
  return r;
}
