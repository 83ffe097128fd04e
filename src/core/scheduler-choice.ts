// Which scheduler a command uses (spec/scheduler-common.md §Choosing): --scheduler, then
// QDO_SCHEDULER, then the allocation's config.json, then the home's, then detection.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../context.js';
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
}

export async function chooseScheduler(ctx: Context, alloc: Layout, flag?: string, runner?: Runner): Promise<SchedulerChoice> {
  const home = await homeAllocation(ctx);
  const config = await readConfig(alloc);
  const homeConfig = alloc.root === home.root ? config : await readConfig(home);
  const merged: AllocationConfig = {
    ...homeConfig,
    ...config,
    plugins: { ...(homeConfig.plugins ?? {}), ...(config.plugins ?? {}) },
    defaults: { ...(homeConfig.defaults ?? {}), ...(config.defaults ?? {}) },
  };
  const base = { config: merged, home, alloc, version: null };
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

/** The backend for a choice; plugins resolve relative to the allocation that names them. */
export async function backendFor(
  ctx: Context,
  choice: SchedulerChoice,
  opts: { runner?: Runner; readExitRecord?: (id: string) => Promise<JobState | null>; isArrayJob?: (id: string) => boolean } = {},
): Promise<Backend> {
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
    plugins: choice.config.plugins,
    pluginBase: choice.alloc.root,
  });
}
