// Resolving revisions to manifests (spec/addressing.md).
import type { Context } from '../context.js';
import { NotFoundError, UsageError } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import { checkLeafName } from '../model/names.js';
import { parseRev, type ParsedRev } from '../model/rev.js';
import { looksLikeManifest } from '../model/manifest.js';
import { findObjectsByPrefix, readObject } from '../store/objects.js';
import { readManifest } from '../store/manifests.js';
import { readRef, readRefs } from '../store/refs.js';
import type { Layout } from '../store/layout.js';
import { didYouMean } from '../util/closest.js';
import { allAllocations, projectAt, projectIndex, splitProjectPath, type Allocation, type ProjectLocation } from './world.js';

export interface Resolved {
  id: string;
  manifest: Manifest;
  layout: Layout;
  project: string;
  name: string;
  /** Where the job's ref pointed, when the revision was resolved through it (not an id prefix). */
  refId?: string;
}

export interface JobAddress {
  loc: ProjectLocation;
  name: string;
}

/** `PROJECT/JOB` or bare `JOB` (in a project folder) → project location and job name. */
export function resolveJobPath(ctx: Context, path: string, allocs: Allocation[]): JobAddress {
  const idx = projectIndex(allocs);
  if (path.includes('/')) {
    const split = splitProjectPath(path, idx.keys());
    if (!split) {
      const guess = path.split('/').slice(0, -1).join('/');
      throw new NotFoundError('unknown-project', `no project matches "${path}": expected PROJECT/JOB with a registered project`, {
        hint: didYouMean(guess, idx.keys()) ?? 'list projects with: qdo project list',
      });
    }
    if (split.rest.includes('/')) {
      throw new NotFoundError('unknown-project', `no project "${path.split('/').slice(0, -1).join('/')}" (the longest registered prefix is "${split.project}")`);
    }
    return { loc: idx.get(split.project)!, name: checkLeafName(split.rest) };
  }
  const loc = projectAt(ctx.cwd, idx);
  if (!loc) throw new UsageError(`"${path}" names no project: give PROJECT/${path}, or run inside a project folder`, { code: 'no-project' });
  return { loc, name: checkLeafName(path) };
}

export async function resolveRev(ctx: Context, text: string, allocsIn?: Allocation[]): Promise<Resolved> {
  const rev = parseRev(text);
  const allocs = allocsIn ?? (await allAllocations(ctx));
  let start: { id: string; layout: Layout } | null = null;
  let byRef: { project: string; name: string; id: string } | null = null;
  let pathError: unknown = null;
  try {
    const addr = resolveJobPath(ctx, rev.path, allocs);
    const id = await readRef(addr.loc.layout, addr.loc.project, addr.name);
    if (id) {
      start = { id, layout: addr.loc.layout };
      byRef = { project: addr.loc.project, name: addr.name, id };
    }
    else {
      pathError = new NotFoundError('unknown-job', `no job "${addr.name}" in project ${addr.loc.project}`, {
        hint: didYouMean(addr.name, (await readRefs(addr.loc.layout, addr.loc.project)).keys()),
      });
    }
  } catch (e) {
    if (!rev.maybeId) throw e;
    pathError = e;
  }
  if (!start && rev.maybeId) {
    start = await resolveIdPrefix(rev.text, allocs);
    if (!start) {
      const why = pathError instanceof Error ? ` (as a job: ${pathError.message})` : '';
      throw new NotFoundError('unknown-rev', `"${rev.text}" is neither a job nor the prefix of a manifest id${why}`);
    }
  }
  if (!start) throw pathError;
  const r = await select(rev, start.id, start.layout);
  return byRef && byRef.project === r.project && byRef.name === r.name ? { ...r, refId: byRef.id } : r;
}

async function resolveIdPrefix(prefix: string, allocs: Allocation[]): Promise<{ id: string; layout: Layout } | null> {
  const hits: { id: string; layout: Layout }[] = [];
  for (const a of allocs) {
    if (!a.layout) continue;
    for (const id of await findObjectsByPrefix(a.layout, prefix)) {
      if (looksLikeManifest(await readObject(a.layout, id))) hits.push({ id, layout: a.layout });
    }
  }
  const ids = [...new Set(hits.map((h) => h.id))];
  if (ids.length > 1) {
    throw new UsageError(`id prefix "${prefix}" is ambiguous: ${ids.length} manifests start with it`, {
      code: 'ambiguous-id',
      hint: `candidates: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`,
    });
  }
  return hits[0] ?? null;
}

async function select(rev: ParsedRev, id: string, layout: Layout): Promise<Resolved> {
  let m = await readManifest(layout, id);
  let cur = id;
  const steps = rev.selector.kind === 'back' ? rev.selector.n : rev.selector.kind === 'version' ? m.version - rev.selector.n : 0;
  if (steps < 0) {
    throw new NotFoundError('no-such-version', `${m.project}/${m.name} has ${m.version} version(s); there is no @${m.version - steps}`);
  }
  for (let i = 0; i < steps; i++) {
    if (m.parent === null) throw new NotFoundError('no-such-version', `${rev.text} goes back before version 1 of ${m.project}/${m.name}`);
    cur = m.parent;
    m = await readManifest(layout, cur);
  }
  return { id: cur, manifest: m, layout, project: m.project, name: m.name };
}
