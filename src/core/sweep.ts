// Sweeps (spec/sweeps.md): many named jobs from one definition — `qdo submit NAME-TEMPLATE
// --grid …` or `qdo sweep FILE`. Each point is an ordinary job version (own manifest,
// record and ref), so every other command works on it unchanged; on the scheduler, the
// points of a group go out as few array jobs (§Packing). In order:
//  1. plan: points, names, the sweep id, which points this sweep already submitted;
//  2. prepare every point to submit (prepareSubmit: rendered and checked, nothing written);
//  3. per chunk: under the allocation's sweep lock record the intents and move the refs;
//     release; one scheduler call (packed) or one per job; record the ids (§Intent).
// The decisions are pure functions of sweep-plan.ts; sweep-apply.ts carries out the chunks.
import { join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { NotFoundError, UsageError } from '../errors.js';
import { limitsOf } from '../model/config.js';
import { objectId } from '../model/object-id.js';
import { parseResourceFlags } from '../model/resource-units.js';
import { isTerminal } from '../model/states.js';
import { sweepId as hashSweep, type ArrayJobRef, type SweepRef } from '../model/sweep.js';
import { sweepPoints, type ParamList } from '../model/sweep-points.js';
import { readProjectConfig } from '../store/config.js';
import { readManifest } from '../store/manifests.js';
import { readRefs } from '../store/refs.js';
import { readSubmission } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import type { JobVersion } from './jobs.js';
import { resolveRev } from './revs.js';
import { chooseScheduler } from './scheduler-choice.js';
import { parseRetryOn, prepareSubmit, readFileOr, type Prepared } from './submit.js';
import { submitChunk } from './sweep-apply.js';
import { checkNames, definition, depId, groupDependencies, planChunks, pointResult, renderChunk, schedDependencies, type Group, type Plan, type TemplateRef } from './sweep-plan.js';
import { prepareSibling } from './sweep-prepare.js';
import { schedArgsFor } from '../model/workspace.js';
import { templateOptions } from './template-options.js';
import { allAllocations, projectAt, projectDir, projectIndex, type Allocation, type ProjectLocation } from './world.js';
import { isFile } from '../util/fs.js';

export { DEFAULT_MAX_ARRAY } from './sweep-plan.js';

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
  /** `--workdir` (a relative path: to baseDir), `--env-name`, `--sched-arg` (or a sweep file's scheduler → list). */
  workdir?: string;
  envName?: string;
  schedArgs?: string[] | Record<string, string[]>;
  /** `qdo sweep --sched-arg`: appended to schedArgs. */
  flagSchedArgs?: string[];
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

export async function runSweep(ctx: Context, req: SweepRequest): Promise<SweepResult> {
  if (req.groups.length === 0) throw new UsageError('a sweep needs at least one job group', { code: 'bad-sweep' });
  const allocs = await allAllocations(ctx);
  const groups: Group[] = [];
  let next = 0;
  for (const [gi, g] of req.groups.entries()) groups.push(await planGroup(ctx, allocs, req, g, gi, () => next++, next));
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
        workdir: g.req.workdir === undefined || g.req.workdir === 'run' || g.req.workdir === 'project' ? g.req.workdir : resolve(g.req.baseDir ?? ctx.cwd, g.req.workdir),
        envName: g.req.envName,
        schedArgs: [...schedArgsFor(g.req.schedArgs, g.kind), ...(g.req.flagSchedArgs ?? [])],
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

async function planGroup(ctx: Context, allocs: Allocation[], req: SweepRequest, g: SweepGroupRequest, gi: number, nextIndex: () => number, pointsBefore: number): Promise<Group> {
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
  const projectCfg = await readProjectConfig(l, loc.project, ctx.user);
  const choice = await chooseScheduler(ctx, l, req.scheduler ?? projectCfg.scheduler, req.runner);
  const { clusterName } = await import('../scheduler/cluster.js');
  const cluster = await clusterName(choice.kind, ctx.env, ctx.host);

  const params = sweepPoints({ set: g.set, grids: g.grids, zips: g.zips, points: g.points }, { max: limitsOf(choice.config).sweep_points, before: pointsBefore });
  const { renderNameTemplate } = await import('../template/render.js');
  const points: Plan[] = [];
  for (const p of params) {
    const name = await renderNameTemplate(leaf, p, `${g.field === '--grid' ? 'name template' : g.field}`, templateOptions(ctx, choice.config, []));
    points.push({ index: nextIndex(), group: gi, params: p, name, parentId: null, existing: null, skip: false });
  }

  let template: TemplateRef;
  if (g.script !== undefined && g.command?.length) throw new UsageError(`${g.field}: give a script or a command, not both`, { code: 'two-scripts' });
  if (g.command?.length) template = { command: g.command, identity: { kind: 'command', argv: g.command } };
  else if (g.script !== undefined) template = await templateRef(loc, allocs, g.script, base, g.field);
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

/** As prepareSubmit reads `--script`: a resource the project sees (core/resources.ts), else a file. */
async function templateRef(loc: ProjectLocation, allocs: Allocation[], script: string, base: string, field: string): Promise<TemplateRef> {
  const { resolveScriptResource } = await import('./resources.js');
  const found = await resolveScriptResource(loc, allocs, script);
  if (found) {
    // Read as an include is: a symlink out of its resources folder is refused (spec/templates.md §Includes).
    const { readResource } = await import('../template/render.js');
    const res = readResource([found.root.dir], found.name, `${field}: script`);
    if (res) return { arg: script, identity: { kind: 'resource', name: script, object: objectId(res.bytes) } };
  }
  const path = resolve(base, script);
  if (!(await isFile(path))) {
    throw new NotFoundError('no-such-script', `${field}: script ${script}: neither a resource of ${loc.project} nor a file`, {
      hint: `resources are files in ${join(projectDir(loc.layout, loc.project), 'resources')}`,
    });
  }
  return { arg: path, identity: { kind: 'file', object: objectId(await readFileOr(path, `${field}: script`)) } };
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

