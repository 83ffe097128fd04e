// Which scheduler a command uses (spec/scheduler-common.md §Choosing): --scheduler, then
// QDO_SCHEDULER, then the allocation's config.json, then the home's, then detection.
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { RepositoryError } from '../errors.js';
import type { AllocationConfig } from '../model/config.js';
import { readConfig } from '../store/config.js';
import type { Layout } from '../store/layout.js';
import type { Runner } from '../scheduler/runner.js';
import type { Backend, JobState } from '../scheduler/types.js';
import { homeAllocation } from './world.js';

export type ChoiceSource = 'flag' | 'env' | 'config' | 'home-config' | 'detected';

export interface SchedulerChoice {
  kind: string;
  source: ChoiceSource;
  version: string | null;
  evidence: string;
  config: AllocationConfig;
  home: Layout;
  alloc: Layout;
  /** Each plugin's module (absolute: relative paths are relative to the allocation of the config naming it) and that config. */
  plugins: Record<string, PluginSource>;
}

export interface PluginSource {
  module: string;
  config: string;
}

export async function chooseScheduler(ctx: Context, alloc: Layout, flag?: string, runner?: Runner): Promise<SchedulerChoice> {
  const home = await homeAllocation(ctx);
  const config = await readConfig(alloc, ctx.user);
  const homeConfig = alloc.root === home.root ? config : await readConfig(home, ctx.user);
  const merged: AllocationConfig = {
    ...homeConfig,
    ...config,
    plugins: { ...(homeConfig.plugins ?? {}), ...(config.plugins ?? {}) },
    defaults: { ...(homeConfig.defaults ?? {}), ...(config.defaults ?? {}) },
    limits: { ...(homeConfig.limits ?? {}), ...(config.limits ?? {}) },
    // An allocation's environment of a name replaces home's of that name (spec/config.md §Environments).
    environments: { ...(homeConfig.environments ?? {}), ...(config.environments ?? {}) },
  };
  const plugins: Record<string, PluginSource> = {};
  for (const [l, c] of [[home, homeConfig], [alloc, config]] as const) {
    for (const [name, path] of Object.entries(c.plugins ?? {})) plugins[name] = { module: isAbsolute(path) ? path : resolve(l.root, path), config: l.config };
  }
  const base = { config: merged, home, alloc, version: null, plugins };
  if (flag) return { ...base, kind: flag, source: 'flag', evidence: '--scheduler' };
  const env = ctx.env.QDO_SCHEDULER;
  if (env) return { ...base, kind: env, source: 'env', evidence: 'QDO_SCHEDULER' };
  if (config.scheduler) return { ...base, kind: config.scheduler, source: 'config', evidence: alloc.config };
  if (homeConfig.scheduler) return { ...base, kind: homeConfig.scheduler, source: 'home-config', evidence: home.config };
  const { detectScheduler } = await import('../scheduler/detect.js');
  const d = await detectScheduler(ctx.env, runner);
  return { ...base, kind: d.kind, source: 'detected', version: d.version, evidence: d.evidence };
}

export interface BackendFor {
  choice: SchedulerChoice;
  backend: Backend;
}

/**
 * The backend for a choice. A plugin is loaded only if its module and the config naming it
 * pass the strict trust rule (spec/trust.md §Code): owned by you or root, writable by nobody
 * else, and so every folder from "/" to them.
 */
export async function backendFor(
  ctx: Context,
  choice: SchedulerChoice,
  opts: { runner?: Runner; readExitRecord?: (id: string) => Promise<JobState | null>; isArrayJob?: (id: string) => boolean } = {},
): Promise<Backend> {
  if (choice.kind.startsWith('pool:')) {
    // A pool is qdo's own queue in an allocation (spec/pools.md §Submitting), not a scheduler.
    const { poolBackend } = await import('./pool/find.js');
    return poolBackend(ctx, choice.kind);
  }
  const { createBackend } = await import('../scheduler/registry.js');
  return createBackend(choice.kind, {
    runner: opts.runner,
    readExitRecord: opts.readExitRecord,
    isArrayJob: opts.isArrayJob,
    // Secondary sources (config.md `slurm`, `pbs`): accounting, job completion, history.
    slurmAccounting: choice.config.slurm?.accounting,
    slurmJobcomp: choice.config.slurm?.jobcomp,
    pbsHistory: choice.config.pbs?.history,
    timeoutMs: choice.config.command_timeout !== undefined ? choice.config.command_timeout * 1000 : undefined,
    spoolDir: join(choice.home.dir, 'local'),
    cpus: choice.config.local_cpus ?? availableParallelism(),
    env: ctx.env,
    plugins: {
      modules: Object.fromEntries(Object.entries(choice.plugins).map(([k, v]) => [k, v.module])),
      check: (kind) => checkPlugin(ctx, kind, choice.plugins[kind]!),
    },
  });
}

async function checkPlugin(ctx: Context, kind: string, src: PluginSource): Promise<void> {
  const { codeFault, GroupBook } = await import('../store/trust.js');
  const groups = new GroupBook(ctx.user);
  for (const [what, file] of [
    ['the config naming it', src.config],
    ['its module', src.module],
  ] as const) {
    const f = await codeFault(file, ctx.user, groups);
    if (!f) continue;
    throw new RepositoryError('untrusted-plugin', `scheduler plugin "${kind}": ${what}, ${file}: ${f.path === file ? 'it' : f.path} is ${f.why}; qdo loads code only from files that you or root own and nobody else can change`, {
      hint: f.why.startsWith('writable') ? `chmod go-w ${f.path}` : `install the plugin where only you or root can change it (spec/trust.md)`,
      data: { plugin: kind, file, path: f.path },
    });
  }
}
