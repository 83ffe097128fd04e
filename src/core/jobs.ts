// Finding job versions by name, revision or pattern (spec/addressing.md §Patterns), and
// reading what is known of each without reading manifests: the refs give the latest id of
// every name, and the version's submission record gives the rest (spec/submissions.md).
import type { Context } from '../context.js';
import { NotFoundError, QdoError, UsageError } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import type { Submission } from '../model/submission.js';
import type { Layout } from '../store/layout.js';
import { readManifest } from '../store/manifests.js';
import { readRef, readRefs } from '../store/refs.js';
import { readSubmission } from '../store/submissions.js';
import { dropEndedCopiesBut, endedBefore, endedCacheBytes, endedCacheGainsFolders, endedCopy, lookAll, readEndedCache, readThroughEnded, writeEndedCache, type EndedCache, type FileId, type FolderId } from '../store/ended-cache.js';
import { OVERVIEW_MIN_HIDDEN, readOverview, recordFolders, refsIdentity, sameFolders, usableEntry, writeOverview, type Overview, type OverviewEntry } from '../store/overview-cache.js';
import { isTerminal } from '../model/states.js';
import { didYouMean } from '../util/closest.js';
import { resolveRev } from './revs.js';
import { runDirOf } from './runs.js';
import { allAllocations, projectAt, projectIndex, type Allocation, type ProjectLocation } from './world.js';

/** One job version as the lifecycle commands see it. */
export interface JobVersion {
  layout: Layout;
  project: string;
  name: string;
  id: string;
  version: number;
  /** True if the name's ref points at this version. */
  latest: boolean;
  /** Null for a version that was recorded but never submitted through qdo (plumbing). */
  sub: Submission | null;
}

export function fullName(j: { project: string; name: string }): string {
  return `${j.project}/${j.name}`;
}

export function runDirOfJob(j: JobVersion): string {
  return runDirOf(j.layout, j, j.id);
}

const GLOB_CHARS = /[*?[]/;
export function isPattern(s: string): boolean {
  return GLOB_CHARS.test(s);
}

/** Glob → RegExp: `*` and `?` stay inside one path segment, `**` crosses them, `[...]` is a class. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface Selection {
  jobs: JobVersion[];
  allocs: Allocation[];
  /** The project the command ran in, if any (status defaults to it). */
  here: ProjectLocation | null;
  /**
   * Jobs or projects that could not be read (a dangling ref, a damaged record or refs file),
   * when listed with `tolerant`: the rest are listed, these reported (exit 7).
   */
  problems: { subject: string; error: QdoError }[];
  /** With `hideEndedBefore`: the jobs left out for having ended before it. */
  hidden?: HiddenJobs;
}

/** Jobs a view leaves out because they ended before a time (status's overview), by state. */
export interface HiddenJobs {
  count: number;
  states: Map<string, number>;
}

/** Counts `n` (default one) more jobs left out, in `state`. */
export function countHidden(hidden: HiddenJobs, state: string, n = 1): void {
  hidden.count += n;
  hidden.states.set(state, (hidden.states.get(state) ?? 0) + n);
}

/** One allocation's overview cache (store/overview-cache.ts) in a run of listLatest. */
interface OverviewUse {
  /** The file, if its record folders are those of now. */
  loaded: Overview | null;
  /** Every record folder now, looked at before any refs or record this run reads. */
  folders: Map<string, FolderId>;
  /** When they were looked at (the context's clock). */
  at: number;
  /** The entries of the file to write: those used as they were, and those made this run. */
  next: Map<string, OverviewEntry>;
  /** The projects whose refs this run read, and their identities taken before. */
  fresh: Map<ProjectLocation, { packed: FileId | null; journal: FileId | null }>;
  /** Something of the allocation could not be read: no file is written. */
  bad: boolean;
}

async function versionOf(l: Layout, id: string, sub: Submission | null): Promise<number> {
  return sub ? sub.version : (await readManifest(l, id)).version;
}

interface CacheUse {
  cache: EndedCache;
  changed: boolean;
}

async function latestOf(loc: ProjectLocation, name: string, id: string, ended?: CacheUse): Promise<JobVersion> {
  let sub: Submission | null;
  if (ended) {
    const r = readThroughEnded(loc.layout, ended.cache, loc.project, name, id);
    sub = r.sub;
    ended.changed ||= r.changed;
  } else sub = await readSubmission(loc.layout, id);
  return { layout: loc.layout, project: loc.project, name, id, version: await versionOf(loc.layout, id, sub), latest: true, sub };
}

/** A name listLatest looks at: listed if `byPattern`, else only for a sweep selector. */
interface Wanted {
  loc: ProjectLocation;
  name: string;
  id: string;
  byPattern: boolean;
}

/**
 * The names of one project's refs to look at, in name order: those `regs` match (null: every
 * one), and with `all` (a sweep selector) the others too. Its own function, as the other
 * per-name loop below: V8 optimises a hot loop by compiling the function around it, and a
 * short process waits at its exit for that compile to end.
 */
function addWanted(out: Wanted[], loc: ProjectLocation, refs: Map<string, string>, regs: RegExp[] | null, all: boolean): void {
  const prefix = loc.project + '/';
  for (const name of sortedKeys(refs)) {
    const byPattern = regs === null || regs.some((r) => r.test(prefix + name));
    if (byPattern || all) out.push({ loc, name, id: refs.get(name)!, byPattern });
  }
}

/** Marks null in `jobs` the listed names whose cached copy ended before `beforeIso` (from its line's head), counted in `hidden`. */
function countEndedBefore(wanted: Wanted[], jobs: (JobVersion | null)[], caches: Map<Layout, CacheUse>, beforeIso: string, hidden: HiddenJobs, states: (string | undefined)[]): void {
  for (let i = 0; i < wanted.length; i++) {
    const w = wanted[i]!;
    const c = caches.get(w.loc.layout);
    const state = c && w.byPattern ? endedBefore(c.cache, w.loc.project, w.name, w.id, beforeIso) : undefined;
    if (state) {
      countHidden(hidden, state);
      jobs[i] = null;
      states[i] = state;
    }
  }
}

/**
 * Writes the overview cache of each allocation where this run read some project's refs and
 * nothing failed: for each such project, the jobs that ended before `before` (final: before
 * rerun_window began) counted by state, the others by name and version; with the entries
 * still true that it used as they were. Written only where it leaves out enough jobs to pay.
 */
async function writeOverviews(ctx: Context, overviews: Map<Layout, OverviewUse>, wanted: Wanted[], jobs: (JobVersion | null)[], hiddenStates: (string | undefined)[], before: number, beforeIso: string): Promise<void> {
  const made = new Map<ProjectLocation, OverviewEntry>();
  for (let i = 0; i < wanted.length; i++) {
    const w = wanted[i]!;
    const ov = overviews.get(w.loc.layout)!;
    const ids = ov.fresh.get(w.loc);
    if (ids === undefined || ov.bad) continue;
    let e = made.get(w.loc);
    if (e === undefined) made.set(w.loc, (e = { ...ids, before: beforeIso, hidden: new Map(), shown: [] }));
    const sub = jobs[i]?.sub;
    const state = hiddenStates[i] ?? (sub && isTerminal(sub.state) && Date.parse(sub.state_time) < before ? sub.state : undefined);
    if (state !== undefined) e.hidden.set(state, (e.hidden.get(state) ?? 0) + 1);
    else e.shown.push([w.name, w.id]);
  }
  for (const [l, ov] of overviews) {
    if (ov.fresh.size === 0 || ov.bad) continue;
    // A project with no jobs has an entry too (its refs files' identities say so).
    for (const [loc, ids] of ov.fresh) ov.next.set(loc.project, made.get(loc) ?? { ...ids, before: beforeIso, hidden: new Map(), shown: [] });
    let left = 0;
    for (const e of ov.next.values()) for (const n of e.hidden.values()) left += n;
    if (left < OVERVIEW_MIN_HIDDEN) continue;
    // A cache that cannot be written costs speed only.
    await writeOverview(l, { folders: ov.folders, projects: ov.next }, ctx.now().getTime() - ov.at).catch(() => undefined);
  }
}

/**
 * Fills `jobs` (but the entries already null) from the caches' copies where they are usable;
 * returns the indexes of the others (records to read).
 */
function fromEndedCopies(wanted: Wanted[], jobs: (JobVersion | null)[], caches: Map<Layout, CacheUse>): number[] {
  const misses: number[] = [];
  for (let i = 0; i < wanted.length; i++) {
    if (jobs[i] === null) continue;
    const w = wanted[i]!;
    const c = caches.get(w.loc.layout);
    const copy = c && endedCopy(w.loc.layout, c.cache, w.loc.project, w.name, w.id);
    if (copy) jobs[i] = { layout: w.loc.layout, project: w.loc.project, name: w.name, id: w.id, version: copy.version, latest: true, sub: copy };
    else misses.push(i);
  }
  return misses;
}

/** The keys in ascending order: as they come when they already are (a packed refs file's are). */
function sortedKeys(m: Map<string, string>): string[] {
  const keys = [...m.keys()];
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return keys.sort();
  return keys;
}

/** Like Promise.all(items.map(fn)) with at most `limit` calls in flight, results in order. */
export async function mapBounded<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Every version of one job, newest first (walks the parent chain; reads manifests). With
 * `limit`, stops after that many versions: `qdo log -n N` reads N (+1 for the diff) whatever
 * the chain's length.
 */
export async function historyOf(
  j: { layout: Layout; project: string; name: string; id: string },
  latestId?: string,
  limit = Infinity,
  /** The first version's manifest and record, when the caller has read them already. */
  first?: { manifest: Manifest; sub: Submission | null },
): Promise<{ job: JobVersion; manifest: Manifest }[]> {
  const out: { job: JobVersion; manifest: Manifest }[] = [];
  let id: string | null = j.id;
  const seen = new Set<string>();
  while (id !== null && !seen.has(id) && out.length < limit) {
    seen.add(id);
    const known: { manifest: Manifest; sub: Submission | null } | undefined = id === j.id ? first : undefined;
    const m: Manifest = known?.manifest ?? (await readManifest(j.layout, id));
    const sub = known ? known.sub : await readSubmission(j.layout, id);
    out.push({ job: { layout: j.layout, project: j.project, name: j.name, id, version: m.version, latest: id === (latestId ?? j.id), sub }, manifest: m });
    id = m.parent;
  }
  return out;
}

/** Projects a pattern could concern, with the regexp over `project/name`. */
function compile(pat: string, here: ProjectLocation | null): RegExp {
  if (pat.includes('/')) return globToRegExp(pat);
  // A bare pattern means names in the current project, or in every project outside one.
  const name = globToRegExp(pat).source.slice(1, -1);
  if (here) return new RegExp(`^${here.project.replace(/[.+^${}()|\\]/g, '\\$&')}/${name}$`);
  return new RegExp(`^.*/${name}$`);
}

/**
 * Which projects a pattern can select jobs of: a project name, its own; `PROJ-GLOB/NAME-GLOB`
 * (job names are one segment) those matching PROJ-GLOB, unless the last segment has `**`;
 * a bare pattern inside a project, that project; else every project.
 */
function projectsOf(pat: string, here: ProjectLocation | null, idx: Map<string, ProjectLocation>): (project: string) => boolean {
  if (idx.has(pat)) return (p) => p === pat;
  const slash = pat.lastIndexOf('/');
  if (slash < 0) return here ? (p) => p === here.project : () => true;
  if (pat.slice(slash + 1).includes('**')) return () => true;
  const re = globToRegExp(pat.slice(0, slash));
  return (p) => re.test(p);
}

/** `sweep:<id prefix>`: the latest versions a sweep made (spec/sweeps.md §Addressing). */
export function isSweepSelector(s: string): boolean {
  return s.startsWith('sweep:');
}

function sweepPrefix(s: string): string {
  const p = s.slice('sweep:'.length).toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(p)) throw new UsageError(`${JSON.stringify(s)}: expected sweep:<the first 4 or more hex digits of a sweep id>`, { code: 'bad-pattern', hint: 'qdo submit --grid and qdo sweep print the sweep id' });
  return p;
}

function inSweep(sub: Submission | null, prefixes: string[]): boolean {
  const id = (sub?.sweep as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && prefixes.some((p) => id.startsWith(p));
}

/**
 * Latest versions matching any pattern; with no patterns, the current project's jobs (and
 * its sub-projects') when run inside one, else every job of every allocation.
 */
export async function listLatest(ctx: Context, patterns: string[], opts: { allocs?: Allocation[]; tolerant?: boolean; endedCache?: boolean; perFile?: boolean; hideEndedBefore?: number } = {}): Promise<Selection> {
  const problems: Selection['problems'] = [];
  // Tolerant: one damaged job or project must not hide the others (status); else the first damage is the error.
  const tolerate = (subject: string, e: unknown): void => {
    if (!opts.tolerant || !(e instanceof QdoError)) throw e;
    problems.push({ subject, error: e });
  };
  const allocs = opts.allocs ?? (await allAllocations(ctx));
  const idx = projectIndex(allocs);
  const here = projectAt(ctx.cwd, idx);
  // null: every name of the projects listed.
  let regs: RegExp[] | null;
  let projects = [...idx.values()];
  const sweeps = patterns.filter(isSweepSelector).map(sweepPrefix);
  patterns = patterns.filter((p) => !isSweepSelector(p));
  if (patterns.length === 0 && sweeps.length > 0) regs = [];
  else if (patterns.length === 0) {
    if (here) projects = projects.filter((p) => p.project === here.project || p.project.startsWith(here.project + '/'));
    regs = null;
  } else {
    regs = [];
    for (const p of patterns) {
      if (idx.has(p)) regs.push(new RegExp(`^${p.replace(/[.+^${}()|\\]/g, '\\$&')}/[^/]+$`)); // a project: all its jobs
      else regs.push(compile(p, here));
    }
    // Only the projects a pattern can match are read: a filter never reads others' refs.
    const can = patterns.map((p) => projectsOf(p, here, idx));
    projects = projects.filter((loc) => can.some((f) => f(loc.project)));
  }
  const wanted: Wanted[] = [];
  // The ended-record cache (store/ended-cache.ts) of each allocation, for status-like readers,
  // decided after the refs are read (useCache below): undefined where it is not used.
  const caches = new Map<Layout, CacheUse>();
  const cacheOf = (l: Layout): CacheUse | undefined => caches.get(l);
  const refsOf = new Map<ProjectLocation, Map<string, string>>();
  // A sweep selector looks at every job (its record says which sweep made it).
  const scan = sweeps.length > 0 ? [...idx.values()] : projects;
  const before = opts.hideEndedBefore;
  const beforeIso = before === undefined ? '' : new Date(before).toISOString();
  const hidden: HiddenJobs | undefined = before === undefined ? undefined : { count: 0, states: new Map() };
  // The overview (every job of the projects listed, those that ended before `before` left
  // out) comes from each allocation's overview cache for the projects it still holds true for.
  const overviews = hidden && regs === null && sweeps.length === 0 && opts.endedCache && !opts.perFile ? new Map<Layout, OverviewUse>() : undefined;
  const overviewOf = (l: Layout): OverviewUse | undefined => {
    if (overviews === undefined) return undefined;
    let o = overviews.get(l);
    if (o === undefined) {
      const at = ctx.now().getTime();
      const folders = recordFolders(l);
      let loaded = readOverview(l);
      if (loaded !== null && !sameFolders(loaded.folders, folders)) loaded = null;
      overviews.set(l, (o = { loaded, folders, at, next: new Map(loaded?.projects ?? []), fresh: new Map(), bad: false }));
    }
    return o;
  };
  for (const loc of scan.sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0))) {
    const ov = overviewOf(loc.layout);
    if (ov !== undefined) {
      const ids = refsIdentity(loc.layout, loc.project);
      const e = ov.loaded && usableEntry(ov.loaded, loc.project, ids, beforeIso);
      if (e) {
        for (const [state, n] of e.hidden) countHidden(hidden!, state, n);
        for (const [name, id] of e.shown) wanted.push({ loc, name, id, byPattern: true });
        continue;
      }
      ov.next.delete(loc.project);
      ov.fresh.set(loc, ids);
    }
    let refs;
    try {
      refs = await readRefs(loc.layout, loc.project);
    } catch (e) {
      if (ov !== undefined) ov.bad = true;
      tolerate(loc.project, e);
      continue;
    }
    refsOf.set(loc, refs);
    const listed = projects.includes(loc);
    addWanted(wanted, loc, refs, listed ? regs : [], sweeps.length > 0);
  }
  // A large cache is read only where it is cheaper than the records it saves: parsing it
  // costs ~0.1 µs a byte, a record read ~80 µs, so a filter that shows 10 jobs of an
  // allocation whose cache holds 10^5 reads those 10 records instead (issue 13: a filter
  // must not pay for the jobs it does not show). A small cache (<= 256 KiB) is always used.
  if (opts.endedCache) {
    const count = new Map<Layout, number>();
    for (const loc of refsOf.keys()) count.set(loc.layout, 0); // also to drop copies of deleted names
    for (const w of wanted) count.set(w.loc.layout, (count.get(w.loc.layout) ?? 0) + 1);
    for (const [l, n] of count) {
      const bytes = endedCacheBytes(l);
      if (bytes !== null && bytes > 256 * 1024 && n * 800 < bytes) continue;
      // perFile (status --refresh): every copy checked against its own record file.
      const c: CacheUse = { cache: readEndedCache(l, { clock: () => ctx.now().getTime(), perFile: opts.perFile }), changed: false };
      caches.set(l, c);
      // Copies of names a project no longer has go (projects not read keep theirs).
      for (const [loc, refs] of refsOf) {
        if (loc.layout !== l) continue;
        c.changed = dropEndedCopiesBut(c.cache, loc.project, (name) => refs.has(name)) || c.changed;
      }
    }
  }
  // Ended jobs whose record is unchanged on disk come from the cache as they are; one small
  // record per other job is read, concurrently (bounded), the order kept.
  // With hideEndedBefore, a job whose cached copy says it ended before that time, in a record
  // folder the cache trusts, is counted from the head of its line alone, not listed (null in
  // `jobs`). The caller leaves out the others that ended before (status.ts leaveOutEnded),
  // once they are refreshed.
  const jobs: (JobVersion | null)[] = new Array(wanted.length);
  // The state of each job left out from the ended-jobs cache's line heads, by index.
  const hiddenStates: (string | undefined)[] = new Array(wanted.length);
  if (hidden) {
    for (const [l, c] of caches) lookAll(l, c.cache);
    countEndedBefore(wanted, jobs, caches, beforeIso, hidden, hiddenStates);
  }
  const misses = fromEndedCopies(wanted, jobs, caches);
  const read = await mapBounded(misses, 64, (i) =>
    latestOf(wanted[i]!.loc, wanted[i]!.name, wanted[i]!.id, cacheOf(wanted[i]!.loc.layout)).catch((e: unknown) => {
      const ov = overviews?.get(wanted[i]!.loc.layout);
      if (ov !== undefined) ov.bad = true;
      tolerate(`${wanted[i]!.loc.project}/${wanted[i]!.name}`, e);
      return null;
    }),
  );
  misses.forEach((i, k) => (jobs[i] = read[k]!));
  if (overviews !== undefined) await writeOverviews(ctx, overviews, wanted, jobs, hiddenStates, before!, beforeIso);
  // A cache that cannot be written costs speed only. It is also written when it would now
  // hold a record folder's identity it lacks (its copies then need no stat each).
  for (const [l, c] of caches) if (c.changed || endedCacheGainsFolders(c.cache)) await writeEndedCache(l, c.cache).catch(() => undefined);
  const out = jobs.filter((j, i): j is JobVersion => j !== null && (sweeps.length === 0 || wanted[i]!.byPattern || inSweep(j.sub, sweeps)));
  return { jobs: out, allocs, here, problems, ...(hidden ? { hidden } : {}) };
}

/**
 * Arguments of the commands that take `REV…|PATTERN`: a glob pattern selects the latest
 * versions it matches; anything else is a revision (one version, maybe not the latest) or,
 * failing that, a project (all its jobs). Every argument must select something.
 */
export async function selectJobs(ctx: Context, args: string[], what: string): Promise<Selection> {
  if (args.length === 0) throw new NotFoundError('nothing-selected', `${what}: no job given`, { hint: 'give PROJECT/JOB, a revision like JOB@2, or a pattern like "paper/*"' });
  const allocs = await allAllocations(ctx);
  const idx = projectIndex(allocs);
  const here = projectAt(ctx.cwd, idx);
  const out = new Map<string, JobVersion>();
  for (const a of args) {
    if (isPattern(a) || idx.has(a) || isSweepSelector(a)) {
      const sel = await listLatest(ctx, [a], { allocs });
      if (sel.jobs.length === 0) throw noMatch(a, what, await allNames(allocs));
      for (const j of sel.jobs) out.set(j.id, j);
      continue;
    }
    let r;
    try {
      r = await resolveRev(ctx, a, allocs);
    } catch (e) {
      if (e instanceof QdoError && e.code === 'unknown-job') {
        const names = await allNames(allocs);
        throw new NotFoundError('unknown-job', e.message, { hint: didYouMean(a, names) ?? e.hint });
      }
      throw e;
    }
    const latestId = await readRef(r.layout, r.project, r.name);
    const sub = await readSubmission(r.layout, r.id);
    out.set(r.id, { layout: r.layout, project: r.project, name: r.name, id: r.id, version: r.manifest.version, latest: latestId === r.id, sub });
  }
  return { jobs: [...out.values()], allocs, here, problems: [] };
}

async function allNames(allocs: Allocation[]): Promise<string[]> {
  const names: string[] = [];
  for (const loc of projectIndex(allocs).values()) for (const n of (await readRefs(loc.layout, loc.project)).keys()) names.push(`${loc.project}/${n}`);
  return names;
}

function noMatch(pattern: string, what: string, names: string[]): NotFoundError {
  return new NotFoundError('no-match', `${what}: no job matches "${pattern}"`, {
    hint: didYouMean(pattern, names) ?? (names.length ? `${names.length} job(s) exist; list them with: qdo status` : 'no jobs yet: submit one with qdo submit PROJECT/JOB'),
  });
}
