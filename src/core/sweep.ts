// Sweeps (spec/sweeps.md): many named jobs from one definition — `qdo submit NAME-TEMPLATE
// --grid …` or `qdo sweep FILE`. Each point is an ordinary job version (own manifest,
// record and ref), so every other command works on it unchanged; on the scheduler, the
// points of a group go out as few array jobs (§Packing). In order:
//  1. plan: points, names, the sweep id, which points this sweep already submitted;
//  2. prepare every point to submit (prepareSubmit: rendered and checked, nothing written);
//  3. per chunk: under the allocation's sweep lock record the intents and move the refs;
//     release; one scheduler call (packed) or one per job; record the ids (§Intent).
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, NotFoundError, QdoError, SchedulerError, UsageError } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import { objectId } from '../model/object-id.js';
import { parseResourceFlags } from '../model/resource-units.js';
import { isTerminal } from '../model/states.js';
import type { Submission } from '../model/submission.js';
import { chunkTag, sweepId as hashSweep, type ArrayJobRef, type SweepDefinition, type SweepRef } from '../model/sweep.js';
import { nameCollisions, sweepPoints, type ParamList } from '../model/sweep-points.js';
import { writeFileAtomic } from '../store/atomic.js';
import { readProjectConfig } from '../store/config.js';
import type { Layout } from '../store/layout.js';
import { readManifest, writeManifest } from '../store/manifests.js';
import { readRefs, updateRef, updateRefs } from '../store/refs.js';
import { changeSubmission, createSubmission, readSubmission, type SubmissionChange } from '../store/submissions.js';
import { chunkDir, withSweepLock } from '../store/sweeps.js';
import type { Runner } from '../scheduler/runner.js';
import type { Backend, Dependency, ElementSpec, RenderSpec } from '../scheduler/types.js';
import { mapBounded, type JobVersion } from './jobs.js';
import { resolveRev } from './revs.js';
import { runDirOf } from './runs.js';
import { chooseScheduler } from './scheduler-choice.js';
import { newSubmission, parseRetryOn, prepareSubmit, readFileOr, writePreparedObjects, type Prepared } from './submit.js';
import { prepareSibling } from './sweep-prepare.js';
import { allAllocations, projectAt, projectDir, projectIndex, type Allocation, type ProjectLocation } from './world.js';
import { isFile } from '../util/fs.js';

/** Files of this many points are written at once (independent files; their fsyncs overlap). */
const WRITE_CONCURRENCY = 16;

/** Array size when the backend does not say (spec/sweeps.md §Packing). */
export const DEFAULT_MAX_ARRAY = 1000;

export interface SweepGroupRequest {
  /** Where the group came from, for messages: "--grid" or "sweep.yaml: jobs[1]". */
  field: string;
  /** What other groups' `after` name it by. */
  id: string;
  /** `PROJECT/NAME-TEMPLATE`, or `NAME-TEMPLATE` inside a project folder; the project part is not a template. */
  job: string;
  script?: string;
  command?: string[];
  set: Record<string, string>;
  grids: ParamList[];
  zips: ParamList[];
  points?: { params: Record<string, string>; field: string }[];
  /** Resource flags as typed (`{time: "1h"}`). */
  flags: Record<string, string | undefined>;
  env: Record<string, string>;
  /** Job revisions every point waits on (afterok). */
  after: string[];
  /** Earlier groups every point waits on (all their jobs). */
  afterGroups: number[];
  prologue?: string;
  epilogue?: string;
  retryOn?: string;
  notify?: string;
  /** Relative file paths (script, prologue, epilogue) resolve here; default the working folder. */
  baseDir?: string;
}

export interface SweepRequest {
  groups: SweepGroupRequest[];
  scheduler?: string;
  noArray?: boolean;
  hold?: boolean;
  dryRun?: boolean;
  runner?: Runner;
  onProgress?: (p: SweepProgress) => void;
}

export interface SweepProgress {
  phase: 'prepare' | 'submit';
  /** Points done in this phase, of `total`. */
  done: number;
  total: number;
}

export interface SweepPoint {
  /** Place in the sweep (all groups, in order): the manifest's `sweep.index`. */
  index: number;
  group: number;
  project: string;
  name: string;
  params: Record<string, string>;
  /** True if this sweep had already submitted the point (its latest version). */
  skipped: boolean;
  /** The new version's id, or the existing one when skipped. */
  id: string;
  version: number;
  parent: string | null;
  state: string;
  schedId: string | null;
  arrayJob: ArrayJobRef | null;
  runDir: string;
}

export interface SweepChunk {
  number: number;
  group: number;
  scheduler: string;
  /** One array job (true) or one job per point. */
  packed: boolean;
  tag: string;
  /** Sweep indexes of its points. */
  points: number[];
  /** The array job's id once submitted (packed only). */
  schedId: string | null;
  /** The array script (packed), else the first job's script. */
  script: string;
}

export interface SweepResult {
  sweepId: string;
  dryRun: boolean;
  points: SweepPoint[];
  chunks: SweepChunk[];
  submitted: number;
  skipped: number;
}

interface TemplateRef {
  /** What prepareSubmit gets: a resource name or an absolute file path. */
  arg?: string;
  command?: string[];
  identity: Record<string, unknown>;
}

interface Group {
  req: SweepGroupRequest;
  loc: ProjectLocation;
  leaf: string;
  kind: string;
  cluster: string;
  template: TemplateRef;
  prologue?: { path: string; id: string };
  epilogue?: { path: string; id: string };
  /** `after` revisions: manifest ids, as typed, and the records of those not yet completed. */
  revDeps: { ids: string[]; revs: string[]; subs: Submission[] };
  points: Plan[];
}

interface Plan {
  index: number;
  group: number;
  params: Record<string, string>;
  name: string;
  parentId: string | null;
  parentManifest?: Manifest;
  /** The name's latest version when this sweep made it (skipped, unless it was never submitted). */
  existing: { id: string; manifest: Manifest; sub: Submission | null } | null;
  skip: boolean;
  prepared?: Prepared;
  /** Where its dependency on this run's submission ends up: array base or own id. */
  schedForDeps?: string;
  sub?: Submission;
}

export async function runSweep(ctx: Context, req: SweepRequest): Promise<SweepResult> {
  if (req.groups.length === 0) throw new UsageError('a sweep needs at least one job group', { code: 'bad-sweep' });
  const allocs = await allAllocations(ctx);
  const groups: Group[] = [];
  let next = 0;
  for (const [gi, g] of req.groups.entries()) groups.push(await planGroup(ctx, allocs, req, g, gi, () => next++));
  checkNames(groups);
  const id = hashSweep(definition(groups));
  const sweep = { id };

  // Which points this sweep already submitted (spec/sweeps.md §Re-running).
  const refsCache = new Map<string, Map<string, string>>();
  const stuck: { plan: Plan; job: JobVersion }[] = [];
  for (const g of groups) {
    const key = `${g.loc.layout.root}\0${g.loc.project}`;
    let refs = refsCache.get(key);
    if (!refs) refsCache.set(key, (refs = await readRefs(g.loc.layout, g.loc.project)));
    for (const p of g.points) {
      p.parentId = refs.get(p.name) ?? null;
      if (p.parentId === null) continue;
      const m = await readManifest(g.loc.layout, p.parentId);
      p.parentManifest = m;
      const ref = m.sweep as SweepRef | undefined;
      if (ref?.id !== id) continue;
      const sub = await readSubmission(g.loc.layout, p.parentId);
      p.existing = { id: p.parentId, manifest: m, sub };
      p.skip = sub !== null && sub.state !== 'not-submitted';
      if (sub?.state === 'submitting') stuck.push({ plan: p, job: { layout: g.loc.layout, project: g.loc.project, name: p.name, id: p.parentId, version: m.version, latest: true, sub } });
    }
  }
  // An earlier run of this sweep stopped mid-chunk: the usual recovery settles those points
  // first (found by tag → submitted; not found → not-submitted, and submitted again below).
  if (stuck.length > 0 && !req.dryRun) {
    const { refreshJobs } = await import('./refresh.js');
    await refreshJobs(ctx, stuck.map((s) => s.job), { runner: req.runner });
    for (const s of stuck) {
      s.plan.existing!.sub = s.job.sub;
      s.plan.skip = s.job.sub !== null && s.job.sub.state !== 'not-submitted';
    }
  }

  // Prepare every point to submit before anything is written (bad input leaves no trace).
  const todo = groups.flatMap((g) => g.points.filter((p) => !p.skip));
  let prepared = 0;
  for (const g of groups) {
    const deps = groupDependencies(groups, g);
    let first: Prepared | undefined;
    for (const p of g.points) {
      if (p.skip) continue;
      const fields = { sweep: { id, index: p.index } satisfies SweepRef };
      if (first) {
        // The others differ only in name, parameters and parent (sweep-prepare.ts).
        p.prepared = await prepareSibling(ctx, first, { name: p.name, params: p.params, parent: p.parentId && p.parentManifest ? { id: p.parentId, manifest: p.parentManifest } : null, fields });
        req.onProgress?.({ phase: 'prepare', done: ++prepared, total: todo.length });
        continue;
      }
      first = p.prepared = await prepareSubmit(ctx, {
        job: `${g.loc.project}/${p.name}`,
        script: g.template.arg,
        command: g.template.command,
        params: p.params,
        flags: g.req.flags,
        env: g.req.env,
        after: [],
        prologue: g.prologue?.path,
        epilogue: g.epilogue?.path,
        retryOn: g.req.retryOn,
        notify: g.req.notify,
        scheduler: g.kind,
        runner: req.runner,
        fields: { ...fields, ...(deps.ids.length ? { after: deps.ids, after_revs: deps.revs } : {}) },
        // The parent this plan read, not the ref now: if another run of this sweep submitted
        // the point meanwhile, the check under the lock must see that (spec/sweeps.md §Re-running).
        parent: p.parentId,
      });
      req.onProgress?.({ phase: 'prepare', done: ++prepared, total: todo.length });
    }
  }

  const chunks = planChunks(groups, sweep.id, req);
  const result = (dryRun: boolean): SweepResult => ({
    sweepId: id,
    dryRun,
    points: groups.flatMap((g) => g.points.map((p) => pointResult(g, p, dryRun))),
    // What this run did, counted when it is done: points a concurrent run of the same sweep
    // submitted first were skipped under the lock, and their chunks went out empty or not at all.
    chunks: chunks.filter((c) => dryRun || c.plans.length > 0).map((c) => ({ number: c.number, group: c.group, scheduler: groups[c.group]!.kind, packed: c.packed, tag: c.tag, points: c.plans.map((p) => p.index), schedId: c.base, script: c.script })),
    submitted: dryRun ? todo.length : groups.reduce((n, g) => n + g.points.filter((p) => !p.skip && p.sub !== undefined).length, 0),
    skipped: groups.reduce((n, g) => n + g.points.filter((p) => p.skip).length, 0),
  });
  if (req.dryRun) {
    for (const c of chunks) {
      const g = groups[c.group]!;
      // Dependencies on groups of this run get their ids only when those are submitted.
      c.script = renderChunk(g, c, g.req.afterGroups.length ? null : g.revDeps.subs.map((s) => depId(s, c.plans[0]!.prepared!.backend)));
    }
    return result(true);
  }

  let done = 0;
  for (const c of chunks) {
    const g = groups[c.group]!;
    const deps = schedDependencies(groups, g, c.plans[0]!.prepared!.backend);
    await submitChunk(ctx, g, c, deps, req, chunks, () => req.onProgress?.({ phase: 'submit', done: ++done, total: todo.length }));
  }
  return result(false);
}

// ---- Planning ----

async function planGroup(ctx: Context, allocs: Allocation[], req: SweepRequest, g: SweepGroupRequest, gi: number, nextIndex: () => number): Promise<Group> {
  const idx = projectIndex(allocs);
  let loc: ProjectLocation | null = null;
  let leaf = g.job;
  if (g.job.includes('/')) {
    // The project is the longest registered prefix; what follows is the name template.
    for (const name of [...idx.keys()].sort((a, b) => b.length - a.length)) {
      if (g.job.startsWith(`${name}/`)) {
        loc = idx.get(name)!;
        leaf = g.job.slice(name.length + 1);
        break;
      }
    }
    if (!loc) throw new NotFoundError('unknown-project', `${g.field}: no project matches "${g.job}": expected PROJECT/NAME-TEMPLATE with a registered project`, { hint: 'list projects with: qdo project list' });
  } else {
    loc = projectAt(ctx.cwd, idx);
    if (!loc) throw new UsageError(`${g.field}: "${g.job}" names no project: give PROJECT/${g.job}, or run inside a project folder`, { code: 'no-project' });
  }
  const l = loc.layout;
  const base = g.baseDir ?? ctx.cwd;
  const projectCfg = await readProjectConfig(l, loc.project);
  const choice = await chooseScheduler(ctx, l, req.scheduler ?? projectCfg.scheduler, req.runner);
  const { clusterName } = await import('../scheduler/cluster.js');
  const cluster = await clusterName(choice.kind, ctx.env, ctx.host);

  const params = sweepPoints({ set: g.set, grids: g.grids, zips: g.zips, points: g.points });
  const { renderNameTemplate } = await import('../template/render.js');
  const points: Plan[] = [];
  for (const p of params) {
    const name = await renderNameTemplate(leaf, p, `${g.field === '--grid' ? 'name template' : g.field}`);
    points.push({ index: nextIndex(), group: gi, params: p, name, parentId: null, existing: null, skip: false });
  }

  let template: TemplateRef;
  if (g.script !== undefined && g.command?.length) throw new UsageError(`${g.field}: give a script or a command, not both`, { code: 'two-scripts' });
  if (g.command?.length) template = { command: g.command, identity: { kind: 'command', argv: g.command } };
  else if (g.script !== undefined) template = await templateRef(loc, g.script, base, g.field);
  else throw new UsageError(`${g.field}: a sweep needs a script (--script RESOURCE|FILE) or a command after --`, { code: 'no-script' });
  const file = async (p: string | undefined, what: string) => {
    if (p === undefined) return undefined;
    const path = resolve(base, p);
    return { path, id: objectId(await readFileOr(path, `${g.field}: ${what}`)) };
  };
  // Checked now (bad values: exit 2 before anything is read or written).
  parseResourceFlags(g.flags);
  if (g.retryOn !== undefined) parseRetryOn(g.retryOn);
  const revDeps = await resolveRevDeps(ctx, allocs, g, choice.kind, cluster);
  return { req: g, loc, leaf, kind: choice.kind, cluster, template, prologue: await file(g.prologue, 'prologue'), epilogue: await file(g.epilogue, 'epilogue'), revDeps, points };
}

/** As prepareSubmit reads `--script`: a resource of the project if one has that name, else a file. */
async function templateRef(loc: ProjectLocation, script: string, base: string, field: string): Promise<TemplateRef> {
  if (!script.includes('/')) {
    const res = join(projectDir(loc.layout, loc.project), 'resources', script);
    if (await isFile(res)) return { arg: script, identity: { kind: 'resource', name: script, object: objectId(await readFileOr(res, `${field}: script`)) } };
  }
  const path = resolve(base, script);
  if (!(await isFile(path))) {
    throw new NotFoundError('no-such-script', `${field}: script ${script}: neither a resource of ${loc.project} nor a file`, {
      hint: `resources are files in ${join(projectDir(loc.layout, loc.project), 'resources')}`,
    });
  }
  return { arg: path, identity: { kind: 'file', object: objectId(await readFileOr(path, `${field}: script`)) } };
}


/** Two points with one name would be one job: refuse, naming them (spec/sweeps.md §Names). */
function checkNames(groups: Group[]): void {
  const all = groups.flatMap((g) => g.points.map((p) => ({ full: `${g.loc.project}/${p.name}`, p })));
  const clashes = nameCollisions(all.map((a) => a.full));
  if (clashes.size === 0) return;
  const show = (p: Plan) => Object.entries(p.params).map(([k, v]) => `${k}=${v}`).join(' ');
  const lines = [...clashes].slice(0, 5).map(([name, ix]) => `${name}: ${ix.map((i) => `{${show(all[i]!.p)}}`).join(', ')}`);
  throw new UsageError(`${clashes.size} name(s) are given by more than one point:\n  ${lines.join('\n  ')}${clashes.size > 5 ? `\n  … and ${clashes.size - 5} more` : ''}`, {
    code: 'name-collision',
    hint: 'put every parameter that varies into the name template, e.g. train-lr{{lr}}-bs{{bs}}',
    data: { names: [...clashes.keys()] },
  });
}

/** The normalised definition whose hash is the sweep id (spec/sweeps.md §Sweep id): no clock, no paths. */
function definition(groups: Group[]): SweepDefinition {
  return {
    groups: groups.map((g) => ({
      project: g.loc.project,
      name: g.leaf,
      template: g.template.identity,
      points: g.points.map((p) => p.params),
      resources: { ...parseResourceFlags(g.req.flags) },
      env: g.req.env,
      prologue: g.prologue?.id ?? null,
      epilogue: g.epilogue?.id ?? null,
      after: g.req.after,
      after_groups: g.req.afterGroups.map((i) => groups[i]!.req.id),
      retry: g.req.retryOn !== undefined ? parseRetryOn(g.req.retryOn) : null,
      notify: g.req.notify ?? null,
      scheduler: g.kind,
    })),
  };
}

/**
 * `--after REV` of a group, resolved once for all its points, as prepareSubmit does for one
 * job: same scheduler and cluster; a completed one is satisfied, a failed one is an error.
 */
async function resolveRevDeps(ctx: Context, allocs: Allocation[], g: SweepGroupRequest, kind: string, cluster: string): Promise<Group['revDeps']> {
  const out: Group['revDeps'] = { ids: [], revs: [], subs: [] };
  for (const rev of g.after) {
    const r = await resolveRev(ctx, rev, allocs);
    const sub = await readSubmission(r.layout, r.id);
    const what = `${g.field}: after ${rev}`;
    const label = `${r.project}/${r.name}@${r.manifest.version}`;
    if (!sub || sub.sched_id === null) throw new UsageError(`${what}: ${label} was never submitted`, { code: 'bad-dependency' });
    if (sub.scheduler !== kind || sub.cluster !== cluster) throw new UsageError(`${what}: that job ran on ${sub.scheduler} ${sub.cluster}, this sweep goes to ${kind} ${cluster}`, { code: 'bad-dependency' });
    out.ids.push(r.id);
    out.revs.push(rev);
    if (sub.state === 'completed') continue;
    if (isTerminal(sub.state)) throw new UsageError(`${what}: ${label} ended ${sub.state}; these jobs would never start`, { code: 'bad-dependency', hint: `retry it first: qdo retry ${rev}` });
    out.subs.push(sub);
  }
  return out;
}

/** Manifest `after`/`after_revs` of a group's points: its revisions, then every job of the groups it waits on. */
function groupDependencies(groups: Group[], g: Group): { ids: string[]; revs: string[] } {
  const ids = [...g.revDeps.ids];
  const revs = [...g.revDeps.revs];
  for (const gi of g.req.afterGroups) {
    const a = groups[gi]!;
    for (const p of a.points) {
      const pid = p.skip ? p.existing!.id : p.prepared?.id;
      if (pid === undefined) throw new Error(`group ${a.req.id} was not prepared before ${g.req.id}`);
      if (p.skip) checkSkippedDependency(a, p, g);
      ids.push(pid);
      revs.push(`${a.loc.project}/${p.name}`);
    }
  }
  return { ids, revs };
}

function checkSkippedDependency(a: Group, p: Plan, g: Group): void {
  const s = p.existing!.sub!;
  if (s.state === 'completed' || !isTerminal(s.state)) return;
  throw new UsageError(`${g.req.field}: waits on ${a.req.id}, whose job ${a.loc.project}/${p.name}@${p.existing!.manifest.version} ended ${s.state}; these jobs would never start`, {
    code: 'bad-dependency',
    hint: `retry it first: qdo retry ${a.loc.project}/${p.name}`,
  });
}

/**
 * Scheduler ids a group waits on, known once the groups before it are submitted: a whole
 * array for points this run packed (Slurm `afterok:<base>` covers every element), else each
 * job's own id — or its array's, where the scheduler cannot wait on single elements.
 */
function schedDependencies(groups: Group[], g: Group, backend: Backend): string[] {
  const ids = g.revDeps.subs.map((s) => depId(s, backend));
  for (const gi of g.req.afterGroups) {
    for (const p of groups[gi]!.points) {
      if (!p.skip) ids.push(p.schedForDeps!);
      else if (p.existing!.sub!.state !== 'completed' && p.existing!.sub!.sched_id) ids.push(depId(p.existing!.sub!, backend));
    }
  }
  return [...new Set(ids)];
}

function depId(sub: Submission, backend: Backend): string {
  const base = (sub.array_job as ArrayJobRef | undefined)?.base;
  return backend.elementDependencies === false && typeof base === 'string' ? base : sub.sched_id!;
}

// ---- Packing (spec/sweeps.md §Packing) ----

interface Chunk {
  number: number;
  group: number;
  packed: boolean;
  tag: string;
  plans: Plan[];
  base: string | null;
  script: string;
}

/** Whether this backend can take a group's points as one array job (spec/sweeps.md §Packing). */
function canPack(b: Backend, req: SweepRequest, spec: RenderSpec): boolean {
  return !req.noArray && b.kind !== 'local' && typeof b.elementId === 'function' && (b.maxArraySize ?? DEFAULT_MAX_ARRAY) >= 2 && spec.resources.array === undefined;
}

function planChunks(groups: Group[], sweep: string, req: SweepRequest): Chunk[] {
  const out: Chunk[] = [];
  const add = (gi: number, plans: Plan[], packed: boolean) => {
    const number = out.length + 1;
    out.push({ number, group: gi, packed: packed && plans.length > 1, tag: chunkTag(sweep, number, plans.map((p) => p.prepared!.id)), plans, base: null, script: '' });
  };
  for (const [gi, g] of groups.entries()) {
    const todo = g.points.filter((p) => !p.skip);
    if (todo.length === 0) continue;
    // Points pack together only if their arrays would be the same: resources, prologue,
    // epilogue and notify (environment and script are per element).
    const packs = new Map<string, Plan[]>();
    for (const p of todo) {
      const s = p.prepared!.spec;
      const key = JSON.stringify([s.resources, s.prologue ?? null, s.epilogue ?? null, s.notify ?? null, s.submitDir]);
      const l = packs.get(key);
      if (l) l.push(p);
      else packs.set(key, [p]);
    }
    for (const plans of packs.values()) {
      const first = plans[0]!.prepared!;
      const packed = canPack(first.backend, req, first.spec) && plans.length > 1;
      // One submit per job still records intents a chunk at a time (one lock per chunk).
      const size = packed ? first.backend.maxArraySize ?? DEFAULT_MAX_ARRAY : DEFAULT_MAX_ARRAY;
      for (let i = 0; i < plans.length; i += size) {
        const part = plans.slice(i, i + size);
        if (packed) for (const piece of fitScript(g, part)) add(gi, piece, true);
        else add(gi, part, false);
      }
    }
  }
  return out;
}

/**
 * Splits a chunk whose array script would exceed the scheduler's script size limit
 * (render() says `script-too-large` with the bytes and the limit) into pieces that fit.
 */
function fitScript(g: Group, plans: Plan[]): Plan[][] {
  if (plans.length < 2) return [plans];
  try {
    renderChunk(g, { number: 1, group: 0, packed: true, tag: 'probe.0.000000000000', plans, base: null, script: '' }, null);
    return [plans];
  } catch (e) {
    if (!(e instanceof QdoError) || e.code !== 'script-too-large') throw e;
    const bytes = Number(e.data.bytes);
    const limit = Number(e.data.limit);
    const n = Math.max(1, Math.min(plans.length - 1, Math.floor(((plans.length * limit) / bytes) * 0.95)));
    const out: Plan[][] = [];
    for (let i = 0; i < plans.length; i += n) out.push(...fitScript(g, plans.slice(i, i + n)));
    return out;
  }
}

/** The script of a chunk: the array script (packed), else its first job's. Dependencies: scheduler ids, or none yet (dry run). */
function renderChunk(g: Group, c: Chunk, deps: string[] | null): string {
  const first = c.plans[0]!.prepared!;
  const dependencies: Dependency[] | undefined = deps && deps.length ? [{ type: 'afterok', ids: deps }] : undefined;
  if (!c.packed) return renderAlone(first, deps);
  const elements: ElementSpec[] = c.plans.map((p, i) => ({ index: i, jobName: p.prepared!.spec.jobName, runDir: p.prepared!.spec.runDir, script: p.prepared!.spec.script, env: p.prepared!.spec.env, tag: p.prepared!.id }));
  const spec: RenderSpec = {
    jobName: `sweep-${c.tag.slice(0, 8)}-${c.number}`,
    resources: first.spec.resources,
    script: '',
    runDir: chunkDir(g.loc.layout, c.tag),
    submitDir: first.spec.submitDir,
    env: {},
    tag: c.tag,
    ...(first.spec.prologue !== undefined ? { prologue: first.spec.prologue } : {}),
    ...(first.spec.epilogue !== undefined ? { epilogue: first.spec.epilogue } : {}),
    ...(first.spec.notify !== undefined ? { notify: first.spec.notify } : {}),
    ...(dependencies ? { dependencies } : {}),
    elements,
  };
  return first.backend.render(spec);
}

/** A point's own script, with this run's dependencies. */
function renderAlone(p: Prepared, deps: string[] | null): string {
  if (!deps || deps.length === 0) return p.script;
  p.spec = { ...p.spec, dependencies: [{ type: 'afterok', ids: deps }] };
  p.deps = deps;
  p.script = p.backend.render(p.spec);
  return p.script;
}

// ---- Submitting (spec/sweeps.md §Intent) ----

async function submitChunk(ctx: Context, g: Group, c: Chunk, deps: string[], req: SweepRequest, all: Chunk[], tick: () => void): Promise<void> {
  const l = g.loc.layout;
  for (const p of c.plans) p.prepared!.deps = deps;
  c.script = renderChunk(g, c, deps);

  // Intents and refs of the whole chunk under the one sweep lock; never across the scheduler call.
  await withSweepLock(l, async () => {
    const refs = await readRefs(l, g.loc.project);
    const kept: Plan[] = [];
    for (const p of c.plans) {
      const now = refs.get(p.name) ?? null;
      if (now === p.parentId) {
        kept.push(p);
        continue;
      }
      // A concurrent run of this same sweep got there first: nothing left to do for it.
      const m = now === null ? null : await readManifest(l, now);
      if ((m?.sweep as SweepRef | undefined)?.id === (p.prepared!.manifest.sweep as SweepRef).id) {
        p.skip = true;
        p.existing = { id: now!, manifest: m!, sub: await readSubmission(l, now!) };
        continue;
      }
      throw new ConflictError('job-moved', `${g.loc.project}/${p.name} got a new version while the sweep was being prepared; nothing of chunk ${c.number} was submitted`, {
        hint: 'run the command again: the points already submitted are skipped',
      });
    }
    if (kept.length !== c.plans.length) {
      c.plans = kept;
      if (c.packed && kept.length > 0) c.script = renderChunk(g, c, deps);
    }
    const moved = new Set<Plan>();
    try {
      // Intents first, the files of different points written side by side (their fsyncs
      // overlap); then the refs, one compare-and-swap each.
      await mapBounded([...c.plans.entries()], WRITE_CONCURRENCY, async ([i, p]) => {
        const pr = p.prepared!;
        await writePreparedObjects(pr);
        const mid = await writeManifest(l, pr.manifest);
        if (mid !== pr.id) throw new Error(`manifest id mismatch ${mid} != ${pr.id}`);
        const sub: Submission = { ...newSubmission(ctx, pr), ...(c.packed ? { array_job: { base: null, index: i, chunk: c.number, tag: c.tag } satisfies ArrayJobRef } : {}) };
        await createSubmission(l, sub);
        p.sub = sub;
      });
      await updateRefs(l, g.loc.project, c.plans.map((p) => ({ name: p.name, next: p.prepared!.id, expect: p.prepared!.manifest.parent })));
      for (const p of c.plans) moved.add(p);
    } catch (e) {
      await undo(l, g, c.plans, moved);
      if (e instanceof ConflictError) {
        throw new ConflictError('job-moved', `a job of chunk ${c.number} got a new version meanwhile; nothing of that chunk was submitted`, { hint: 'run the command again: the points already submitted are skipped', cause: e });
      }
      throw e;
    }
  });
  if (c.plans.length === 0) return;

  if (c.packed) await submitPacked(ctx, g, c, req, all, tick);
  else await submitOneByOne(ctx, g, c, req, all, tick);
}

async function writeRunFolders(plans: Plan[]): Promise<void> {
  await mapBounded(plans, WRITE_CONCURRENCY, async (p) => {
    const pr = p.prepared!;
    await mkdir(pr.spec.runDir, { recursive: true });
    await writeFileAtomic(join(pr.spec.runDir, `job.${pr.backend.kind}.sh`), renderAlone(pr, pr.deps), { mode: 0o755 });
  });
}

async function submitPacked(ctx: Context, g: Group, c: Chunk, req: SweepRequest, all: Chunk[], tick: () => void): Promise<void> {
  const l = g.loc.layout;
  const backend = c.plans[0]!.prepared!.backend;
  await writeRunFolders(c.plans);
  const dir = chunkDir(l, c.tag);
  const scriptPath = join(dir, `array.${backend.kind}.sh`);
  await writeFileAtomic(scriptPath, c.script, { mode: 0o755, mkdirs: true });
  let base: string;
  try {
    base = await backend.submit(scriptPath, { cwd: c.plans[0]!.prepared!.spec.submitDir, hold: req.hold });
  } catch (e) {
    const found = await lookUpAmbiguous(e, backend, c.tag);
    if (found === 'unknown') {
      await Promise.all(c.plans.map((p) => changeSubmission(l, p.sub!.id, stillSubmitting({ reason: `submit ambiguous: ${(e as Error).message}`, state_time: ctx.now().toISOString() }))));
      throw new SchedulerError('submit-ambiguous', `${(e as Error).message}; the ${c.plans.length} points of chunk ${c.number} are recorded as "submitting" and qdo will look for their array job again on the next status`, { cause: e });
    }
    if (found === null) {
      await undo(l, g, c.plans);
      await rm(dir, { recursive: true, force: true });
      throw refused(e, c, all);
    }
    base = found;
  }
  c.base = base;
  const now = ctx.now().toISOString();
  await mapBounded([...c.plans.entries()], WRITE_CONCURRENCY, async ([i, p]) => {
    const sched = backend.elementId!(base, i);
    p.schedForDeps = base; // afterok on the array covers all its elements
    p.sub = (await changeSubmission(l, p.sub!.id, answered(p.sub!, { sched_id: sched, submitted: now, state: req.hold ? 'held' : 'pending', state_source: 'qdo', state_time: now, reason: null, array_job: { ...(p.sub!.array_job as ArrayJobRef), base } })))!;
    tick();
  });
}

async function submitOneByOne(ctx: Context, g: Group, c: Chunk, req: SweepRequest, all: Chunk[], tick: () => void): Promise<void> {
  const l = g.loc.layout;
  await writeRunFolders(c.plans);
  for (const [i, p] of c.plans.entries()) {
    const pr = p.prepared!;
    const scriptPath = join(pr.spec.runDir, `job.${pr.backend.kind}.sh`);
    let sched: string;
    try {
      sched = await pr.backend.submit(scriptPath, { cwd: pr.spec.submitDir, hold: req.hold });
    } catch (e) {
      const rest = c.plans.slice(i + 1);
      const found = await lookUpAmbiguous(e, pr.backend, pr.id);
      if (found === 'unknown') {
        await changeSubmission(l, p.sub!.id, stillSubmitting({ reason: `submit ambiguous: ${(e as Error).message}`, state_time: ctx.now().toISOString() }));
        await undo(l, g, rest);
        throw new SchedulerError('submit-ambiguous', `${(e as Error).message}; ${g.loc.project}/${p.name} is recorded as "submitting" (qdo looks for it again on the next status); the ${rest.length} points after it were not submitted`, { cause: e });
      }
      if (found === null) {
        await undo(l, g, c.plans.slice(i));
        throw refused(e, c, all, i);
      }
      sched = found;
    }
    const now = ctx.now().toISOString();
    p.schedForDeps = sched;
    p.sub = (await changeSubmission(l, p.sub!.id, answered(p.sub!, { sched_id: sched, submitted: now, state: req.hold ? 'held' : 'pending', state_source: 'qdo', state_time: now, reason: null })))!;
    tick();
  }
}

/** After a failed submit: the job's id if an ambiguous answer is resolved by its tag, 'unknown' if it cannot be, null for a refusal. */
async function lookUpAmbiguous(e: unknown, backend: Backend, tag: string): Promise<string | null | 'unknown'> {
  if (!(e instanceof QdoError) || e.code !== 'scheduler-submit-ambiguous') return null;
  if (!backend.findByTag) return 'unknown';
  return (await backend.findByTag(tag).catch(() => null)) ?? 'unknown';
}

function refused(e: unknown, c: Chunk, all: Chunk[], within = 0): unknown {
  if (!(e instanceof QdoError)) return e;
  const before = all.filter((x) => x.number < c.number);
  const kept = before.reduce((n, x) => n + x.plans.length, 0) + within;
  const msg = `chunk ${c.number} of ${all.length} was refused (${e.message}); ${c.plans.length - within} point(s) of it were not submitted${kept ? `, the ${kept} before stay submitted` : ''}`;
  return new QdoError(e.code, e.exitCode, msg, { hint: e.hint ?? 'fix the cause and run the same command again: only what is missing is submitted', cause: e, data: { ...e.data, chunk: c.number } });
}

/** Takes back recorded intents: refs back to their parents, records and run folders removed (as submit's undo). */
async function undo(l: Layout, g: Group, plans: Plan[], moved?: Set<Plan>): Promise<void> {
  for (const p of [...plans].reverse()) {
    const pr = p.prepared!;
    try {
      if (!moved || moved.has(p)) await updateRef(l, { project: g.loc.project, name: p.name, next: pr.manifest.parent, expect: pr.id });
      await changeSubmission(l, pr.id, () => 'delete');
      await rm(pr.spec.runDir, { recursive: true, force: true });
      await rmdir(dirname(pr.spec.runDir)).catch(() => undefined); // the job's runs folder, if this was its only version
    } catch {
      // The ref moved meanwhile (or never moved): keep the version, marked as never submitted.
      const sub = p.sub;
      if (sub) await changeSubmission(l, sub.id, (cur) => ({ ...(cur ?? sub), state: 'not-submitted', state_source: 'qdo', state_time: sub.intent, reason: 'the scheduler refused its chunk' }));
    }
    p.sub = undefined;
  }
}

/** Notes on a record that is still waiting for the scheduler's answer; leaves any other state alone. */
function stillSubmitting(fields: Partial<Submission>): SubmissionChange {
  return (cur) => (cur?.state === 'submitting' ? { ...cur, ...fields } : null);
}

/**
 * The scheduler's answer replaces what a concurrent refresh guessed meanwhile (e.g.
 * not-submitted), unless one already found the job by its tag (same id) and learned more.
 */
function answered(intent: Submission, fields: Partial<Submission>): SubmissionChange {
  return (cur) => (cur && cur.sched_id === fields.sched_id && cur.state !== 'not-submitted' ? null : ({ ...(cur ?? intent), ...fields } as Submission));
}

function pointResult(g: Group, p: Plan, dryRun: boolean): SweepPoint {
  const base = { index: p.index, group: p.group, project: g.loc.project, name: p.name, params: p.params };
  if (p.skip) {
    const e = p.existing!;
    return { ...base, skipped: true, id: e.id, version: e.manifest.version, parent: e.manifest.parent, state: e.sub?.state ?? 'unsubmitted', schedId: e.sub?.sched_id ?? null, arrayJob: (e.sub?.array_job as ArrayJobRef | undefined) ?? null, runDir: runDirOf(g.loc.layout, e.manifest, e.id) };
  }
  const pr = p.prepared!;
  return {
    ...base,
    skipped: false,
    id: pr.id,
    version: pr.manifest.version,
    parent: pr.manifest.parent,
    state: dryRun ? 'dry-run' : (p.sub?.state ?? 'not-submitted'),
    schedId: p.sub?.sched_id ?? null,
    arrayJob: (p.sub?.array_job as ArrayJobRef | undefined) ?? null,
    runDir: pr.spec.runDir,
  };
}
