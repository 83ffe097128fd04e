// The scheduler seam as plumbing (spec/plumbing/sched.md): detect, render, submit, query,
// cancel, hold, release — with one scheduler chosen as in scheduler-choice.ts.
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { NotFoundError, UsageError, errnoCode } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import { checkLeafName } from '../model/names.js';
import type { Resources } from '../model/resources.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Layout } from '../store/layout.js';
import { readObject } from '../store/objects.js';
import type { Runner } from '../scheduler/runner.js';
import type { EnvironmentSetup, JobState, RenderSpec, WorkDirSpec } from '../scheduler/types.js';
import type { EnvironmentField } from '../model/workspace.js';
import { resolveRev } from './revs.js';
import { runDirOf } from './runs.js';
import { backendFor, chooseScheduler, type SchedulerChoice } from './scheduler-choice.js';
import { projectDir, selectAllocation } from './world.js';

export interface SchedOptions {
  scheduler?: string;
  alloc?: string;
  runner?: Runner;
}

async function choose(ctx: Context, o: SchedOptions): Promise<SchedulerChoice> {
  return chooseScheduler(ctx, await selectAllocation(ctx, o.alloc), o.scheduler, o.runner);
}

export async function schedDetect(ctx: Context, o: SchedOptions): Promise<SchedulerChoice> {
  return choose(ctx, o);
}

/** What to render: a recorded job version, or a script and flags. */
export type RenderInput =
  | { rev: string }
  | { script?: string; command?: string[]; name?: string; runDir?: string; resources: Resources; env: Record<string, string>; params: Record<string, string> };

/** `QDO_PARAM_<KEY>` for each parameter, then --env on top (spec/scheduler-common.md §Variables). */
export function jobEnv(params: Record<string, string>, env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) out[`QDO_PARAM_${k}`] = v;
  return { ...out, ...env };
}

/**
 * The RenderSpec of a job version, from its manifest: what `sched render REV` shows and what
 * submit, retry and sweeps send. `read` finds object bytes (submit passes objects it has not
 * written yet); `dependencies` are scheduler ids (afterok).
 */
export async function specFromManifest(
  l: Layout,
  m: Manifest,
  id: string,
  o: { read?: (oid: string) => Promise<Buffer>; dependencies?: string[] } = {},
): Promise<RenderSpec> {
  const read = o.read ?? ((oid: string) => readObject(l, oid));
  const text = async (oid: string | null) => (oid === null ? undefined : (await read(oid)).toString('utf8'));
  const notify = typeof m.notify === 'string' ? m.notify : undefined;
  const envField = m.environment as EnvironmentField | undefined;
  const workDir = workDirSpec(m.workdir);
  return {
    jobName: m.name,
    resources: m.resources,
    script: (await text(m.script))!,
    runDir: runDirOf(l, m, id),
    submitDir: projectDir(l, m.project),
    // The environment's variables first: the job's own --env wins (spec/config.md §Environments).
    env: jobEnv(m.params, { ...(envField?.env ?? {}), ...m.env }),
    tag: id,
    prologue: await text(m.prologue),
    epilogue: await text(m.epilogue),
    ...(o.dependencies?.length ? { dependencies: [{ type: 'afterok', ids: o.dependencies }] } : {}),
    ...(notify !== undefined ? { notify } : {}),
    ...(workDir !== undefined ? { workDir } : {}),
    ...(envField !== undefined ? { environment: environmentSetup(envField) } : {}),
  };
}

/** The manifest's `workdir` as the wrapper takes it; absent or `project`: the submit folder, as before the field existed. */
export function workDirSpec(w: unknown): WorkDirSpec | undefined {
  if (w === 'run') return { kind: 'task' };
  if (typeof w === 'string' && w.startsWith('/')) return { kind: 'path', path: w };
  return undefined;
}

/** What the wrapper sets up of an environment (its variables go into env). */
export function environmentSetup(e: EnvironmentField): EnvironmentSetup {
  return {
    name: e.name,
    ...(e.modules?.length ? { modules: e.modules } : {}),
    ...(e.venv !== undefined ? { venv: e.venv } : {}),
    ...(e.conda !== undefined ? { conda: e.conda } : {}),
    ...(e.container !== undefined ? { container: e.container } : {}),
  };
}

/**
 * A script or command given to `sched render|submit` is a template like `qdo submit`'s
 * (spec/plumbing/sched.md): rendered through the same sandbox with `params` (`--set`),
 * `resources`, `job` (`name`, `version` 1, no project) and `scheduler`; no includes, as
 * there is no project whose resources it could see.
 */
async function specFromInput(ctx: Context, input: Exclude<RenderInput, { rev: string }>, choice: SchedulerChoice): Promise<RenderSpec> {
  let template: string;
  let label: string;
  let defaultName: string;
  if (input.script !== undefined && input.command !== undefined && input.command.length > 0) throw new UsageError('give --script FILE or a command after --, not both');
  if (input.script !== undefined) {
    const p = resolve(ctx.cwd, input.script);
    try {
      template = await readFile(p, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw new NotFoundError('no-such-file', `--script: no file ${p}`);
      throw new UsageError(`--script: cannot read ${p}: ${errnoCode(e) ?? String(e)}`);
    }
    label = p;
    defaultName = basename(p).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'job';
  } else if (input.command && input.command.length > 0) {
    template = '';
    label = 'the command after --';
    defaultName = basename(input.command[0]!).replace(/[^A-Za-z0-9._-]/g, '_') || 'job';
  } else {
    throw new UsageError('nothing to render: give a REV, --script FILE, or a command after --');
  }
  const name = checkLeafName(input.name ?? defaultName, '--name');
  const { RESERVED_TEMPLATE_NAMES, renderCommand } = await import('./submit.js');
  for (const k of Object.keys(input.params)) {
    if (RESERVED_TEMPLATE_NAMES.includes(k)) throw new UsageError(`--set ${k}=…: "${k}" is reserved in templates (${RESERVED_TEMPLATE_NAMES.join(', ')})`, { code: 'bad-key-value' });
  }
  const vars = { ...input.params, params: input.params, resources: input.resources, job: { name, version: 1 }, scheduler: choice.kind };
  const { templateOptions } = await import('./template-options.js');
  const opts = templateOptions(ctx, choice.config, []);
  let script: string;
  if (input.script !== undefined) {
    const { renderTemplate } = await import('../template/render.js');
    script = await renderTemplate({ text: template, name: label }, vars, opts);
  } else {
    script = await renderCommand(input.command!, '', vars, opts);
  }
  return {
    jobName: name,
    resources: input.resources,
    script,
    runDir: resolve(ctx.cwd, input.runDir ?? join('qdo-runs', name)),
    submitDir: ctx.cwd,
    env: jobEnv(input.params, input.env),
  };
}

export async function renderSpecFor(ctx: Context, input: RenderInput, choice: SchedulerChoice): Promise<RenderSpec> {
  if ('rev' in input) {
    const r = await resolveRev(ctx, input.rev);
    return specFromManifest(r.layout, r.manifest, r.id);
  }
  return specFromInput(ctx, input, choice);
}

export async function schedRender(ctx: Context, input: RenderInput, o: SchedOptions): Promise<{ script: string; choice: SchedulerChoice }> {
  const choice = await choose(ctx, o);
  const backend = await backendFor(ctx, choice, { runner: o.runner });
  return { script: backend.render(await renderSpecFor(ctx, input, choice)), choice };
}

export interface SchedSubmitResult {
  id: string;
  scheduler: string;
  runDir: string;
  scriptPath: string;
}

/** Renders, writes the script into the run folder, submits. Records nothing in .qdo. */
export async function schedSubmit(ctx: Context, input: RenderInput, o: SchedOptions & { hold?: boolean }): Promise<SchedSubmitResult> {
  const choice = await choose(ctx, o);
  const backend = await backendFor(ctx, choice, { runner: o.runner });
  const spec = await renderSpecFor(ctx, input, choice);
  const script = backend.render(spec);
  await mkdir(spec.runDir, { recursive: true });
  const scriptPath = join(spec.runDir, `job.${backend.kind}.sh`);
  await writeFileAtomic(scriptPath, script, { mode: 0o755 });
  const id = await backend.submit(scriptPath, { cwd: spec.submitDir, hold: o.hold });
  return { id, scheduler: backend.kind, runDir: spec.runDir, scriptPath };
}

export async function schedQuery(ctx: Context, ids: string[], o: SchedOptions): Promise<JobState[]> {
  if (ids.length === 0) throw new UsageError('query needs at least one scheduler job id');
  const backend = await backendFor(ctx, await choose(ctx, o), { runner: o.runner });
  const states = await backend.query(ids);
  return ids.map((id) => states.get(id) ?? { id, state: 'unknown', raw: '', source: 'none' });
}

export async function schedControl(ctx: Context, action: 'cancel' | 'hold' | 'release', ids: string[], o: SchedOptions): Promise<void> {
  if (ids.length === 0) throw new UsageError(`${action} needs at least one scheduler job id`);
  const backend = await backendFor(ctx, await choose(ctx, o), { runner: o.runner });
  await backend[action](ids);
}
