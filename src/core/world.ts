// The allocations qdo knows and the projects in them (spec/layout.md §Allocations).
// The home allocation is created on first use; others are registered in its
// `allocations` file by `qdo init`.
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Context } from '../context.js';
import { NotFoundError, QdoError, RepositoryError, UsageError, errnoCode } from '../errors.js';
import { checkProjectName, isValidProjectName } from '../model/names.js';
import { createAllocation, layoutOf, openAllocation, probeAllocation, QDO_DIR, type Layout } from '../store/layout.js';
import { readList, type ListFile } from '../store/lists.js';
import { didYouMean } from '../util/closest.js';

export interface Allocation {
  root: string;
  home: boolean;
  /** Null when the allocation could not be read, or may not be used (spec/trust.md). */
  layout: Layout | null;
  problem: string | null;
  /** The error to give a command that works on it, when there is one (e.g. untrusted-allocation). */
  error?: QdoError;
  projects: string[];
}

export function allocationsList(home: Layout): ListFile {
  return {
    file: home.allocations,
    check: (s) => (isAbsolute(s) && resolve(s) === s ? null : 'an absolute, normalised folder path'),
  };
}

export function projectsList(l: Layout): ListFile {
  return { file: l.projects, check: (s) => (isValidProjectName(s) ? null : 'a project name') };
}

/**
 * Opens the home allocation, creating it on first use. Its folders must be the user's alone
 * (spec/trust.md §Allocations): it holds the list of allocations the user shares, so it can
 * never be shared itself.
 */
export async function homeAllocation(ctx: Context): Promise<Layout> {
  const { checkAllocation } = await import('../store/trust.js');
  // Checked before anything is made (a missing folder is no fault yet), and again if made now.
  await checkAllocation(layoutOf(ctx.home), ctx.user, { home: true });
  const { layout, created } = await createAllocation(ctx.home);
  if (created) await checkAllocation(layout, ctx.user, { home: true });
  return layout;
}

/** Home first, then every registered allocation in path order. Unreadable ones are kept, marked. */
export async function allAllocations(ctx: Context): Promise<Allocation[]> {
  const home = await homeAllocation(ctx);
  const roots = (await readList(allocationsList(home))).filter((r) => r !== home.root);
  const { readShared } = await import('../store/trust.js');
  const shared = new Set(roots.length ? await readShared(home) : []);
  const out: Allocation[] = [await loadAllocation(ctx, home.root, true, false)];
  for (const r of roots) out.push(await loadAllocation(ctx, r, false, shared.has(r)));
  return out;
}

export async function loadAllocation(ctx: Context, root: string, home: boolean, shared: boolean): Promise<Allocation> {
  try {
    const p = await probeAllocation(root);
    if (p.kind === 'absent') return { root, home, layout: null, problem: `no ${QDO_DIR} folder (not mounted, moved or deleted?)`, projects: [] };
    if (p.kind === 'unreadable') return { root, home, layout: null, problem: p.reason, projects: [] };
    const layout: Layout = { ...layoutOf(root), shared };
    if (!home) {
      // Home was checked when it was opened.
      const { checkAllocation } = await import('../store/trust.js');
      await checkAllocation(layout, ctx.user, { shared });
    }
    return { root, home, layout, problem: null, projects: await readList(projectsList(layout)) };
  } catch (e) {
    if (home) throw e;
    if (e instanceof QdoError) return { root, home, layout: null, problem: e.message, error: e, projects: [] };
    throw e;
  }
}

/**
 * The one warning about an allocation that cannot be read (spec/layout.md §Unreachable
 * allocations), with the way out when it is gone for good.
 */
export function unreachableWarning(a: Allocation, consequence?: string): string {
  return `qdo: warning: allocation ${a.root} is unreachable (${a.problem})${consequence ? `; ${consequence}` : ''}\nhint: mount it, or if it is gone for good: qdo alloc remove ${a.root}\n`;
}

/** The error for a command that must work on an allocation it cannot use. */
export function unusable(a: Allocation): QdoError {
  return a.error ?? new RepositoryError('unreadable-allocation', `cannot read allocation ${a.root}: ${a.problem}`);
}

export interface ProjectLocation {
  project: string;
  alloc: Allocation;
  layout: Layout;
  /** The project's folder: `<allocation>/<project>`. */
  dir: string;
}

export function projectDir(l: Layout, project: string): string {
  return join(l.root, ...project.split('/'));
}

export function projectIndex(allocs: Allocation[]): Map<string, ProjectLocation> {
  const m = new Map<string, ProjectLocation>();
  for (const a of allocs) {
    if (!a.layout) continue;
    for (const p of a.projects) {
      if (!m.has(p)) m.set(p, { project: p, alloc: a, layout: a.layout, dir: projectDir(a.layout, p) });
    }
  }
  return m;
}

export async function locateProject(ctx: Context, name: string, allocs?: Allocation[]): Promise<ProjectLocation> {
  checkProjectName(name);
  const list = allocs ?? (await allAllocations(ctx));
  const idx = projectIndex(list);
  const loc = idx.get(name);
  if (loc) return loc;
  const unreachable = list.filter((a) => !a.layout).map((a) => a.root);
  throw new NotFoundError('unknown-project', `no project "${name}" in any allocation`, {
    hint: didYouMean(name, idx.keys()) ?? (unreachable.length ? `unreachable allocations: ${unreachable.join(', ')}` : 'create it with: qdo project add ' + name),
  });
}

/**
 * Splits `A/B/C` into the longest registered project prefix and the rest
 * (spec/addressing.md). Returns null if no prefix is a project.
 */
export function splitProjectPath(path: string, projects: Iterable<string>): { project: string; rest: string } | null {
  const set = new Set(projects);
  const segs = path.split('/');
  for (let n = segs.length - 1; n >= 1; n--) {
    const p = segs.slice(0, n).join('/');
    if (set.has(p)) return { project: p, rest: segs.slice(n).join('/') };
  }
  return null;
}

/** The project whose folder contains `dir` (the deepest one), if any. */
export function projectAt(dir: string, idx: Map<string, ProjectLocation>): ProjectLocation | null {
  let best: ProjectLocation | null = null;
  for (const loc of idx.values()) {
    const rel = relative(loc.dir, dir);
    const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
    if (inside && (!best || loc.dir.length > best.dir.length)) best = loc;
  }
  return best;
}

/**
 * The allocation containing `dir`: the deepest registered allocation root above it, else
 * home. One that cannot be used is returned too (its layout null), so that a command run
 * inside it fails with the reason rather than quietly working on home.
 */
export function allocationAt(dir: string, allocs: Allocation[]): Allocation {
  let best: Allocation | null = null;
  for (const a of allocs) {
    const rel = relative(a.root, dir);
    const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
    if (inside && (!best || a.root.length > best.root.length)) best = a;
  }
  return best ?? allocs[0]!;
}

/** The allocation a command works on: --alloc DIR if given, else the one around cwd. */
export async function selectAllocation(ctx: Context, allocOpt?: string, known?: Allocation[]): Promise<Layout> {
  const allocs = known ?? (await allAllocations(ctx));
  if (allocOpt !== undefined) {
    const root = resolve(ctx.cwd, allocOpt);
    const a = allocs.find((x) => x.root === root);
    if (!a) {
      await openAllocation(root); // gives the precise "not an allocation" error
      throw new NotFoundError('unregistered-allocation', `${root} is a qdo allocation but is not registered in ${ctx.home}`, {
        hint: `register it with: qdo init ${root}`,
      });
    }
    if (!a.layout) throw unusable(a);
    return a.layout;
  }
  const a = allocationAt(ctx.cwd, allocs);
  if (!a.layout) throw unusable(a);
  return a.layout;
}

/** Resolves a user-given folder to an absolute, real-ish path (no symlink resolution). */
export async function checkFolder(ctx: Context, dir: string, field: string): Promise<string> {
  const abs = resolve(ctx.cwd, dir);
  try {
    const st = await stat(abs);
    if (!st.isDirectory()) throw new UsageError(`${field} ${abs} is not a folder`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (errnoCode(e) !== 'ENOENT') throw new RepositoryError('unreadable-allocation', `cannot read ${abs}: ${errnoCode(e) ?? String(e)}`);
  }
  return abs.endsWith(sep) && abs !== sep ? abs.slice(0, -1) : abs;
}
