// `qdo submit` (spec/submissions.md §Submitting): render the template, store the script and
// the manifest as objects, record the intent, move the ref, then call the scheduler and
// record its id. The intent is on disk before the scheduler call, and the job carries its
// manifest id as a tag, so a qdo killed in between leaves a version that the next refresh
// finds again (findByTag) instead of submitting it twice (refresh.ts §recover).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, NotFoundError, QdoError, RepositoryError, UsageError, errnoCode } from '../errors.js';
import type { AllocationConfig } from '../model/config.js';
import { encodeManifest, MANIFEST_SCHEMA, type Manifest } from '../model/manifest.js';
import { parseResourceFlags } from '../model/resource-units.js';
import type { Resources } from '../model/resources.js';
import { objectId } from '../model/object-id.js';
import type { Submission } from '../model/submission.js';
import { isTerminal } from '../model/states.js';
import { readConfig, readProjectConfig } from '../store/config.js';
import type { Layout } from '../store/layout.js';
import { readManifest } from '../store/manifests.js';
import { readObject } from '../store/objects.js';
import { readRef } from '../store/refs.js';
import { readSubmission } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import type { Backend, CheckAnswer, RenderSpec } from '../scheduler/types.js';
import { applySchedArgs, chooseEnvironment, chooseWorkdir, type WorkspaceConfigs } from './workspace.js';
import { resolveJobPath, resolveRev } from './revs.js';
import { backendFor, chooseScheduler, type SchedulerChoice } from './scheduler-choice.js';
import { templateOptions } from './template-options.js';
import type { RenderOptions } from '../template/render.js';
import { specFromManifest } from './sched.js';
import { allAllocations, projectDir, type Allocation, type ProjectLocation } from './world.js';
import { isFile } from '../util/fs.js';
import { applySubmitPlan } from './submit-apply.js';
import { intentRecord, planSubmit } from './submit-plan.js';

/** Where a job's script template came from (manifest field `template`, spec/manifest.md). */
export type TemplateSource =
  | { kind: 'resource'; name: string; object: string }
  | { kind: 'file'; path: string; object: string }
  | { kind: 'command'; argv: string[] };

/** Retry policy (manifest field `retry`): resubmit automatically after these ends. */
export interface RetryPolicy {
  on: string[];
  max: number;
}
export const RETRYABLE_ENDS = ['node-fail', 'preempted', 'timeout', 'out-of-memory', 'failed'] as const;

export interface SubmitRequest {
  /** PROJECT/JOB, or JOB inside a project folder. */
  job: string;
  /** A resource of the project, or a file. */
  script?: string;
  /** The command after `--`: each word a one-line template. */
  command?: string[];
  params: Record<string, string>;
  /** Resource flags as typed (`{time: "1h"}`). */
  flags: Record<string, string | undefined>;
  env: Record<string, string>;
  after: string[];
  prologue?: string;
  epilogue?: string;
  retryOn?: string;
  notify?: string;
  scheduler?: string;
  hold?: boolean;
  dryRun?: boolean;
  runner?: Runner;
  /** Top-level manifest fields to add (sweeps: `sweep`, and `after`/`after_revs` they resolve themselves). */
  fields?: Record<string, unknown>;
  /** `--workdir`, `--env-name`, `--sched-arg` (core/workspace.ts). */
  workdir?: string;
  envName?: string;
  schedArgs?: string[];
  /** `--check`: ask the scheduler whether it would take the job; record nothing. */
  check?: boolean;
  /**
   * The version the new one follows, as the caller read it (sweeps: the parent their plan
   * saw, so a point another run submitted meanwhile is seen as such under the lock);
   * default: the job's latest version now.
   */
  parent?: string | null;
}

export interface SubmitResult {
  project: string;
  name: string;
  id: string;
  version: number;
  parent: string | null;
  scheduler: string;
  cluster: string;
  schedId: string | null;
  runDir: string;
  /** The exact script for the scheduler (also what --dry-run prints). */
  script: string;
  dryRun: boolean;
  state: string;
  /** `--check`: the scheduler's answer (nothing was submitted or recorded). */
  check?: CheckAnswer;
}

/** Names the templates see besides the parameters themselves (spec/templates.md). */
export const RESERVED_TEMPLATE_NAMES = ['params', 'resources', 'job', 'project', 'allocation', 'scheduler'];

export function parseRetryOn(text: string): RetryPolicy {
  const m = /^([a-z,-]+)(?::(\d+))?$/.exec(text.trim());
  const hint = `expected ENDS[:N] with ENDS from ${RETRYABLE_ENDS.join(', ')}, e.g. node-fail,preempted:3`;
  if (!m) throw new UsageError(`--retry-on ${JSON.stringify(text)}: ${hint}`, { code: 'bad-retry' });
  const on = [...new Set(m[1]!.split(',').filter((s) => s !== ''))];
  for (const e of on) {
    if (!(RETRYABLE_ENDS as readonly string[]).includes(e)) throw new UsageError(`--retry-on: "${e}" is not a job end qdo can retry on`, { code: 'bad-retry', hint });
  }
  const max = m[2] === undefined ? 1 : Number(m[2]);
  if (on.length === 0 || max < 1 || max > 100) throw new UsageError(`--retry-on ${JSON.stringify(text)}: ${hint} (N from 1 to 100)`, { code: 'bad-retry' });
  return { on: on.sort(), max };
}

/** Defaults home < allocation < project < flags; mem and mem-per-cpu, partition and queue replace each other. */
export function mergeResources(layers: Resources[]): Resources {
  let out: Resources = {};
  for (const r of layers) {
    const next: Resources = { ...out };
    if (r.mem !== undefined) delete next.mem_per_cpu;
    if (r.mem_per_cpu !== undefined) delete next.mem;
    out = { ...next, ...r };
  }
  return out;
}

function defaultsOf(cfg: AllocationConfig, where: string): Resources {
  try {
    return parseResourceFlags(cfg.defaults ?? {});
  } catch (e) {
    if (e instanceof QdoError) throw new UsageError(`${where}: defaults: ${e.message}`, { code: 'bad-config' });
    throw e;
  }
}

/** A file a flag names; errors name the flag (exported for sweeps). */
export async function readFileOr(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new NotFoundError('no-such-file', `${field}: no file ${path}`);
    throw new UsageError(`${field}: cannot read ${path}: ${errnoCode(e) ?? String(e)}`);
  }
}


/** Objects a prepare needs that are not stored yet: written only once the whole version is known to be valid. */
type Stash = Map<string, Buffer>;
function stash(objects: Stash, bytes: Buffer): string {
  const id = objectId(bytes);
  objects.set(id, bytes);
  return id;
}

/** `--script X`: a resource the project sees (or `PROJECT:NAME`), else a file (core/resources.ts). */
async function templateFrom(ctx: Context, loc: ProjectLocation, objects: Stash, script: string, allocs: Allocation[], field = '--script'): Promise<{ source: TemplateSource; text: string; label: string }> {
  const { resolveScriptResource } = await import('./resources.js');
  const found = await resolveScriptResource(loc, allocs, script);
  if (found) {
    // Read as an include is: a symlink out of its resources folder is refused (spec/templates.md §Includes).
    const { readResource } = await import('../template/render.js');
    const res = readResource([found.root.dir], found.name, field);
    if (res) {
      const bytes = res.bytes;
      return { source: { kind: 'resource', name: script, object: stash(objects, bytes) }, text: bytes.toString('utf8'), label: found.label };
    }
  }
  const p = resolve(ctx.cwd, script);
  if (!(await isFile(p))) {
    if (field !== '--script') throw new NotFoundError('no-such-file', `${field}: no file ${p} (nor a resource ${script} of ${loc.project})`);
    throw new NotFoundError('no-such-script', `--script ${script}: neither a resource of ${loc.project} nor a file`, {
      hint: `resources are files in ${join(loc.dir, 'resources')}, its parents' and the allocation's (qdo resource list ${loc.project} shows them; add one with: qdo resource add ${loc.project} FILE)`,
    });
  }
  const bytes = await readFileOr(p, field);
  return { source: { kind: 'file', path: p, object: stash(objects, bytes) }, text: bytes.toString('utf8'), label: p };
}

export interface Prepared {
  loc: ProjectLocation;
  allocs: Allocation[];
  choice: SchedulerChoice;
  backend: Backend;
  manifest: Manifest;
  id: string;
  parent: Manifest | null;
  spec: RenderSpec;
  script: string;
  cluster: string;
  deps: string[];
  /** The objects this version needs that are not stored yet (written by submitPrepared; sweeps write them per chunk). */
  objects: Map<string, Buffer>;
}

/** Everything up to the scheduler call, writing nothing (so --dry-run and bad input leave no trace). */
export async function prepareSubmit(ctx: Context, req: SubmitRequest): Promise<Prepared> {
  const allocs = await allAllocations(ctx);
  const addr = resolveJobPath(ctx, req.job, allocs);
  const loc = addr.loc;
  const l = loc.layout;
  const objects: Stash = new Map();
  const parentId = req.parent !== undefined ? req.parent : await readRef(l, loc.project, addr.name);
  const parent = parentId ? await readManifest(l, parentId) : null;

  for (const k of Object.keys(req.params)) {
    if (RESERVED_TEMPLATE_NAMES.includes(k)) throw new UsageError(`--set ${k}=…: "${k}" is reserved in templates (${RESERVED_TEMPLATE_NAMES.join(', ')})`, { code: 'bad-key-value' });
  }
  // Scheduler and resource defaults: flag/env > project > allocation > home > detection.
  const projectCfg = await readProjectConfig(l, loc.project, ctx.user);
  const choice = await chooseScheduler(ctx, l, req.scheduler ?? projectCfg.scheduler, req.runner);
  if (!req.scheduler && projectCfg.scheduler && !ctx.env.QDO_SCHEDULER) choice.evidence = 'project config';
  const flagResources = parseResourceFlags(req.flags);
  const inherited = parent && !req.script && !req.command?.length;

  // What the job is: from the flags, or (a bare resubmit) from the latest version.
  let template: { source: TemplateSource; text: string; label: string };
  let params = req.params;
  let env = req.env;
  let resources: Resources;
  let prologue: string | null = null;
  let epilogue: string | null = null;
  let retry: RetryPolicy | undefined = req.retryOn !== undefined ? parseRetryOn(req.retryOn) : undefined;
  let notify = req.notify;
  let afterRevs = req.after;
  if (req.script !== undefined && req.command?.length) throw new UsageError('give --script or a command after --, not both', { code: 'two-scripts' });
  if (req.script !== undefined) template = await templateFrom(ctx, loc, objects, req.script, allocs);
  else if (req.command?.length) template = { source: { kind: 'command', argv: req.command }, text: '', label: 'the command after --' };
  else if (parent) template = await inheritTemplate(ctx, loc, l, objects, parent, allocs);
  else {
    throw new UsageError(`${loc.project}/${addr.name} is a new job: give --script RESOURCE|FILE or a command after --`, { code: 'no-script' });
  }
  if (inherited && parent) {
    params = { ...parent.params, ...req.params };
    env = { ...parent.env, ...req.env };
    resources = mergeResources([parent.resources, flagResources]);
    prologue = parent.prologue;
    epilogue = parent.epilogue;
    retry ??= parent.retry as RetryPolicy | undefined;
    notify ??= parent.notify as string | undefined;
    if (afterRevs.length === 0 && Array.isArray(parent.after_revs)) afterRevs = parent.after_revs as string[];
  } else {
    const home = choice.home;
    const homeCfg = home.root === l.root ? {} : await readConfig(home, ctx.user);
    const allocCfg = await readConfig(l, ctx.user);
    resources = mergeResources([defaultsOf(homeCfg, home.config), defaultsOf(allocCfg, l.config), defaultsOf(projectCfg, `project ${loc.project} config`), flagResources]);
  }
  const wcfg: WorkspaceConfigs = { project: projectCfg, merged: choice.config };
  const inheritedFrom = inherited ? parent : null;
  resources = applySchedArgs(resources, choice.kind, req, Boolean(inherited), wcfg);
  const workdir = chooseWorkdir(ctx.cwd, req, inheritedFrom, wcfg);
  const environment = chooseEnvironment(req, inheritedFrom, wcfg, loc.project);
  if (environment !== undefined && l.shared === true) await checkEnvironmentSource(ctx, l, loc.project, environment.name, projectCfg);
  const version = parent ? parent.version + 1 : 1;
  const pdir = projectDir(l, loc.project);
  const vars = templateVars(params, resources, { name: addr.name, version, project: loc.project }, pdir, l.root, choice.kind);
  const { renderTemplate } = await import('../template/render.js');
  const renderOpts = templateOptions(ctx, choice.config, await resourceDirs(loc, allocs));

  // Prologue and epilogue are templates like the script (spec/templates.md §Prologue and
  // epilogue): the manifest keeps where each came from and its exact rendered bytes.
  const hooks: Record<string, unknown> = {};
  for (const [field, flag] of [['prologue', req.prologue], ['epilogue', req.epilogue]] as const) {
    let src: { source: TemplateSource; text: string; label: string } | null = null;
    if (flag !== undefined) src = await templateFrom(ctx, loc, objects, flag, allocs, `--${field}`);
    else if (inherited && parent) {
      const old = parent[`${field}_template`] as TemplateSource | undefined;
      if (old !== undefined) src = await inheritHook(loc, l, objects, old, allocs, field);
    }
    if (src === null) continue;
    const text = await renderTemplate({ text: src.text, name: `${field} ${src.label}` }, vars, renderOpts);
    const id = stash(objects, Buffer.from(text, 'utf8'));
    if (field === 'prologue') prologue = id;
    else epilogue = id;
    hooks[`${field}_template`] = src.source;
  }
  let body: string;
  if (template.source.kind === 'command') {
    body = await renderCommand(template.source.argv, '', vars, renderOpts);
  } else {
    body = await renderTemplate({ text: template.text, name: template.label }, vars, renderOpts);
  }
  const scriptId = stash(objects, Buffer.from(body, 'utf8'));

  // Dependencies: each REV's scheduler id, on the same scheduler and cluster.
  const backend = await backendFor(ctx, choice, { runner: req.runner });
  const { clusterName } = await import('../scheduler/cluster.js');
  const cluster = await clusterName(choice.kind, ctx.env, ctx.host);
  const { deps, afterIds } = await resolveDependencies(ctx, allocs, afterRevs, choice.kind, cluster, (rev) => `--after ${rev}`);

  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    project: loc.project,
    name: addr.name,
    version,
    parent: parentId,
    script: scriptId,
    resources,
    scheduler: choice.kind,
    params,
    env,
    prologue,
    epilogue,
    created: ctx.now().toISOString(),
    template: template.source,
    ...(afterIds.length ? { after: afterIds, after_revs: afterRevs } : {}),
    ...(retry ? { retry } : {}),
    ...(notify !== undefined ? { notify } : {}),
    workdir,
    ...(environment !== undefined ? { environment } : {}),
    ...hooks,
    ...(req.fields ?? {}),
  };
  const { id } = encodeManifest(manifest);
  const spec = await specFromManifest(l, manifest, id, { read: async (oid) => objects.get(oid) ?? readObject(l, oid), dependencies: deps });
  const script = backend.render(spec);
  return { loc, allocs, choice, backend, manifest, id, parent, spec, script, cluster, deps, objects };
}

/** Where includes are looked up: the resource folders the project sees, in order (spec/templates.md §Includes). */
export async function resourceDirs(loc: ProjectLocation, allocs: Allocation[]): Promise<string[]> {
  const { resourceSearchRoots } = await import('./resources.js');
  return resourceSearchRoots(loc, allocs).map((r) => r.dir);
}

/** What a template sees (spec/templates.md §Variables). */
export function templateVars(params: Record<string, string>, resources: Resources, job: { name: string; version: number; project: string }, pdir: string, root: string, scheduler: string): Record<string, unknown> {
  return { ...params, params, resources, job, project: { name: job.project, dir: pdir }, allocation: { root }, scheduler };
}

/** A command after `--`: each word a one-line template, rendered, then shell-quoted. */
export async function renderCommand(argv: string[], of: string, vars: Record<string, unknown>, opts: RenderOptions): Promise<string> {
  const { renderTemplate } = await import('../template/render.js');
  const { shellQuote } = await import('../scheduler/wrapper.js');
  const words: string[] = [];
  for (const [i, w] of argv.entries()) words.push(await renderTemplate({ text: w, name: `command word ${i + 1}${of}` }, vars, opts));
  return `#!/bin/bash\n${words.map(shellQuote).join(' ')}\n`;
}

/**
 * Dependencies as scheduler ids: each revision must have been submitted to the same
 * scheduler and cluster; one that completed is dropped (the scheduler may have forgotten
 * it), one that ended otherwise would keep this job from ever starting.
 */
async function resolveDependencies(
  ctx: Context,
  allocs: Allocation[],
  revs: string[],
  kind: string,
  cluster: string,
  what: (rev: string) => string,
): Promise<{ deps: string[]; afterIds: string[] }> {
  const deps: string[] = [];
  const afterIds: string[] = [];
  for (const rev of revs) {
    const r = await resolveRev(ctx, rev, allocs);
    const sub = await readSubmission(r.layout, r.id);
    const label = `${r.project}/${r.name}@${r.manifest.version}`;
    if (!sub || sub.sched_id === null) throw new UsageError(`${what(rev)}: ${label} was never submitted`, { code: 'bad-dependency' });
    if (sub.scheduler !== kind || sub.cluster !== cluster) {
      throw new UsageError(`${what(rev)}: that job ran on ${sub.scheduler} ${sub.cluster}, this one goes to ${kind} ${cluster}`, { code: 'bad-dependency' });
    }
    afterIds.push(r.id);
    if (sub.state === 'completed') continue;
    if (isTerminal(sub.state)) {
      throw new UsageError(`${what(rev)}: ${label} ended ${sub.state}; this job would never start`, { code: 'bad-dependency', hint: `retry it first: qdo retry ${rev}` });
    }
    deps.push(sub.sched_id);
  }
  return { deps, afterIds };
}

/** A bare resubmit re-reads the template where it came from, so an edited resource is picked up. */
async function inheritTemplate(ctx: Context, loc: ProjectLocation, l: Layout, objects: Stash, parent: Manifest, allocs: Allocation[]): Promise<{ source: TemplateSource; text: string; label: string }> {
  const src = parent.template as TemplateSource | undefined;
  if (src?.kind === 'resource') return templateFrom(ctx, loc, objects, src.name, allocs);
  if (src?.kind === 'file') {
    if (await isFile(src.path)) return templateFrom(ctx, loc, objects, src.path, allocs);
    const bytes = await readObject(l, src.object);
    return { source: src, text: bytes.toString('utf8'), label: `${src.path} (as stored; the file is gone)` };
  }
  if (src?.kind === 'command') return { source: src, text: '', label: 'the command after --' };
  // A manifest made without qdo submit: its rendered script is the template.
  const bytes = await readObject(l, parent.script);
  return { source: { kind: 'file', path: `${parent.project}/${parent.name}@${parent.version}`, object: stash(objects, bytes) }, text: bytes.toString('utf8'), label: `the script of ${parent.project}/${parent.name}@${parent.version}` };
}

/**
 * An environment runs code as you (a venv's activate script, a container image, modules), so
 * in a shared allocation one is taken only from a config that is safe under the strict rule,
 * as a plugin is (spec/trust.md §Shared allocations): a member could have written it.
 */
async function checkEnvironmentSource(ctx: Context, l: Layout, project: string, name: string, projectCfg: AllocationConfig): Promise<void> {
  const { projectConfigPath } = await import('../store/config.js');
  const file = projectCfg.environments?.[name] !== undefined ? projectConfigPath(l, project) : (await readConfig(l, ctx.user)).environments?.[name] !== undefined ? l.config : null;
  if (file === null) return; // the home's: yours alone
  const { codeFault } = await import('../store/trust.js');
  const f = await codeFault(file, ctx.user);
  if (f) {
    throw new RepositoryError('untrusted-config', `--env-name ${name}: defined in ${file}, which ${f.path === file ? 'is' : `is under ${f.path}, which is`} ${f.why}; in a shared allocation an environment is taken only from a config no one else can change`, {
      hint: 'define it in your home allocation\'s config, or make the config yours alone (spec/trust.md §Shared allocations)',
      data: { file, path: f.path },
    });
  }
}

/** A bare resubmit re-reads a prologue or epilogue template where it came from, or uses the stored bytes if that is gone. */
async function inheritHook(loc: ProjectLocation, l: Layout, objects: Stash, src: TemplateSource, allocs: Allocation[], field: string): Promise<{ source: TemplateSource; text: string; label: string }> {
  if (src.kind === 'resource') {
    const { resolveScriptResource } = await import('./resources.js');
    const found = await resolveScriptResource(loc, allocs, src.name);
    const { readResource } = await import('../template/render.js');
    const res = found ? readResource([found.root.dir], found.name, `--${field}`) : null;
    if (res) return { source: { kind: 'resource', name: src.name, object: stash(objects, res.bytes) }, text: res.bytes.toString('utf8'), label: found!.label };
  } else if (src.kind === 'file' && (await isFile(src.path))) {
    const bytes = await readFileOr(src.path, `--${field}`);
    return { source: { kind: 'file', path: src.path, object: stash(objects, bytes) }, text: bytes.toString('utf8'), label: src.path };
  }
  if (src.kind === 'command') throw new RepositoryError('bad-manifest', `${field}_template: a ${field} cannot be a command`);
  const bytes = await readObject(l, src.object);
  return { source: src, text: bytes.toString('utf8'), label: `${src.kind === 'file' ? src.path : src.name} (as stored)` };
}

/** The intent record of a prepared version (submit-plan.ts intentRecord; sweeps record theirs a chunk at a time). */
export function newSubmission(ctx: Context, p: { manifest: Manifest; id: string; cluster: string; deps: string[] }): Submission {
  return intentRecord({ host: ctx.host, self: ctx.self, now: ctx.now().toISOString() }, p);
}

export async function submit(ctx: Context, req: SubmitRequest): Promise<SubmitResult> {
  const p = await prepareSubmit(ctx, req);
  const result = (state: string, schedId: string | null, dryRun: boolean): SubmitResult => ({
    project: p.manifest.project,
    name: p.manifest.name,
    id: p.id,
    version: p.manifest.version,
    parent: p.manifest.parent,
    scheduler: p.choice.kind,
    cluster: p.cluster,
    schedId,
    runDir: p.spec.runDir,
    script: p.script,
    dryRun,
    state,
  });
  if (req.dryRun) return result('dry-run', null, true);
  if (req.check) {
    // Nothing is written: the scheduler reads the script from stdin (spec/porcelain.md §qdo submit --check).
    if (!p.backend.check) {
      throw new UsageError(`--check: ${p.choice.kind} has no way to ask whether it would take a job without submitting it`, {
        code: 'check-unavailable',
        hint: p.choice.kind === 'pbs' || p.choice.kind === 'torque' ? 'qsub has no test mode; --dry-run shows the script that would be sent' : '--dry-run shows the script that would be sent',
      });
    }
    const answer = await p.backend.check(p.script, { cwd: p.spec.submitDir });
    return { ...result(answer.accepted ? 'accepted' : 'refused', null, true), check: answer };
  }
  await checkParentSettled(ctx, p, req.runner);
  return submitPrepared(ctx, p, { hold: req.hold }).then((s) => result(s.state, s.sched_id, false));
}

/**
 * A new version while the latest is still `submitting` and its submitter is gone (killed, or
 * it gave up on an ambiguous answer) could run the work twice: that one may still reach the
 * scheduler (spec/submissions.md §Recovery). It is settled first; if it cannot be yet, the
 * submit is refused (exit 4, still-submitting). A living submitter's version is in flight
 * and no reason to refuse.
 */
async function checkParentSettled(ctx: Context, p: Prepared, runner?: Runner): Promise<void> {
  const parentId = p.manifest.parent;
  if (parentId === null) return;
  const l = p.loc.layout;
  const sub = await readSubmission(l, parentId);
  if (sub?.state !== 'submitting') return;
  const { isAbandoned, refreshJobs, submitterOf } = await import('./refresh.js');
  if (ctx.alive(submitterOf(sub)) === 'alive') return;
  const j = { layout: l, project: sub.project, name: sub.name, id: parentId, version: sub.version, latest: true, sub };
  if (isAbandoned(ctx, sub, 0)) await refreshJobs(ctx, [j], { runner, noPolicies: true });
  if (j.sub.state !== 'submitting') return;
  const label = `${sub.project}/${sub.name}@${sub.version}`;
  throw new ConflictError('still-submitting', `${label} is still being submitted: its submitter (pid ${sub.pid} on ${sub.host}) stopped before the scheduler answered, and the job is not found by its tag yet; a new version now could run the work twice`, {
    hint: `qdo status ${sub.project}/${sub.name} settles it: found by its tag, it is recorded; not found, it becomes not-submitted after submit_grace (default 600 s); then submit again`,
  });
}

/** Records the intent, moves the ref, submits, records the answer: the plan (submit-plan.ts), carried out (submit-apply.ts). */
export async function submitPrepared(ctx: Context, p: Prepared, o: { hold?: boolean } = {}): Promise<Submission> {
  const plan = planSubmit(
    { host: ctx.host, self: ctx.self, now: ctx.now().toISOString() },
    { manifest: p.manifest, id: p.id, cluster: p.cluster, deps: p.deps, objects: p.objects.values(), runDir: p.spec.runDir, submitDir: p.spec.submitDir, script: p.script, schedulerKind: p.backend.kind },
    o,
  );
  return applySubmitPlan(ctx, p.loc.layout, p.backend, plan);
}

// ---- Versions derived from a stored manifest (qdo retry, retry policies) ----
// Added for `qdo retry` (spec/porcelain.md §qdo retry): unlike a bare resubmit, which re-reads
// the template where it came from, a retry re-renders the template bytes the old version
// stored, so it reruns what ran, with new resources and parameters.

/** A version to derive from: its manifest and where it lives. */
export interface ManifestBase {
  layout: Layout;
  project: string;
  name: string;
  id: string;
  manifest: Manifest;
}

export interface ManifestChanges {
  /** The new version's resources, complete (the old ones with the changes applied). */
  resources: Resources;
  /** Parameters over the old ones (`--set`). */
  params?: Record<string, string>;
  /** Top-level manifest fields to set (e.g. `retry_of`, `auto_retry`); undefined removes one. */
  fields?: Record<string, unknown>;
  runner?: Runner;
}

/**
 * Everything up to the scheduler call for a new version made from `base`'s manifest,
 * writing nothing. Content (template bytes, params, env, prologue, epilogue, retry, notify,
 * unknown fields) comes from `base`; the parent is the name's CURRENT latest version, so
 * retrying JOB@1 while JOB@3 exists makes JOB@4 with the content of @1. The scheduler
 * is the one `base` was for; dependencies (`after_revs`) are resolved again, as a resubmit does.
 */
export async function prepareFromManifest(ctx: Context, base: ManifestBase, changes: ManifestChanges): Promise<Prepared> {
  const allocs = await allAllocations(ctx);
  const { projectIndex } = await import('./world.js');
  const loc = projectIndex(allocs).get(base.project);
  if (!loc) throw new NotFoundError('unknown-project', `no project "${base.project}" in any allocation (needed to retry ${base.project}/${base.name}@${base.manifest.version})`);
  const l = loc.layout;
  const objects: Stash = new Map();
  const old = base.manifest;
  const label = `${base.project}/${base.name}@${old.version}`;
  const parentId = await readRef(l, base.project, base.name);
  if (parentId === null) throw new NotFoundError('unknown-job', `${base.project}/${base.name} has no versions any more (its ref was deleted); cannot retry ${label}`);
  const parent = await readManifest(l, parentId);
  const params = { ...old.params, ...(changes.params ?? {}) };
  for (const k of Object.keys(changes.params ?? {})) {
    if (RESERVED_TEMPLATE_NAMES.includes(k)) throw new UsageError(`--set ${k}=…: "${k}" is reserved in templates (${RESERVED_TEMPLATE_NAMES.join(', ')})`, { code: 'bad-key-value' });
  }
  const resources = changes.resources;
  const choice = await chooseScheduler(ctx, l, old.scheduler, changes.runner);
  const version = parent.version + 1;
  const pdir = projectDir(l, base.project);
  const vars = templateVars(params, resources, { name: base.name, version, project: base.project }, pdir, l.root, choice.kind);
  const { renderTemplate } = await import('../template/render.js');
  const renderOpts = templateOptions(ctx, choice.config, await resourceDirs(loc, allocs));
  const src = old.template as TemplateSource | undefined;
  let body: string;
  if (src?.kind === 'command') {
    body = await renderCommand(src.argv, ` of ${label}`, vars, renderOpts);
  } else if (src?.kind === 'resource' || src?.kind === 'file') {
    const text = (await readObject(l, src.object)).toString('utf8');
    const where = src.kind === 'resource' ? `resources/${src.name}` : src.path;
    body = await renderTemplate({ text, name: `${where} (as stored for ${label})` }, vars, renderOpts);
  } else {
    // Made without qdo submit: no template was kept, so the script runs again as it was.
    body = (await readObject(l, old.script)).toString('utf8');
  }
  const scriptId = stash(objects, Buffer.from(body, 'utf8'));
  // Prologue and epilogue templates are rendered again from their stored bytes, as the script is.
  const hookIds: Partial<Record<'prologue' | 'epilogue', string>> = {};
  for (const field of ['prologue', 'epilogue'] as const) {
    const hs = old[`${field}_template`] as TemplateSource | undefined;
    if (hs === undefined || hs.kind === 'command') continue;
    const text = (await readObject(l, hs.object)).toString('utf8');
    const rendered = await renderTemplate({ text, name: `${field} ${hs.kind === 'file' ? hs.path : hs.name} (as stored for ${label})` }, vars, renderOpts);
    hookIds[field] = stash(objects, Buffer.from(rendered, 'utf8'));
  }

  const backend = await backendFor(ctx, choice, { runner: changes.runner });
  const { clusterName } = await import('../scheduler/cluster.js');
  const cluster = await clusterName(choice.kind, ctx.env, ctx.host);
  const afterRevs = Array.isArray(old.after_revs) ? (old.after_revs as string[]) : [];
  const { deps, afterIds } = await resolveDependencies(ctx, allocs, afterRevs, choice.kind, cluster, (rev) => `${label} waits on ${rev}`);

  const manifest: Manifest = {
    ...old,
    version,
    parent: parentId,
    script: scriptId,
    resources,
    scheduler: choice.kind,
    params,
    created: ctx.now().toISOString(),
    ...hookIds,
  };
  delete manifest.after;
  delete manifest.after_revs;
  if (afterIds.length) Object.assign(manifest, { after: afterIds, after_revs: afterRevs });
  for (const [k, v] of Object.entries(changes.fields ?? {})) {
    if (v === undefined) delete manifest[k];
    else manifest[k] = v;
  }
  const { id } = encodeManifest(manifest);
  const spec = await specFromManifest(l, manifest, id, { read: async (oid) => objects.get(oid) ?? readObject(l, oid), dependencies: deps });
  const script = backend.render(spec);
  return { loc, allocs, choice, backend, manifest, id, parent, spec, script, cluster, deps, objects };
}
