// qdo project add / list (spec/layout.md §Projects). Project names are unique across
// all registered allocations; the home allocation's `allocations` file lock serialises
// every add so two allocations cannot take the same name at once.
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import { checkProjectName } from '../model/names.js';
import { updateList } from '../store/lists.js';
import { withLock } from '../store/locks.js';
import { readRefs } from '../store/refs.js';
import { allAllocations, allocationAt, allocationsList, homeAllocation, projectDir, projectIndex, projectsList, unusable, type Allocation } from './world.js';

/** Segments that name folders qdo keeps inside a project (spec/layout.md §Project folders). */
export const RESERVED_SEGMENTS = ['resources', 'runs'];

export interface ProjectAddResult {
  project: string;
  alloc: string;
  dir: string;
  created: boolean;
  warnings: string[];
}

export async function addProject(ctx: Context, name: string, allocOpt?: string): Promise<ProjectAddResult> {
  checkProjectName(name);
  const segs = name.split('/');
  const reserved = segs.slice(1).find((s) => RESERVED_SEGMENTS.includes(s));
  if (reserved) {
    throw new UsageError(`invalid project name "${name}": "${reserved}" is reserved for the folder qdo keeps inside the parent project`, { code: 'bad-name' });
  }
  // At the top, `resources` is the allocation's shared resources folder, `.qdo…` its state.
  if (segs[0] === 'resources' || segs[0]!.startsWith('.qdo')) {
    throw new UsageError(`invalid project name "${name}": "${segs[0]}" is reserved at the top of an allocation (${segs[0] === 'resources' ? 'its shared resources folder' : "qdo's own folder"})`, { code: 'bad-name' });
  }
  const home = await homeAllocation(ctx);
  return withLock(allocationsList(home).file, async () => {
    const allocs = await allAllocations(ctx);
    const target = pickAllocation(ctx, allocs, allocOpt);
    const idx = projectIndex(allocs);
    const existing = idx.get(name);
    const warnings = allocs.filter((a) => !a.layout).map((a) => `allocation ${a.root} is unreachable (${a.problem}); its project names were not checked\nhint: mount it, or if it is gone for good: qdo alloc remove ${a.root}`);
    if (existing) {
      if (existing.alloc.root === target.root) return { project: name, alloc: target.root, dir: existing.dir, created: false, warnings };
      throw new ConflictError('project-exists', `project "${name}" already exists in allocation ${existing.alloc.root}`, {
        hint: 'project names are unique across all allocations',
      });
    }
    // A job of the parent project with the same name as the new last segment would
    // become unaddressable (PROJECT/JOB takes the longest project prefix).
    if (segs.length > 1) {
      const parent = segs.slice(0, -1).join('/');
      const ploc = idx.get(parent);
      if (ploc && (await readRefs(ploc.layout, parent)).has(segs[segs.length - 1]!)) {
        throw new ConflictError('name-taken-by-job', `project "${parent}" has a job named "${segs[segs.length - 1]}", so "${name}" would hide it`);
      }
    }
    const layout = target.layout!;
    const dir = projectDir(layout, name);
    await mkdir(dir, { recursive: true });
    await updateList(projectsList(layout), (items) => ({ items: [...items, name], result: undefined }));
    return { project: name, alloc: target.root, dir, created: true, warnings };
  });
}

function pickAllocation(ctx: Context, allocs: Allocation[], allocOpt?: string): Allocation {
  const root = allocOpt === undefined ? undefined : resolve(ctx.cwd, allocOpt);
  const a = root === undefined ? allocationAt(ctx.cwd, allocs) : allocs.find((x) => x.root === root);
  if (!a) throw new NotFoundError('unregistered-allocation', `--alloc: ${root} is not a registered allocation`, { hint: `register it with: qdo init ${root}` });
  if (!a.layout) throw unusable(a);
  return a;
}

export interface ProjectRow {
  project: string;
  alloc: string;
  dir: string;
}

export async function listProjects(ctx: Context): Promise<{ projects: ProjectRow[]; unreachable: Allocation[] }> {
  const allocs = await allAllocations(ctx);
  const projects = [...projectIndex(allocs).values()]
    .map((l) => ({ project: l.project, alloc: l.alloc.root, dir: l.dir }))
    .sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
  return { projects, unreachable: allocs.filter((a) => !a.layout) };
}
