// The pure half of sweeps (spec/sweeps.md): the plan as data, decided without disk or
// scheduler — which points have which names, the sweep id's definition, dependencies, how
// points pack into chunks (§Packing), what the check under the sweep lock decides (§Re-
// running), and how a record changes with the scheduler's answer. sweep.ts reads what the
// plan needs; sweep-apply.ts carries it out. Unit-tested in test/core/sweep-plan.test.ts.
import { QdoError, UsageError } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import { parseResourceFlags } from '../model/resource-units.js';
import { isTerminal } from '../model/states.js';
import type { Submission } from '../model/submission.js';
import { chunkTag, type ArrayJobRef, type SweepDefinition } from '../model/sweep.js';
import { nameCollisions } from '../model/sweep-points.js';
import { chunkDir } from '../store/sweeps.js';
import type { SubmissionChange } from '../store/submissions.js';
import type { Backend, Dependency, ElementSpec, RenderSpec } from '../scheduler/types.js';
import { runDirOf } from './runs.js';
import { answerRecord } from './submit-plan.js';
import { parseRetryOn, type Prepared } from './submit.js';
import type { SweepGroupRequest, SweepPoint, SweepRequest } from './sweep.js';
import type { ProjectLocation } from './world.js';

/** Array size when the backend does not say (spec/sweeps.md §Packing). */
export const DEFAULT_MAX_ARRAY = 1000;

export interface TemplateRef {
  /** What prepareSubmit gets: a resource name or an absolute file path. */
  arg?: string;
  command?: string[];
  identity: Record<string, unknown>;
}

export interface Group {
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

export interface Plan {
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


/** Two points with one name would be one job: refuse, naming them (spec/sweeps.md §Names). */
export function checkNames(groups: Group[]): void {
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
export function definition(groups: Group[]): SweepDefinition {
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


/** Manifest `after`/`after_revs` of a group's points: its revisions, then every job of the groups it waits on. */
export function groupDependencies(groups: Group[], g: Group): { ids: string[]; revs: string[] } {
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
export function schedDependencies(groups: Group[], g: Group, backend: Backend): string[] {
  const ids = g.revDeps.subs.map((s) => depId(s, backend));
  for (const gi of g.req.afterGroups) {
    for (const p of groups[gi]!.points) {
      if (!p.skip) ids.push(p.schedForDeps!);
      else if (p.existing!.sub!.state !== 'completed' && p.existing!.sub!.sched_id) ids.push(depId(p.existing!.sub!, backend));
    }
  }
  return [...new Set(ids)];
}

export function depId(sub: Submission, backend: Backend): string {
  const base = (sub.array_job as ArrayJobRef | undefined)?.base;
  return backend.elementDependencies === false && typeof base === 'string' ? base : sub.sched_id!;
}


// ---- Packing (spec/sweeps.md §Packing) ----

export interface Chunk {
  number: number;
  group: number;
  packed: boolean;
  tag: string;
  plans: Plan[];
  base: string | null;
  script: string;
}

/** Whether this backend can take a group's points as one array job (spec/sweeps.md §Packing). */
export function canPack(b: Backend, req: SweepRequest, spec: RenderSpec): boolean {
  return !req.noArray && typeof b.elementId === 'function' && (b.maxArraySize ?? DEFAULT_MAX_ARRAY) >= 2 && spec.resources.array === undefined;
}

export function planChunks(groups: Group[], sweep: string, req: SweepRequest): Chunk[] {
  const out: Chunk[] = [];
  const add = (gi: number, plans: Plan[], packed: boolean) => {
    const number = out.length + 1;
    out.push({ number, group: gi, packed: packed && plans.length > 1, tag: chunkTag(sweep, number, plans.map((p) => p.prepared!.id)), plans, base: null, script: '' });
  };
  for (const [gi, g] of groups.entries()) {
    const todo = g.points.filter((p) => !p.skip);
    if (todo.length === 0) continue;
    // Points pack together only if their arrays would be the same: resources, prologue,
    // epilogue (rendered per point: one that names the point splits the pack), notify,
    // working folder and named environment (variables and script are per element).
    const packs = new Map<string, Plan[]>();
    for (const p of todo) {
      const s = p.prepared!.spec;
      const key = JSON.stringify([s.resources, s.prologue ?? null, s.epilogue ?? null, s.notify ?? null, s.submitDir, s.workDir ?? null, s.environment ?? null]);
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
export function renderChunk(g: Group, c: Chunk, deps: string[] | null): string {
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
    ...(first.spec.workDir !== undefined ? { workDir: first.spec.workDir } : {}),
    ...(first.spec.environment !== undefined ? { environment: first.spec.environment } : {}),
    ...(dependencies ? { dependencies } : {}),
    elements,
  };
  return first.backend.render(spec);
}

/** A point's own script, with this run's dependencies. */
export function renderAlone(p: Prepared, deps: string[] | null): string {
  if (!deps || deps.length === 0) return p.script;
  p.spec = { ...p.spec, dependencies: [{ type: 'afterok', ids: deps }] };
  p.deps = deps;
  p.script = p.backend.render(p.spec);
  return p.script;
}


/** What the check under the sweep lock found for a chunk (spec/sweeps.md §Re-running). */
export interface Judgement {
  /** Points whose ref is still where the plan read it: recorded and submitted now. */
  keep: Plan[];
  /** Points a concurrent run of this same sweep submitted first: nothing left to do. */
  done: Plan[];
  /** A point whose job got a version from elsewhere meanwhile: the chunk is refused. */
  moved: Plan | null;
}

/**
 * Judges a chunk against the refs as they are now: `refNow(name)` is the name's latest
 * version, `sweepOf(id)` the sweep id of a version (undefined if none). A point whose ref
 * moved to a version of this sweep was submitted by another run of it; one moved elsewhere
 * (a plain submit, another sweep) makes the whole chunk a conflict.
 */
export function judgeChunk(plans: Plan[], sweep: string, refNow: (name: string) => string | null, sweepOf: (id: string) => string | undefined): Judgement {
  const out: Judgement = { keep: [], done: [], moved: null };
  for (const p of plans) {
    const now = refNow(p.name);
    if (now === p.parentId) out.keep.push(p);
    else if (now !== null && sweepOf(now) === sweep) out.done.push(p);
    else if (out.moved === null) out.moved = p;
  }
  return out;
}

/** Notes on a record that is still waiting for the scheduler's answer; leaves any other state alone. */
export function stillSubmitting(fields: Partial<Submission>): SubmissionChange {
  return (cur) => (cur?.state === 'submitting' ? { ...cur, ...fields } : null);
}

/**
 * The scheduler's answer replaces what a concurrent refresh guessed meanwhile (e.g.
 * not-submitted), unless one already found the job by its tag (same id) and learned more.
 */
export function answered(intent: Submission, fields: Partial<Submission>): SubmissionChange {
  return (cur) => answerRecord(cur, intent, fields);
}


export function pointResult(g: Group, p: Plan, dryRun: boolean): SweepPoint {
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
