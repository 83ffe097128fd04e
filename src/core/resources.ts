// qdo resource add / list / show (spec/layout.md §Resources). Resources are ordinary
// files in `<project folder>/resources/`; a job that uses one captures its exact bytes as
// an object, so later edits never change what an old job ran.
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, NotFoundError, UsageError, errnoCode } from '../errors.js';
import { checkLeafName } from '../model/names.js';
import { writeFileAtomic } from '../store/atomic.js';
import { didYouMean } from '../util/closest.js';
import { allAllocations, locateProject, projectIndex, splitProjectPath, type ProjectLocation } from './world.js';

export const RESOURCES_DIR = 'resources';

export function resourcesDir(loc: ProjectLocation): string {
  return join(loc.dir, RESOURCES_DIR);
}

export interface ResourceAddResult {
  project: string;
  name: string;
  path: string;
  changed: boolean;
}

export async function addResource(ctx: Context, project: string, file: string, opts: { as?: string; force?: boolean } = {}): Promise<ResourceAddResult> {
  const loc = await locateProject(ctx, project);
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
  const target = join(resourcesDir(loc), name);
  let old: Buffer | null = null;
  try {
    old = await readFile(target);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  if (old && old.equals(bytes)) return { project, name, path: target, changed: false };
  if (old && !opts.force) {
    throw new ConflictError('resource-exists', `resource ${project}/${name} already exists with other content (${target})`, {
      hint: 'pass --force to replace it, or --as NAME to add it under another name',
    });
  }
  const mode = (await stat(src)).mode & 0o777;
  await writeFileAtomic(target, bytes, { mkdirs: true, mode });
  return { project, name, path: target, changed: true };
}

export interface ResourceRow {
  project: string;
  name: string;
  path: string;
  size: number;
}

export async function listResources(ctx: Context, project?: string): Promise<ResourceRow[]> {
  const allocs = await allAllocations(ctx);
  const locs = project !== undefined ? [await locateProject(ctx, project, allocs)] : [...projectIndex(allocs).values()];
  const rows: ResourceRow[] = [];
  for (const loc of locs.sort((a, b) => (a.project < b.project ? -1 : 1))) {
    const dir = resourcesDir(loc);
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') continue;
      throw e;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      const st = await stat(p);
      if (st.isFile()) rows.push({ project: loc.project, name, path: p, size: st.size });
    }
  }
  return rows;
}

/** Resolves `PROJECT/NAME` to the resource file. */
export async function locateResource(ctx: Context, address: string): Promise<ResourceRow> {
  const allocs = await allAllocations(ctx);
  const idx = projectIndex(allocs);
  const split = splitProjectPath(address, idx.keys());
  if (!split || split.rest.includes('/')) {
    throw new NotFoundError('unknown-resource', `"${address}" does not name a resource: expected PROJECT/NAME with a registered project`, {
      hint: didYouMean(address.split('/').slice(0, -1).join('/'), idx.keys()),
    });
  }
  const loc = idx.get(split.project)!;
  const name = checkLeafName(split.rest, 'resource name');
  const path = join(resourcesDir(loc), name);
  try {
    const st = await stat(path);
    return { project: loc.project, name, path, size: st.size };
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
    const others = (await listResources(ctx, loc.project)).map((r) => r.name);
    throw new NotFoundError('unknown-resource', `no resource "${name}" in project ${loc.project}`, { hint: didYouMean(name, others) });
  }
}

export async function readResource(ctx: Context, address: string): Promise<{ row: ResourceRow; bytes: Buffer }> {
  const row = await locateResource(ctx, address);
  return { row, bytes: await readFile(row.path) };
}
