// hash-object, cat-object, update-ref, show-ref (spec/plumbing/*.md).
import type { Context } from '../context.js';
import { NotFoundError, UsageError } from '../errors.js';
import { isCanonical } from '../model/canonical-json.js';
import { looksLikeManifest, parseManifest } from '../model/manifest.js';
import { isObjectId, objectId, ZERO_ID } from '../model/object-id.js';
import type { Layout } from '../store/layout.js';
import { findObjectsByPrefix, objectPath, readObject, writeObject } from '../store/objects.js';
import { readRefs, updateRef } from '../store/refs.js';
import { allAllocations, projectIndex, selectAllocation, type Allocation } from './world.js';
import { resolveJobPath } from './revs.js';

export async function hashObject(ctx: Context, bytes: Buffer, opts: { write: boolean; alloc?: string }): Promise<string> {
  if (!opts.write) return objectId(bytes);
  const l = await selectAllocation(ctx, opts.alloc);
  return writeObject(l, bytes);
}

/** Finds an object by full id or unique prefix in any allocation (the current one first). */
export async function findObject(ctx: Context, idOrPrefix: string, allocOpt?: string): Promise<{ id: string; layout: Layout }> {
  const allocs = await allAllocations(ctx);
  const first = await selectAllocation(ctx, allocOpt, allocs);
  const order = [first, ...allocs.filter((a) => a.layout && a.root !== first.root).map((a) => a.layout!)];
  const hits = new Map<string, Layout>();
  for (const l of allocOpt !== undefined ? [first] : order) {
    for (const id of await findObjectsByPrefix(l, idOrPrefix)) if (!hits.has(id)) hits.set(id, l);
  }
  if (hits.size === 0) throw new NotFoundError('no-such-object', `no object ${idOrPrefix}${isObjectId(idOrPrefix) ? '' : '…'} in any allocation`);
  if (hits.size > 1) {
    throw new UsageError(`id prefix "${idOrPrefix}" is ambiguous: ${hits.size} objects start with it`, {
      code: 'ambiguous-id',
      hint: `candidates: ${[...hits.keys()].slice(0, 5).join(', ')}`,
    });
  }
  const [id, layout] = [...hits.entries()][0]!;
  return { id, layout };
}

/** An object's full id and bytes (cat-object --json). */
export async function readObjectOf(ctx: Context, idOrPrefix: string, alloc?: string): Promise<{ id: string; bytes: Buffer; json: boolean }> {
  const { id, layout } = await findObject(ctx, idOrPrefix, alloc);
  const bytes = await readObject(layout, id);
  return { id, bytes, json: isCanonical(bytes) };
}

export async function catObject(ctx: Context, idOrPrefix: string, opts: { pretty: boolean; alloc?: string }): Promise<Buffer> {
  const { id, layout } = await findObject(ctx, idOrPrefix, opts.alloc);
  const bytes = await readObject(layout, id);
  if (!opts.pretty || !isCanonical(bytes)) return bytes;
  return Buffer.from(JSON.stringify(JSON.parse(bytes.toString('utf8')), null, 2) + '\n', 'utf8');
}

export interface UpdateRefRequest {
  name: string;
  /** New manifest id, or null with `delete`. */
  next: string | null;
  /** Expected old id; ZERO_ID or '' = must not exist; undefined = no check. */
  old?: string;
}

export async function updateRefCommand(ctx: Context, req: UpdateRefRequest): Promise<void> {
  const allocs = await allAllocations(ctx);
  const addr = resolveJobPath(ctx, req.name, allocs);
  const l = addr.loc.layout;
  if (req.next !== null) {
    if (!isObjectId(req.next)) throw new UsageError(`NEW must be a full 64-hex manifest id, found "${req.next}"`, { code: 'bad-id' });
    const bytes = await readObject(l, req.next).catch((e) => {
      if (e instanceof NotFoundError) throw new NotFoundError('no-such-object', `no object ${req.next} in allocation ${l.root} (the allocation of project ${addr.loc.project})`);
      throw e;
    });
    if (!looksLikeManifest(bytes)) throw new UsageError(`object ${req.next} is not a job manifest`, { code: 'not-a-manifest' });
    const m = parseManifest(bytes, objectPath(l, req.next));
    if (m.project !== addr.loc.project || m.name !== addr.name) {
      throw new UsageError(`manifest ${req.next} is for ${m.project}/${m.name}, not for ${addr.loc.project}/${addr.name}`, { code: 'wrong-manifest' });
    }
  }
  let expect: string | null | undefined;
  if (req.old === undefined) expect = undefined;
  else if (req.old === '' || req.old === ZERO_ID) expect = null;
  else if (isObjectId(req.old)) expect = req.old;
  else throw new UsageError(`OLD must be a full 64-hex id, or ${ZERO_ID.slice(0, 8)}… (64 zeros) for "must not exist"; found "${req.old}"`, { code: 'bad-id' });
  await updateRef(l, { project: addr.loc.project, name: addr.name, next: req.next, expect });
}

export interface RefRow {
  id: string;
  /** `project/job` */
  ref: string;
}

export async function showRefs(ctx: Context, pattern?: string): Promise<{ rows: RefRow[]; unreachable: Allocation[] }> {
  const allocs = await allAllocations(ctx);
  const match = pattern === undefined ? () => true : refMatcher(pattern);
  const rows: RefRow[] = [];
  for (const loc of projectIndex(allocs).values()) {
    const refs = await readRefs(loc.layout, loc.project);
    for (const [name, id] of refs) {
      const ref = `${loc.project}/${name}`;
      if (match(ref)) rows.push({ id, ref });
    }
  }
  rows.sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  return { rows, unreachable: allocs.filter((a) => !a.layout) };
}

/**
 * Pattern rules (spec/plumbing/show-ref.md): without wildcards, the full name or any name
 * under it (`paper` matches `paper/run/a`); `*` matches within a segment, `**` across
 * segments, `?` one character.
 */
export function refMatcher(pattern: string): (ref: string) => boolean {
  if (!/[*?]/.test(pattern)) {
    const p = pattern.replace(/\/+$/, '');
    return (ref) => ref === p || ref.startsWith(p + '/');
  }
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const rx = new RegExp(re + '$');
  return (ref) => rx.test(ref);
}
