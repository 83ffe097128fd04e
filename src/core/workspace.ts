// What a new version works in (spec/config.md §Working folder, §Environments, §Scheduler
// arguments): its working folder, its named environment and its raw scheduler arguments,
// chosen from flags, the parent (a bare resubmit) and config (project over allocation over
// home). Pure: the configs come in already read.
import { resolve } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';
import type { AllocationConfig } from '../model/config.js';
import type { Manifest } from '../model/manifest.js';
import type { Resources } from '../model/resources.js';
import { DEFAULT_WORKDIR, schedArgsFor, workdirProblem, type EnvironmentField } from '../model/workspace.js';

export interface WorkspaceInput {
  /** `--workdir` as typed: run, project, or a path (relative to `cwd`). */
  workdir?: string;
  /** `--env-name`; `none` drops an inherited environment. */
  envName?: string;
  /** `--sched-arg`, each verbatim. */
  schedArgs?: string[];
}

/** Configs in order of precedence: project's, then the merged allocation+home one. */
export interface WorkspaceConfigs {
  project: AllocationConfig;
  merged: AllocationConfig;
}

/** The `workdir` field of a new version: the flag, else the parent's (resubmit), else config, else `run`. */
export function chooseWorkdir(cwd: string, input: WorkspaceInput, inheritedFrom: Manifest | null, cfg: WorkspaceConfigs): string {
  if (input.workdir !== undefined) {
    const w = input.workdir === 'run' || input.workdir === 'project' ? input.workdir : resolve(cwd, input.workdir);
    const p = workdirProblem(w);
    if (p) throw new UsageError(`--workdir: ${p}`, { code: 'bad-workdir' });
    return w;
  }
  if (inheritedFrom && typeof inheritedFrom.workdir === 'string') return inheritedFrom.workdir;
  return cfg.project.workdir ?? cfg.merged.workdir ?? DEFAULT_WORKDIR;
}

/**
 * The `environment` field: `--env-name NAME` looked up in config (project's, then the
 * allocation's and home's); a bare resubmit takes the parent's by name again (so an edited
 * definition is picked up), or as recorded if config no longer has it.
 */
export function chooseEnvironment(input: WorkspaceInput, inheritedFrom: Manifest | null, cfg: WorkspaceConfigs, project: string): EnvironmentField | undefined {
  const lookup = (name: string) => cfg.project.environments?.[name] ?? cfg.merged.environments?.[name];
  if (input.envName !== undefined) {
    if (input.envName === 'none') return undefined;
    const e = lookup(input.envName);
    if (e === undefined) {
      const known = [...new Set([...Object.keys(cfg.project.environments ?? {}), ...Object.keys(cfg.merged.environments ?? {})])].sort();
      throw new NotFoundError('unknown-environment', `--env-name ${input.envName}: no environment of that name in the config of project ${project}, its allocation or home`, {
        hint: known.length ? `known: ${known.join(', ')}` : 'define one under "environments" in config.json (spec/config.md §Environments)',
      });
    }
    return { name: input.envName, ...e };
  }
  const old = inheritedFrom?.environment as EnvironmentField | undefined;
  if (old === undefined) return undefined;
  const now = lookup(old.name);
  return now !== undefined ? { name: old.name, ...now } : old;
}

/** One `--sched-arg`: a non-empty one-line option (it starts with `-`). */
export function checkSchedArg(a: string, field: string): string {
  if (a === '' || /[\n\r\0]/.test(a) || !a.startsWith('-')) throw new UsageError(`${field}: expected one scheduler option such as "--qos=debug", found ${JSON.stringify(a)}`, { code: 'bad-sched-arg' });
  return a;
}

/**
 * resources.extra[kind] of a new version: config's arguments then `--sched-arg`'s when the
 * flag is given; else the parent's (a resubmit keeps what it had) or config's (a new job).
 */
export function applySchedArgs(resources: Resources, kind: string, input: WorkspaceInput, inherited: boolean, cfg: WorkspaceConfigs): Resources {
  const flags = (input.schedArgs ?? []).map((a, i) => checkSchedArg(a, `--sched-arg #${i + 1}`));
  const fromConfig = schedArgsFor(cfg.project.sched_args ?? cfg.merged.sched_args, kind);
  if (flags.length === 0 && inherited) return resources;
  const list = [...fromConfig, ...flags];
  const extra = { ...(resources.extra ?? {}) };
  if (list.length > 0) extra[kind] = list;
  else delete extra[kind];
  const out: Resources = { ...resources };
  if (Object.keys(extra).length > 0) out.extra = extra;
  else delete out.extra;
  return out;
}
