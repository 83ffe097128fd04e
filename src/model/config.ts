// Allocation settings, `.qdo/config.json` (spec/config.md). Written by people; every
// problem names the file and the key.
import { RepositoryError } from '../errors.js';
import { parseArchiveSetting, type ArchiveSetting } from './archive.js';
import { RESOURCE_FLAGS } from './resource-units.js';
import { show } from './resources.js';
import { isSchedulerName } from './pool.js';
import { environmentProblems, isEnvironmentName, schedArgsProblems, workdirProblem, type EnvironmentSpec } from './workspace.js';

export interface AllocationConfig {
  /** Scheduler for jobs of this allocation: slurm, pbs, torque, local, or a plugin name. */
  scheduler?: string;
  /** Plugin name → module path (absolute, or relative to the allocation root). */
  plugins?: Record<string, string>;
  /** Default resource flags (as typed on the command line: {"time": "1h", "partition": "debug"}). */
  defaults?: Record<string, string>;
  /** Seconds between scheduler queries of status commands (issue: job lifecycle). */
  status_interval?: number;
  /** Local backend: how many CPUs it may use (default: all). */
  local_cpus?: number;
  /** Where finished run folders are copied (spec/config.md §Archive); null: explicitly none. */
  archive?: ArchiveSetting | null;
  /** Bounds on what one command may build (spec/config.md §Limits). */
  limits?: Partial<Limits>;
  /**
   * Seconds a submit may take to reach the scheduler after qdo last tried (spec/submissions.md
   * §Recovery): a `submitting` record not found by its tag becomes `not-submitted` only after it.
   */
  submit_grace?: number;
  /** Seconds a scheduler command may run before it is killed (default 30; scheduler-common.md §Runner). */
  command_timeout?: number;
  /** Seconds a job may go unknown to everyone (scheduler, accounting, its records) before it is `lost` (default 600). */
  lost_after?: number;
  /** Seconds after its end during which a job is looked at once more per refresh, for a rerun (default 86400; 0: never). */
  rerun_window?: number;
  /** Slurm: whether to ask accounting (sacct) and job completion records (sacct -c). */
  slurm?: { accounting?: SourceMode; jobcomp?: SourceMode };
  /** PBS Pro and TORQUE: whether to ask the server's history (qstat -x; TORQUE's C records). */
  pbs?: { history?: SourceMode };
  /** Working folder of new versions: run (default), project, or an absolute path (§Working folder). */
  workdir?: string;
  /** Named environments (§Environments): name → modules, venv/conda, env, container. */
  environments?: Record<string, EnvironmentSpec>;
  /** Raw scheduler arguments for every job (§Scheduler arguments): scheduler → list, or a list. */
  sched_args?: Record<string, string[]> | string[];
}

/** spec/config.md §Limits: what one command may build from its input. */
export interface Limits {
  /** Points of one sweep (all its groups). */
  sweep_points: number;
  /** Bytes one template may render to. */
  template_bytes: number;
  /** Seconds one template may take to render. */
  template_seconds: number;
  /** Macro calls nested inside each other in one render. */
  template_depth: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  sweep_points: 100_000,
  template_bytes: 8 * 1024 * 1024,
  template_seconds: 10,
  template_depth: 100,
};

/** The limits of a (merged) config: its own values over the defaults. */
export function limitsOf(cfg: AllocationConfig): Limits {
  return { ...DEFAULT_LIMITS, ...(cfg.limits ?? {}) };
}

/** How a scheduler's secondary source is used (spec/config.md): auto, on (its failures are errors), off. */
export type SourceMode = 'auto' | 'on' | 'off';
export const SOURCE_MODES: readonly SourceMode[] = ['auto', 'on', 'off'];
export const DEFAULT_LOST_AFTER = 600;
export const DEFAULT_RERUN_WINDOW = 86_400;

const KEYS = ['scheduler', 'plugins', 'defaults', 'status_interval', 'local_cpus', 'archive', 'limits', 'submit_grace', 'lost_after', 'rerun_window', 'command_timeout', 'slurm', 'pbs', 'workdir', 'environments', 'sched_args'];
const SECTIONS: Record<string, string[]> = { slurm: ['accounting', 'jobcomp'], pbs: ['history'] };
const NAME_RE = /^[a-z][a-z0-9_-]*$/;

export function parseConfig(text: string, file: string): AllocationConfig {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new RepositoryError('bad-config', `${file}: not valid JSON (${(e as Error).message})`);
  }
  const fail = (key: string, expected: string, found: unknown) =>
    new RepositoryError('bad-config', `${file}: "${key}": expected ${expected}, found ${show(found)}`, { data: { file, key } });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail('(top)', 'a JSON object', v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw fail(k, `one of the known keys (${KEYS.join(', ')})`, k);
  if (o.scheduler !== undefined && (typeof o.scheduler !== 'string' || !isSchedulerName(o.scheduler))) throw fail('scheduler', 'a scheduler name like "slurm" or "pool:gpu"', o.scheduler);
  if (o.plugins !== undefined) {
    if (typeof o.plugins !== 'object' || o.plugins === null || Array.isArray(o.plugins)) throw fail('plugins', 'an object of name → module path', o.plugins);
    for (const [k, p] of Object.entries(o.plugins)) {
      if (!NAME_RE.test(k)) throw fail(`plugins.${k}`, 'a plugin name of lowercase letters, digits, "_", "-"', k);
      if (typeof p !== 'string' || p === '') throw fail(`plugins.${k}`, 'a module path', p);
    }
  }
  if (o.defaults !== undefined) {
    if (typeof o.defaults !== 'object' || o.defaults === null || Array.isArray(o.defaults)) throw fail('defaults', 'an object of resource flag → value', o.defaults);
    for (const [k, d] of Object.entries(o.defaults)) {
      if (!(RESOURCE_FLAGS as readonly string[]).includes(k)) throw fail(`defaults.${k}`, `a resource flag (${RESOURCE_FLAGS.join(', ')})`, k);
      if (typeof d !== 'string' && typeof d !== 'number') throw fail(`defaults.${k}`, 'a string such as "4G" or "1:00:00"', d);
    }
  }
  for (const k of ['status_interval', 'local_cpus', 'lost_after', 'command_timeout'] as const) {
    const n = o[k];
    if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < 1)) throw fail(k, 'an integer >= 1', n);
  }
  const g = o.submit_grace;
  if (g !== undefined && (typeof g !== 'number' || !Number.isInteger(g) || g < 0 || g > 7 * 86400)) throw fail('submit_grace', 'an integer from 0 to 604800 (seconds)', g);
  const archive = o.archive === undefined ? undefined : parseArchiveSetting(o.archive, fail);
  if (o.limits !== undefined) {
    if (typeof o.limits !== 'object' || o.limits === null || Array.isArray(o.limits)) throw fail('limits', 'an object of limit → integer', o.limits);
    const known = Object.keys(DEFAULT_LIMITS);
    for (const [k, n] of Object.entries(o.limits)) {
      if (!known.includes(k)) throw fail(`limits.${k}`, `one of ${known.join(', ')}`, k);
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw fail(`limits.${k}`, 'an integer >= 1', n);
    }
  }
  if (o.rerun_window !== undefined && (typeof o.rerun_window !== 'number' || !Number.isInteger(o.rerun_window) || o.rerun_window < 0)) throw fail('rerun_window', 'an integer >= 0', o.rerun_window);
  for (const [sec, keys] of Object.entries(SECTIONS)) {
    const v = o[sec];
    if (v === undefined) continue;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(sec, `an object with ${keys.join(', ')}`, v);
    for (const [k, m] of Object.entries(v)) {
      if (!keys.includes(k)) throw fail(`${sec}.${k}`, `one of the known keys (${keys.join(', ')})`, k);
      if (!(SOURCE_MODES as readonly unknown[]).includes(m)) throw fail(`${sec}.${k}`, `one of ${SOURCE_MODES.join(', ')}`, m);
    }
  }
  if (o.workdir !== undefined) {
    if (workdirProblem(o.workdir)) throw fail('workdir', '"run", "project" or an absolute folder path', o.workdir);
  }
  if (o.environments !== undefined) {
    if (typeof o.environments !== 'object' || o.environments === null || Array.isArray(o.environments)) throw fail('environments', 'an object of name → environment', o.environments);
    for (const [name, e] of Object.entries(o.environments)) {
      if (!isEnvironmentName(name)) throw fail(`environments.${name}`, 'a name of letters, digits, ".", "_", "-"', name);
      const problems = environmentProblems(e, `environments.${name}`);
      if (problems.length) throw new RepositoryError('bad-config', `${file}: ${problems[0]}`, { data: { file, key: `environments.${name}`, problems } });
    }
  }
  if (o.sched_args !== undefined) {
    const problems = schedArgsProblems(o.sched_args, 'sched_args');
    if (problems.length) throw new RepositoryError('bad-config', `${file}: ${problems[0]}`, { data: { file, key: 'sched_args', problems } });
  }
  const cfg = o as AllocationConfig;
  if (archive !== undefined) cfg.archive = archive;
  if (cfg.defaults) cfg.defaults = Object.fromEntries(Object.entries(cfg.defaults).map(([k, d]) => [k, String(d)]));
  return cfg;
}
