// Where a job works and what it works in (spec/manifest.md §Extension, spec/config.md
// §Working folder, §Environments, §Scheduler arguments): the working folder (`workdir`),
// named environments and raw scheduler arguments, as config, flags, sweep files and
// manifests hold them. Pure parse and validate; every problem names its field.
import { isAbsolute, normalize } from 'node:path';
import { show } from './resources.js';

/**
 * The working folder of a version (manifest `workdir`): `run` (its run folder, or an array
 * task's folder: the default since format 1 revision "workdir"), `project` (the project
 * folder, what a manifest without the field means) or an absolute path.
 */
export type Workdir = string;
export const DEFAULT_WORKDIR = 'run';
/** What a manifest written before `workdir` existed means (spec/layout.md §Run folders). */
export const LEGACY_WORKDIR = 'project';

const ONE_LINE = (s: string): boolean => s !== '' && !/[\n\r\0]/.test(s);

export function workdirProblem(v: unknown): string | null {
  if (v === 'run' || v === 'project') return null;
  if (typeof v !== 'string' || !ONE_LINE(v) || !isAbsolute(v) || normalize(v) !== v || (v.length > 1 && v.endsWith('/'))) {
    return `expected "run", "project" or an absolute folder path, found ${show(v)}`;
  }
  return null;
}

/** The container part of an environment: its image runs the job script, the run folder bound. */
export interface ContainerSpec {
  /** An image file path or a URI the runtime understands (`docker://…`, `oras://…`). */
  image: string;
  /** `apptainer` (default) or `singularity`. */
  runtime?: 'apptainer' | 'singularity';
  /** More folders to bind (`SRC` or `SRC:DST`), each passed as one `--bind` argument. */
  bind?: string[];
  /** More arguments for `RUNTIME exec`, before the image (e.g. `--nv`, `--cleanenv`). */
  args?: string[];
}

/** A named environment as config defines it (spec/config.md §Environments). */
export interface EnvironmentSpec {
  /** Modules to load, in order (`module load NAME` each). */
  modules?: string[];
  /** A Python venv folder to activate (`. VENV/bin/activate`). */
  venv?: string;
  /** A conda environment (name or prefix) to activate. */
  conda?: string;
  /** Variables to set; the job's own --env wins over them. */
  env?: Record<string, string>;
  container?: ContainerSpec;
}

/** What a manifest records (`environment`): the name and its definition as it was used. */
export interface EnvironmentField extends EnvironmentSpec {
  name: string;
}

const ENV_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const VAR_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_KEYS = ['modules', 'venv', 'conda', 'env', 'container'];
const CONTAINER_KEYS = ['image', 'runtime', 'bind', 'args'];

export function isEnvironmentName(s: string): boolean {
  return ENV_NAME_RE.test(s) && s.length <= 100;
}

function stringList(v: unknown, at: string, out: string[]): void {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || !ONE_LINE(s))) out.push(`${at}: expected a list of non-empty one-line strings, found ${show(v)}`);
}

/** Problems of one environment definition (`at` names it: `environments.gpu`). */
export function environmentProblems(v: unknown, at: string, o: { named?: boolean } = {}): string[] {
  const out: string[] = [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${at}: expected an object (modules, venv, conda, env, container), found ${show(v)}`];
  const e = v as Record<string, unknown>;
  for (const k of Object.keys(e)) {
    if (k === 'name' && o.named) continue;
    if (!ENV_KEYS.includes(k)) out.push(`${at}.${k}: not a known key (${ENV_KEYS.join(', ')})`);
  }
  if (o.named && (typeof e.name !== 'string' || !isEnvironmentName(e.name))) out.push(`${at}.name: expected an environment name, found ${show(e.name)}`);
  if (e.modules !== undefined) stringList(e.modules, `${at}.modules`, out);
  for (const k of ['venv', 'conda'] as const) {
    if (e[k] !== undefined && (typeof e[k] !== 'string' || !ONE_LINE(e[k] as string))) out.push(`${at}.${k}: expected a non-empty one-line string, found ${show(e[k])}`);
  }
  if (e.venv !== undefined && e.conda !== undefined) out.push(`${at}: give venv or conda, not both`);
  if (e.env !== undefined) {
    if (typeof e.env !== 'object' || e.env === null || Array.isArray(e.env)) out.push(`${at}.env: expected an object of variable → string, found ${show(e.env)}`);
    else {
      for (const [k, s] of Object.entries(e.env)) {
        if (!VAR_RE.test(k) || k.startsWith('QDO_') || k.startsWith('qdo_')) out.push(`${at}.env.${k}: not a variable name a job may set`);
        if (typeof s !== 'string' || s.includes('\0')) out.push(`${at}.env.${k}: expected a string, found ${show(s)}`);
      }
    }
  }
  if (e.container !== undefined) {
    const c = e.container as Record<string, unknown>;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) out.push(`${at}.container: expected an object with image, found ${show(c)}`);
    else {
      for (const k of Object.keys(c)) if (!CONTAINER_KEYS.includes(k)) out.push(`${at}.container.${k}: not a known key (${CONTAINER_KEYS.join(', ')})`);
      if (typeof c.image !== 'string' || !ONE_LINE(c.image)) out.push(`${at}.container.image: expected an image path or URI, found ${show(c.image)}`);
      if (c.runtime !== undefined && c.runtime !== 'apptainer' && c.runtime !== 'singularity') out.push(`${at}.container.runtime: expected "apptainer" or "singularity", found ${show(c.runtime)}`);
      if (c.bind !== undefined) stringList(c.bind, `${at}.container.bind`, out);
      if (c.args !== undefined) stringList(c.args, `${at}.container.args`, out);
    }
  }
  return out;
}

/**
 * Raw scheduler arguments (`sched_args` in config and sweep files): scheduler → list, or a
 * bare list meaning "for whichever scheduler the job goes to". Returns the problems.
 */
export function schedArgsProblems(v: unknown, at: string): string[] {
  const out: string[] = [];
  if (Array.isArray(v)) {
    stringList(v, at, out);
    return out;
  }
  if (typeof v !== 'object' || v === null) return [`${at}: expected a list of arguments or an object of scheduler → list, found ${show(v)}`];
  for (const [k, l] of Object.entries(v)) {
    if (!/^[a-z][a-z0-9_-]*$/.test(k)) out.push(`${at}.${k}: expected a scheduler name`);
    stringList(l, `${at}.${k}`, out);
  }
  return out;
}

/** The arguments of `v` (as schedArgsProblems accepts it) for scheduler `kind`. */
export function schedArgsFor(v: unknown, kind: string): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v as string[];
  return ((v as Record<string, string[]>)[kind] ?? []).slice();
}
