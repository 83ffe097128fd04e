// Resources (spec/layout.md §Resources): ordinary files in `<project folder>/resources/` and
// in `<allocation>/resources/` (the allocation's shared resources), edited freely by users.
// A job that uses one captures its exact bytes as an object, so later edits never change
// what an old job ran.
//
// Which file a name means is decided here and nowhere else: resourceSearchRoots gives the
// folders a project sees, in order (its own, its parent projects' nearest first, its
// allocation's), and resolveResource takes the first that has the name. `qdo submit
// --script NAME`, template includes (the same list of roots) and `qdo resource list|show`
// all use these two functions.
import { readFile, stat } from 'node:fs/promises';
import { namesIn } from '../util/fs.js';
import { basename, join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, NotFoundError, RepositoryError, UsageError, errnoCode } from '../errors.js';
import { checkLeafName, isValidLeafName, isValidProjectName } from '../model/names.js';
import { writeFileAtomic } from '../store/atomic.js';
import { didYouMean } from '../util/closest.js';
import { allAllocations, locateProject, projectAt, projectIndex, type Allocation, type ProjectLocation } from './world.js';

export const RESOURCES_DIR = 'resources';

/** Where a resource folder sits relative to the project asking (spec/layout.md §Resources). */
export type ResourceOrigin = 'own' | 'parent' | 'allocation';

export interface ResourceRoot {
  /** The folder holding the resource files. */
  dir: string;
  origin: ResourceOrigin;
  /** The project whose folder it is; null for the allocation's shared resources. */
  project: string | null;
  /** Root of the allocation the folder is in. */
  alloc: string;
}

export function resourcesDir(loc: ProjectLocation): string {
  return join(loc.dir, RESOURCES_DIR);
}

/**
 * The allocation's shared resources folder, `<allocation>/resources/`; null while a
 * top-level project named `resources` (made before the name was reserved) owns that folder.
 */
export function allocationResourceRoot(a: Allocation): ResourceRoot | null {
  if (!a.layout || a.projects.includes(RESOURCES_DIR)) return null;
  return { dir: join(a.root, RESOURCES_DIR), origin: 'allocation', project: null, alloc: a.root };
}

/**
 * The folders project `loc` takes resources from, first match wins: its own `resources/`,
 * then each parent project's (`a/b/c` → `a/b` → `a`; only names registered as projects,
 * wherever their allocation is), then its allocation's shared `resources/`. Pure: the
 * allocations are given, nothing is read.
 */
export function resourceSearchRoots(loc: ProjectLocation, allocs: Allocation[]): ResourceRoot[] {
  const roots: ResourceRoot[] = [{ dir: resourcesDir(loc), origin: 'own', project: loc.project, alloc: loc.alloc.root }];
  const idx = projectIndex(allocs);
  const segs = loc.project.split('/');
  for (let n = segs.length - 1; n >= 1; n--) {
    const p = idx.get(segs.slice(0, n).join('/'));
    if (p) roots.push({ dir: resourcesDir(p), origin: 'parent', project: p.project, alloc: p.alloc.root });
  }
  const shared = allocationResourceRoot(allocs.find((a) => a.root === loc.alloc.root) ?? loc.alloc);
  if (shared) roots.push(shared);
  return roots;
}

/** How messages and tables name where a resource comes from: `own`, `parent paper`, `allocation /scratch/me`. */
export function describeOrigin(r: ResourceRoot): string {
  return r.origin === 'own' ? 'own' : r.origin === 'parent' ? `parent ${r.project}` : `allocation ${r.alloc}`;
}

export interface ResolvedResource {
  name: string;
  path: string;
  size: number;
  root: ResourceRoot;
  /** The name template errors use: `resources/NAME` for the project's own, else the file's path. */
  label: string;
}

async function fileIn(root: ResourceRoot, name: string): Promise<ResolvedResource | null> {
  const path = join(root.dir, name);
  try {
    const st = await stat(path);
    if (!st.isFile()) return null;
    return { name, path, size: st.size, root, label: root.origin === 'own' ? `${RESOURCES_DIR}/${name}` : path };
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT' || c === 'ENOTDIR') return null;
    throw new RepositoryError('unreadable-file', `cannot read ${path}: ${c ?? String(e)}`);
  }
}

/** The first of `roots` that has the file `name` (one name segment), or null. */
export async function resolveIn(roots: ResourceRoot[], name: string): Promise<ResolvedResource | null> {
  for (const root of roots) {
    const r = await fileIn(root, name);
    if (r) return r;
  }
  return null;
}

/** Every file named `name` in `roots`, in search order (the first is the one used). */
export async function resolveAll(roots: ResourceRoot[], name: string): Promise<ResolvedResource[]> {
  const out: ResolvedResource[] = [];
  for (const root of roots) {
    const r = await fileIn(root, name);
    if (r) out.push(r);
  }
  return out;
}

/** The resource `name` as project `loc` sees it (resourceSearchRoots), or null if none has it. */
export async function resolveResource(loc: ProjectLocation, allocs: Allocation[], name: string): Promise<ResolvedResource | null> {
  return resolveIn(resourceSearchRoots(loc, allocs), checkLeafName(name, 'resource name'));
}

/**
 * `PROJECT:NAME` (a resource as another project sees it), or null if `text` is not of that
 * form. Neither project names nor resource names contain ":", so the split is unique.
 */
export function parseResourceAddress(text: string): { project: string; name: string } | null {
  const i = text.indexOf(':');
  if (i <= 0 || text.indexOf(':', i + 1) >= 0) return null;
  const project = text.slice(0, i);
  const name = text.slice(i + 1);
  return isValidProjectName(project) && isValidLeafName(name) ? { project, name } : null;
}

/**
 * `qdo submit --script TEXT` (spec/templates.md §Where a template comes from): a bare name
 * is a resource of `loc` if it sees one (else null: the caller reads a file);
 * `PROJECT:NAME` with a registered PROJECT is that project's resource, and its absence is
 * an error. Anything else is a file (null).
 */
export async function resolveScriptResource(loc: ProjectLocation, allocs: Allocation[], text: string): Promise<ResolvedResource | null> {
  const addr = parseResourceAddress(text);
  if (addr) {
    const other = projectIndex(allocs).get(addr.project);
    if (!other) return null; // not a project: a file name with a colon
    const r = await resolveResource(other, allocs, addr.name);
    if (!r) throw await missing(other, allocs, addr.name);
    return r;
  }
  if (!isValidLeafName(text)) return null;
  return resolveResource(loc, allocs, text);
}

async function missing(loc: ProjectLocation, allocs: Allocation[], name: string): Promise<NotFoundError> {
  const roots = resourceSearchRoots(loc, allocs);
  const names = new Set<string>();
  for (const root of roots) for (const n of await fileNames(root.dir)) names.add(n);
  return new NotFoundError('unknown-resource', `no resource "${name}" in project ${loc.project} (nor in ${roots.some((r) => r.origin === 'parent') ? 'its parents or its allocation' : 'its allocation'})`, {
    hint: didYouMean(name, names) ?? `add one with: qdo resource add ${loc.project} FILE (qdo resource list ${loc.project} shows what it sees)`,
  });
}

/** Names of the plain files in a folder (none if it does not exist). Dot files are not resources. */
async function fileNames(dir: string): Promise<string[]> {
  const names = await namesIn(dir, (c) => new RepositoryError('unreadable-file', `cannot read ${dir}: ${c}`));
  const out: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.') || !isValidLeafName(name)) continue;
    if ((await stat(join(dir, name)).catch(() => null))?.isFile()) out.push(name);
  }
  return out;
}

// ---- qdo resource add ----

export interface ResourceAddResult {
  /** The project it went to; null for the allocation's shared resources. */
  project: string | null;
  alloc: string;
  name: string;
  path: string;
  changed: boolean;
}

export interface AddTarget {
  /** A project, or (shared: true) the allocation's shared resources. */
  project?: string;
  shared?: boolean;
  /** With shared: this allocation instead of the one around the working directory. */
  alloc?: string;
}

export async function addResource(ctx: Context, target: AddTarget, file: string, opts: { as?: string; force?: boolean } = {}): Promise<ResourceAddResult> {
  let root: ResourceRoot;
  if (target.shared) {
    root = await sharedRoot(ctx, target.alloc);
  } else {
    if (target.project === undefined) throw new UsageError('resource add needs PROJECT and FILE (or --shared FILE)');
    const loc = await locateProject(ctx, target.project);
    root = { dir: resourcesDir(loc), origin: 'own', project: loc.project, alloc: loc.alloc.root };
  }
  const src = resolve(ctx.cwd, file);
  const name = checkLeafName(opts.as ?? basename(src), 'resource name');
  if (name.startsWith('.')) throw new UsageError(`invalid resource name "${name}": a name starting with "." would be hidden`, { code: 'bad-name', hint: 'use --as NAME' });
  let bytes: Buffer;
  try {
    bytes = await readFile(src);
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT') throw new NotFoundError('no-such-file', `no file ${src}`);
    if (c === 'EISDIR') throw new UsageError(`${src} is a folder; a resource is one file`);
    throw new UsageError(`cannot read ${src}: ${c ?? String(e)}`);
  }
  const target_ = join(root.dir, name);
  const label = root.project === null ? `${name} (shared resources of ${root.alloc})` : `${root.project}:${name}`;
  let old: Buffer | null = null;
  try {
    old = await readFile(target_);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  const result = { project: root.project, alloc: root.alloc, name, path: target_ };
  if (old && old.equals(bytes)) return { ...result, changed: false };
  if (old && !opts.force) {
    throw new ConflictError('resource-exists', `resource ${label} already exists with other content (${target_})`, {
      hint: 'pass --force to replace it, or --as NAME to add it under another name',
    });
  }
  const mode = (await stat(src)).mode & 0o777;
  await writeFileAtomic(target_, bytes, { mkdirs: true, mode });
  return { ...result, changed: true };
}

/** The shared resources folder of the allocation around cwd (or --alloc). */
async function sharedRoot(ctx: Context, allocOpt: string | undefined, allocs?: Allocation[]): Promise<ResourceRoot> {
  const list = allocs ?? (await allAllocations(ctx));
  const { selectAllocation } = await import('./world.js');
  const l = await selectAllocation(ctx, allocOpt, list);
  const a = list.find((x) => x.root === l.root)!;
  const root = allocationResourceRoot(a);
  if (!root) {
    throw new ConflictError('resources-is-a-project', `allocation ${a.root} has a project named "${RESOURCES_DIR}", whose folder is where shared resources would be`, {
      hint: `shared resources need ${join(a.root, RESOURCES_DIR)} for themselves; keep such files in a project instead`,
    });
  }
  return root;
}

// ---- qdo resource list ----

export interface ResourceRow {
  /** The project whose folder holds the file; null for an allocation's shared resources. */
  project: string | null;
  name: string;
  path: string;
  size: number;
  origin: ResourceOrigin;
  alloc: string;
  /** In a project's view: the row that is used instead of this one (same name, earlier root). */
  shadowedBy: ResourceRow | null;
}

export interface ResourceListing {
  /** The project whose view this is (every name it sees, where from, what is shadowed); null: every resource there is. */
  view: string | null;
  rows: ResourceRow[];
  /** Allocations that could not be read (their resources are missing from `rows`). */
  unreachable: Allocation[];
}

async function rowsOf(root: ResourceRoot): Promise<ResourceRow[]> {
  const rows: ResourceRow[] = [];
  for (const name of await fileNames(root.dir)) {
    const path = join(root.dir, name);
    const st = await stat(path);
    rows.push({ project: root.project, name, path, size: st.size, origin: root.origin, alloc: root.alloc, shadowedBy: null });
  }
  return rows;
}

/** Every name `loc` sees, in name order; for each, the row used first, then the ones it shadows. */
export async function projectView(loc: ProjectLocation, allocs: Allocation[]): Promise<ResourceRow[]> {
  const used = new Map<string, ResourceRow>();
  const all: ResourceRow[] = [];
  for (const root of resourceSearchRoots(loc, allocs)) {
    for (const row of await rowsOf(root)) {
      const first = used.get(row.name);
      if (first) row.shadowedBy = first;
      else used.set(row.name, row);
      all.push(row);
    }
  }
  // Stable sort: within a name, search order (the used one first).
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * `qdo resource list [PROJECT]`: with PROJECT (or inside a project folder), that project's
 * view; otherwise every project's own resources and every allocation's shared ones.
 */
export async function listResources(ctx: Context, project?: string): Promise<ResourceListing> {
  const allocs = await allAllocations(ctx);
  const unreachable = allocs.filter((a) => !a.layout);
  const idx = projectIndex(allocs);
  const loc = project !== undefined ? await locateProject(ctx, project, allocs) : projectAt(ctx.cwd, idx);
  if (loc) return { view: loc.project, rows: await projectView(loc, allocs), unreachable };
  const rows: ResourceRow[] = [];
  for (const l of [...idx.values()].sort((a, b) => (a.project < b.project ? -1 : 1))) {
    rows.push(...(await rowsOf({ dir: resourcesDir(l), origin: 'own', project: l.project, alloc: l.alloc.root })));
  }
  for (const a of allocs) {
    const root = allocationResourceRoot(a);
    if (root) rows.push(...(await rowsOf(root)));
  }
  return { view: null, rows, unreachable };
}

// ---- qdo resource show ----

/**
 * Resolves what `qdo resource show` is given: `PROJECT:NAME` or `PROJECT/NAME` (the
 * resource as PROJECT sees it), or a bare `NAME` as the project around the working directory
 * sees it — outside any project, the shared resources of the allocation there (or --alloc).
 */
export interface LocatedResource extends ResolvedResource {
  /** The project whose view resolved it; null for an allocation's shared resources asked for directly. */
  view: string | null;
  /** Files of the same name later in that view's search order, which this one shadows. */
  shadows: ResolvedResource[];
}

export async function locateResource(ctx: Context, address: string, opts: { alloc?: string } = {}): Promise<LocatedResource> {
  const allocs = await allAllocations(ctx);
  const idx = projectIndex(allocs);
  let loc: ProjectLocation | null = null;
  let name = address;
  const colon = parseResourceAddress(address);
  if (colon) {
    loc = await locateProject(ctx, colon.project, allocs);
    name = colon.name;
  } else if (address.includes('/')) {
    const { splitProjectPath } = await import('./world.js');
    const split = splitProjectPath(address, idx.keys());
    if (!split || split.rest.includes('/')) {
      throw new NotFoundError('unknown-resource', `"${address}" does not name a resource: expected PROJECT:NAME, PROJECT/NAME or NAME`, {
        hint: didYouMean(address.split('/').slice(0, -1).join('/'), idx.keys()),
      });
    }
    loc = idx.get(split.project)!;
    name = split.rest;
  } else if (opts.alloc === undefined) {
    loc = projectAt(ctx.cwd, idx);
  }
  checkLeafName(name, 'resource name');
  if (loc) {
    const found = await resolveAll(resourceSearchRoots(loc, allocs), name);
    if (found.length === 0) throw await missing(loc, allocs, name);
    return { ...found[0]!, view: loc.project, shadows: found.slice(1) };
  }
  const root = await sharedRoot(ctx, opts.alloc, allocs);
  const r = await resolveIn([root], name);
  if (r) return { ...r, view: null, shadows: [] };
  throw new NotFoundError('unknown-resource', `no shared resource "${name}" in allocation ${root.alloc} (${root.dir})`, {
    hint: didYouMean(name, await fileNames(root.dir)) ?? "a project's resources are named PROJECT:NAME",
  });
}

export async function readResource(ctx: Context, address: string, opts: { alloc?: string } = {}): Promise<{ resource: LocatedResource; bytes: Buffer }> {
  const resource = await locateResource(ctx, address, opts);
  return { resource, bytes: await readFile(resource.path) };
}
