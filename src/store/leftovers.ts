// What killed or interrupted writers leave in `.qdo` (spec/layout.md §Writes, locking.md):
// temp files `.<name>.tmp-<8 hex>`, lock folders `*.lock/` and interrupted inits
// `.qdo.tmp-<8 hex>/` beside `.qdo`. fsck asks for them here and removes them here.
import { readdir, lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { isTempName } from './atomic.js';
import type { Layout } from './layout.js';
import { LOCK_SUFFIX, readLockFolder, type Holder } from './locks.js';

export interface Leftover {
  path: string;
  kind: 'temp' | 'lock' | 'init';
  mtimeMs: number;
  /** For locks: who holds it, if it says (null: no readable holder file). */
  holder: Holder | null;
}

/** A path under `.qdo` that could not be read while looking (permissions, a file where a folder belongs). */
export interface Unreadable {
  path: string;
  reason: string;
}

/**
 * Temp files and lock folders anywhere in `.qdo` (objects/ is walked by the object check),
 * and interrupted inits beside it, in path order. Folders that cannot be read are reported,
 * not thrown.
 */
export async function findLeftovers(l: Layout): Promise<{ leftovers: Leftover[]; unreadable: Unreadable[] }> {
  const out = { leftovers: [] as Leftover[], unreadable: [] as Unreadable[] };
  await walk(l.dir, l.objects, out);
  let names: string[] = [];
  try {
    names = await readdir(l.root);
  } catch {
    names = [];
  }
  for (const name of names.sort()) {
    if (!/^\.qdo\.tmp-[0-9a-f]{8}$/.test(name)) continue;
    const p = join(l.root, name);
    const st = await lstat(p).catch(() => null);
    if (st) out.leftovers.push({ path: p, kind: 'init', mtimeMs: st.mtimeMs, holder: null });
  }
  return out;
}

async function walk(dir: string, skip: string, out: { leftovers: Leftover[]; unreadable: Unreadable[] }): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') out.unreadable.push({ path: dir, reason: errnoCode(e) ?? String(e) });
    return;
  }
  for (const ent of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(dir, ent.name);
    if (ent.name.endsWith(LOCK_SUFFIX) && ent.isDirectory()) {
      const st = await lstat(p).catch(() => null);
      if (!st) continue;
      const seen = await readLockFolder(p, st);
      out.leftovers.push({ path: p, kind: 'lock', mtimeMs: seen.mtimeMs, holder: seen.holder });
      continue;
    }
    if (isTempName(ent.name)) {
      const st = await lstat(p).catch(() => null);
      if (st) out.leftovers.push({ path: p, kind: 'temp', mtimeMs: st.mtimeMs, holder: null });
      continue;
    }
    if (ent.isDirectory() && p !== skip) await walk(p, skip, out);
  }
}

/** Removes a leftover (a temp file, a lock folder with what is inside, an interrupted init). */
export async function removeLeftover(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
