// The one resource vocabulary, in its stored (normalised) form (spec/manifest.md
// §Resources). Parsing what users type (walltime, memory units) lives in
// resource-units.ts; translating to a scheduler lives in src/scheduler.

export interface MailSpec {
  user?: string;
  /** Subset of: begin, end, fail, all. */
  events?: string[];
}

export interface Resources {
  /** CPUs per task. */
  cpus?: number;
  tasks?: number;
  nodes?: number;
  /** Memory per node, MiB. */
  mem?: number;
  /** Memory per CPU, MiB (exclusive with mem). */
  mem_per_cpu?: number;
  /** GPUs per node. */
  gpus?: number;
  /** Walltime, seconds. */
  time?: number;
  /** Slurm partition / PBS queue. */
  partition?: string;
  account?: string;
  qos?: string;
  /** Node features (Slurm --constraint, PBS host resources). */
  constraint?: string;
  /** Array index spec: "1-10", "1-10:2", "1,3,5", optionally "%N" max running. */
  array?: string;
  /** Scheduler job name (defaults to the qdo job name). */
  job_name?: string;
  stdout?: string;
  stderr?: string;
  mail?: MailSpec;
  /** Raw directive arguments per scheduler, passed through verbatim. */
  extra?: Record<string, string[]>;
}

const INT_FIELDS = ['cpus', 'tasks', 'nodes', 'mem', 'mem_per_cpu', 'gpus', 'time'] as const;
const STR_FIELDS = ['partition', 'account', 'qos', 'constraint', 'array', 'job_name', 'stdout', 'stderr'] as const;
export const RESOURCE_FIELDS: readonly string[] = [...INT_FIELDS, ...STR_FIELDS, 'mail', 'extra'];
export const MAIL_EVENTS = ['begin', 'end', 'fail', 'all'] as const;
const ARRAY_RE = /^\d+(-\d+(:\d+)?)?(,\d+(-\d+(:\d+)?)?)*(%\d+)?$/;

/** Returns a list of problems ("field: expected …, found …"); empty when valid. */
export function resourceProblems(value: unknown, at = 'resources'): string[] {
  const out: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected an object, found ${show(value)}`];
  const r = value as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!RESOURCE_FIELDS.includes(k)) out.push(`${at}.${k}: unknown resource (known: ${RESOURCE_FIELDS.join(', ')})`);
  }
  for (const k of INT_FIELDS) {
    const v = r[k];
    if (v === undefined) continue;
    const min = k === 'gpus' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) out.push(`${at}.${k}: expected an integer >= ${min}, found ${show(v)}`);
  }
  for (const k of STR_FIELDS) {
    const v = r[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '' || /[\n\r]/.test(v)) out.push(`${at}.${k}: expected a non-empty one-line string, found ${show(v)}`);
  }
  if (r.mem !== undefined && r.mem_per_cpu !== undefined) out.push(`${at}: mem and mem_per_cpu are exclusive`);
  if (typeof r.array === 'string' && !ARRAY_RE.test(r.array)) out.push(`${at}.array: expected e.g. "1-10", "0-99:2", "1,3,5" or "1-100%10", found ${show(r.array)}`);
  if (r.mail !== undefined) {
    const m = r.mail as Record<string, unknown>;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) out.push(`${at}.mail: expected an object, found ${show(m)}`);
    else {
      for (const k of Object.keys(m)) if (k !== 'user' && k !== 'events') out.push(`${at}.mail.${k}: unknown field (known: user, events)`);
      if (m.user !== undefined && (typeof m.user !== 'string' || m.user === '' || /[\n\r]/.test(m.user))) out.push(`${at}.mail.user: expected a non-empty string, found ${show(m.user)}`);
      if (m.events !== undefined) {
        if (!Array.isArray(m.events) || m.events.some((e) => !(MAIL_EVENTS as readonly unknown[]).includes(e))) {
          out.push(`${at}.mail.events: expected a list of ${MAIL_EVENTS.join(', ')}, found ${show(m.events)}`);
        }
      }
    }
  }
  if (r.extra !== undefined) {
    const x = r.extra as Record<string, unknown>;
    if (typeof x !== 'object' || x === null || Array.isArray(x)) out.push(`${at}.extra: expected an object of scheduler → list of strings, found ${show(x)}`);
    else {
      for (const [k, v] of Object.entries(x)) {
        if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '' || /[\n\r]/.test(s))) out.push(`${at}.extra.${k}: expected a list of non-empty one-line strings, found ${show(v)}`);
      }
    }
  }
  return out;
}

export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
