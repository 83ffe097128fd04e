// Pools (spec/pools.md): a queue of runs inside an allocation's .qdo plus workers that claim
// runs from it over the shared file system. This file holds the pool definition
// (`pool.json`, schema qdo.pool/v1) and the control file (`control.json`): their types,
// validation with messages naming the field, and the parsing of what users type. Pure.
import { UsageError, RepositoryError } from '../errors.js';
import { canonicalBytes } from './canonical-json.js';
import { parseCount, parseWalltime } from './resource-units.js';
import { resourceProblems, show, type Resources } from './resources.js';
import { ISO_TIME_RE } from './time.js';

export const POOL_SCHEMA = 'qdo.pool/v1';
export const CONTROL_SCHEMA = 'qdo.pool-control/v1';

/** A pool is addressed by scheduler kind `pool:<name>` (spec/pools.md §Submitting). */
export const POOL_KIND_PREFIX = 'pool:';

export const DEFAULT_IDLE_SEC = 60;
export const DEFAULT_LEASE_SEC = 60;
export const DEFAULT_MAX_REQUEUE = 3;
export const DEFAULT_HEARTBEAT_SEC = 5;

export interface PoolDefinition {
  schema: typeof POOL_SCHEMA;
  name: string;
  /** The scheduler pilots go to; null for a workstation pool (workers started by hand). */
  scheduler: string | null;
  /** That scheduler's cluster when the pool was added: pilots are only managed from there. */
  cluster: string | null;
  /** Pilot jobs kept alive: at least min, at most max (both 0 without a scheduler). */
  pilots: { min: number; max: number };
  /** Runs (in slot units: cpus x tasks) one pilot's worker runs at once. */
  slots: number;
  /** Words a pilot's worker offers (runs needing others are refused at submit). */
  capabilities: string[];
  /** A pilot job's own resources (cpus, time, mem, partition, …; nodes is always 1). */
  resources: Resources;
  /** Seconds a pilot's worker stays without work before it exits. */
  idle: number;
  /** Seconds without a heartbeat after which a worker on another host is presumed dead. */
  lease: number;
  /** How often a run whose worker died is queued again before it ends `node-fail`. */
  max_requeue: number;
  /** Opt-in: runs are gathered on fewer pilots when they fit (spec/pools.md §Scaling). */
  consolidate: boolean;
  /** The command that starts qdo on the pilots' nodes; null: the qdo that scales. */
  worker_command: string[] | null;
  created: string;
  [extra: string]: unknown;
}

export function isPoolKind(kind: string): boolean {
  return kind.startsWith(POOL_KIND_PREFIX);
}

export function poolKind(name: string): string {
  return `${POOL_KIND_PREFIX}${name}`;
}

/** `pool:gpu` → `gpu`; null for any other scheduler. */
export function poolNameOf(kind: string): string | null {
  return isPoolKind(kind) ? kind.slice(POOL_KIND_PREFIX.length) : null;
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function poolNameProblem(name: string): string | null {
  return NAME_RE.test(name) ? null : 'lowercase letters, digits, ".", "_", "-", starting with a letter or digit, at most 64 characters';
}

/** A scheduler as manifests and config name it: `slurm`, a plugin, or `pool:<name>` (spec/manifest.md). */
export function isSchedulerName(s: string): boolean {
  return /^[a-z][a-z0-9_-]*$/.test(s) || (isPoolKind(s) && NAME_RE.test(s.slice(POOL_KIND_PREFIX.length)));
}

export function checkPoolName(name: string, field = 'pool name'): string {
  const p = poolNameProblem(name);
  if (p) throw new UsageError(`${field}: expected ${p}, found ${JSON.stringify(name)}`, { code: 'bad-pool-name' });
  return name;
}

/** Capability words: what `--capability` and a run's constraint name. */
const WORD_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** `gpu,apptainer` (also `gpu&apptainer`, Slurm's AND) → sorted unique words. */
export function parseCapabilities(text: string, field: string): string[] {
  const words = text
    .split(/[,&]/)
    .map((w) => w.trim())
    .filter((w) => w !== '');
  for (const w of words) {
    if (!WORD_RE.test(w)) {
      throw new UsageError(`${field}: expected words like gpu,apptainer (letters, digits, . _ + -), found ${JSON.stringify(w)}`, {
        code: 'bad-capability',
        hint: text.includes('|') ? 'a pool matches runs to workers by words that must all be present; "|" (either) is not supported' : undefined,
      });
    }
  }
  return [...new Set(words)].sort();
}

/** `--nodes 0..4` → {min 0, max 4}; `--nodes 3` → {min 0, max 3}. */
export function parseNodeRange(text: string, field = '--nodes'): { min: number; max: number } {
  const m = /^\s*(\d+)\s*(?:\.\.\s*(\d+))?\s*$/.exec(text);
  if (!m) throw new UsageError(`${field}: expected MIN..MAX pilot jobs like 0..4, or MAX, found ${JSON.stringify(text)}`, { code: 'bad-pool' });
  const a = Number(m[1]);
  const b = m[2] === undefined ? undefined : Number(m[2]);
  const r = b === undefined ? { min: 0, max: a } : { min: a, max: b };
  if (r.max < 1 || r.min > r.max || r.max > 1000) {
    throw new UsageError(`${field}: expected MIN..MAX with 0 <= MIN <= MAX, 1 <= MAX <= 1000, found ${JSON.stringify(text)}`, { code: 'bad-pool' });
  }
  return r;
}

/** A duration flag in seconds (the --time forms: 90 = minutes, 30s, 2m, 1h). */
export function parseSeconds(text: string, field: string): number {
  return parseWalltime(text, field);
}

export function parseSlots(text: string, field = '--slots'): number {
  const n = parseCount(text, field);
  if (n > 4096) throw new UsageError(`${field}: expected at most 4096 slots, found ${n}`, { code: 'bad-pool' });
  return n;
}


export function poolProblems(v: unknown): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`expected a JSON object, found ${show(v)}`];
  const o = v as Record<string, unknown>;
  const out: string[] = [];
  const int = (k: string, min: number) => {
    if (typeof o[k] !== 'number' || !Number.isSafeInteger(o[k]) || (o[k] as number) < min) out.push(`${k}: expected an integer >= ${min}, found ${show(o[k])}`);
  };
  if (o.schema !== POOL_SCHEMA) out.push(`schema: expected "${POOL_SCHEMA}", found ${show(o.schema)}`);
  if (typeof o.name !== 'string' || poolNameProblem(o.name) !== null) out.push(`name: expected a pool name, found ${show(o.name)}`);
  if (o.scheduler !== null && (typeof o.scheduler !== 'string' || o.scheduler === '' || /\s/.test(o.scheduler) || isPoolKind(o.scheduler))) {
    out.push(`scheduler: expected null or a scheduler name (not a pool), found ${show(o.scheduler)}`);
  }
  if (o.cluster !== null && (typeof o.cluster !== 'string' || o.cluster === '')) out.push(`cluster: expected null or a cluster name, found ${show(o.cluster)}`);
  const p = o.pilots as Record<string, unknown> | undefined;
  if (typeof p !== 'object' || p === null || typeof p.min !== 'number' || typeof p.max !== 'number' || !Number.isSafeInteger(p.min) || !Number.isSafeInteger(p.max) || p.min < 0 || p.min > p.max) {
    out.push(`pilots: expected {"min": M, "max": N} with 0 <= M <= N, found ${show(p)}`);
  } else if (o.scheduler === null && p.max !== 0) out.push('pilots: a pool without a scheduler has no pilots ({"min": 0, "max": 0})');
  int('slots', 1);
  if (!Array.isArray(o.capabilities) || !o.capabilities.every((w) => typeof w === 'string' && WORD_RE.test(w))) out.push(`capabilities: expected a list of words, found ${show(o.capabilities)}`);
  out.push(...resourceProblems(o.resources, 'resources'));
  int('idle', 1);
  int('lease', 10);
  int('max_requeue', 0);
  if (typeof o.consolidate !== 'boolean') out.push(`consolidate: expected true or false, found ${show(o.consolidate)}`);
  if (o.worker_command !== null && (!Array.isArray(o.worker_command) || o.worker_command.length === 0 || !o.worker_command.every((w) => typeof w === 'string' && w !== ''))) {
    out.push(`worker_command: expected null or a non-empty list of words, found ${show(o.worker_command)}`);
  }
  if (typeof o.created !== 'string' || !ISO_TIME_RE.test(o.created)) out.push(`created: expected a UTC time, found ${show(o.created)}`);
  return out;
}

export function parsePool(bytes: Buffer, source: string): PoolDefinition {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new RepositoryError('bad-pool', `${source}: not valid JSON (${(e as Error).message})`);
  }
  const problems = poolProblems(v);
  if (problems.length > 0) throw new RepositoryError('bad-pool', `${source}: field ${problems[0]}`, { data: { problems } });
  return v as PoolDefinition;
}

export function encodePool(p: PoolDefinition): Buffer {
  return canonicalBytes(p);
}

// ---- control.json: pause and drain (spec/pools.md §Control) ----

export interface PoolControl {
  schema: typeof CONTROL_SCHEMA;
  /** Paused: the whole pool, workers on these hosts, or these workers. */
  paused: { all: boolean; hosts: string[]; workers: string[] };
  /** Workers asked to take no more runs and exit once empty (consolidation, pool scale). */
  drain: string[];
}

export function emptyControl(): PoolControl {
  return { schema: CONTROL_SCHEMA, paused: { all: false, hosts: [], workers: [] }, drain: [] };
}

export function parseControl(text: string | undefined, source: string): PoolControl {
  if (text === undefined) return emptyControl();
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new RepositoryError('bad-pool', `${source}: not valid JSON (${(e as Error).message})`);
  }
  const o = v as Partial<PoolControl> | null;
  const strs = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  if (
    typeof o !== 'object' ||
    o === null ||
    o.schema !== CONTROL_SCHEMA ||
    typeof o.paused !== 'object' ||
    o.paused === null ||
    typeof o.paused.all !== 'boolean' ||
    !strs(o.paused.hosts) ||
    !strs(o.paused.workers) ||
    !strs(o.drain)
  ) {
    throw new RepositoryError('bad-pool', `${source}: expected {"schema":"${CONTROL_SCHEMA}","paused":{"all","hosts","workers"},"drain"}, found ${show(v)}`);
  }
  return o as PoolControl;
}

export function encodeControl(c: PoolControl): Buffer {
  return canonicalBytes(c);
}

/** Whether a worker on `host` with id `worker` is paused (§Control). */
export function isPaused(c: PoolControl, host: string, worker: string): boolean {
  return c.paused.all || c.paused.hosts.includes(host) || c.paused.workers.includes(worker);
}

/** The control after `qdo pool pause|resume` of a target (everything, a host, a worker). */
export function applyPause(c: PoolControl, pause: boolean, target: { host?: string; worker?: string }): PoolControl {
  const next: PoolControl = { ...c, paused: { all: c.paused.all, hosts: [...c.paused.hosts], workers: [...c.paused.workers] }, drain: [...c.drain] };
  const set = (list: string[], v: string) => (pause ? [...new Set([...list, v])].sort() : list.filter((x) => x !== v));
  if (target.host !== undefined) next.paused.hosts = set(next.paused.hosts, target.host);
  if (target.worker !== undefined) next.paused.workers = set(next.paused.workers, target.worker);
  if (target.host === undefined && target.worker === undefined) {
    next.paused.all = pause;
    // Resuming everything also resumes what was paused one by one.
    if (!pause) next.paused = { all: false, hosts: [], workers: [] };
  }
  return next;
}
