// Content-addressed objects (spec/objects.md): `objects/<id[0:2]>/<id[2:]>`, the exact
// bytes whose sha256 is the id, read-only once written.
import { lstat, readdir, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError, RepositoryError, UsageError, errnoCode } from '../errors.js';
import { isIdPrefix, isObjectId, objectId, MIN_PREFIX } from '../model/object-id.js';
import { writeFileAtomic } from './atomic.js';
import type { Layout } from './layout.js';
import { readSmallFileSync } from '../util/fs.js';

export function objectPath(l: Layout, id: string): string {
  return join(l.objects, id.slice(0, 2), id.slice(2));
}

export async function hasObject(l: Layout, id: string): Promise<boolean> {
  try {
    await stat(objectPath(l, id));
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
}

/** Stores bytes as an object and returns the id. An existing one only gets a fresh mtime (gc's grace, spec/porcelain.md §qdo gc). */
export async function writeObject(l: Layout, bytes: Buffer): Promise<string> {
  const id = objectId(bytes);
  const target = objectPath(l, id);
  if (await hasObject(l, id)) return await utimes(target, new Date(), new Date()).then(() => id, () => id);
  // Two writers of the same object race harmlessly: both renames install identical bytes.
  await writeFileAtomic(target, bytes, { mode: 0o444, mkdirs: true });
  return id;
}

/** Reads an object and checks its bytes against its id. */
export async function readObject(l: Layout, id: string): Promise<Buffer> {
  if (!isObjectId(id)) throw new UsageError(`not an object id: "${id}" (expected 64 lowercase hex digits)`, { code: 'bad-id' });
  let bytes: Buffer;
  const p = objectPath(l, id);
  try {
    // Synchronous, as readSubmission: manifests are small, and a walk reads thousands.
    bytes = readSmallFileSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new NotFoundError('no-such-object', `no object ${id} in ${l.root}`);
    throw new RepositoryError('unreadable-object', `cannot read ${p}: ${errnoCode(e) ?? String(e)}`);
  }
  const actual = objectId(bytes);
  if (actual !== id) {
    throw new RepositoryError('hash-mismatch', `${p}: content hashes to ${actual}, not to its name`, {
      hint: 'the file was changed after it was written; qdo fsck lists all such damage',
    });
  }
  return bytes;
}

/** Ids in this allocation starting with `prefix` (at least MIN_PREFIX hex digits). */
export async function findObjectsByPrefix(l: Layout, prefix: string): Promise<string[]> {
  if (!isIdPrefix(prefix)) throw new UsageError(`not an id prefix: "${prefix}" (expected ${MIN_PREFIX} to 64 lowercase hex digits)`, { code: 'bad-id' });
  const shard = prefix.slice(0, 2);
  let names: string[];
  try {
    names = await readdir(join(l.objects, shard));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
  const rest = prefix.slice(2);
  return names.filter((n) => n.length === 62 && n.startsWith(rest) && /^[0-9a-f]+$/.test(n)).map((n) => shard + n).sort();
}

export interface ObjectEntry {
  /** File name as found (may be a temp file or garbage). */
  path: string;
  /** The id the path claims, if the name is a well-formed id. */
  id: string | null;
  name: string;
}

/** The shard folders of objects/, sorted ([] if there is no objects folder). */
export async function listObjectShards(l: Layout): Promise<string[]> {
  try {
    return (await readdir(l.objects)).sort();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
}

/**
 * The files of one shard folder, sorted: a file where the folder belongs is one entry (no
 * id), a folder removed meanwhile (gc takes an empty one away) none.
 */
export async function listShardFiles(l: Layout, shard: string): Promise<ObjectEntry[]> {
  const dir = join(l.objects, shard);
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    if (errnoCode(e) === 'ENOTDIR') return [{ path: dir, id: null, name: shard }];
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
  const hex = /^[0-9a-f]{2}$/.test(shard);
  return names.map((name) => ({ path: `${dir}/${name}`, id: hex && /^[0-9a-f]{62}$/.test(name) ? shard + name : null, name }));
}

/** Every file under objects/, in sorted order, for fsck and rebuilds. */
export async function* listObjectFiles(l: Layout): AsyncGenerator<ObjectEntry> {
  for (const shard of await listObjectShards(l)) yield* await listShardFiles(l, shard);
}

/**
 * The bytes of an object file as they are, unchecked (fsck checks them itself); null if gone.
 * Synchronous, as readObject: objects are small, and fsck reads every one (a promise per
 * file cost more than the read: bench/README.md §Scale).
 */
export async function readObjectFile(path: string): Promise<Buffer | null> {
  try {
    return readSmallFileSync(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw new RepositoryError('unreadable-object', `cannot read ${path}: ${errnoCode(e) ?? String(e)}`, { hint: 'qdo fsck lists all such damage', data: { path } });
  }
}

/** Removes an object (gc --prune; fsck --repair of a version no scheduler accepted). Returns whether it was there. */
export async function removeObject(l: Layout, id: string): Promise<boolean> {
  try {
    await unlink(objectPath(l, id));
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
}

/** Removes the empty shard folders (`ab/`) of objects/ or submissions/ after removals. */
export async function removeEmptyShards(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) if (/^[0-9a-f]{2}$/.test(n)) await rmdir(join(dir, n)).catch(() => undefined);
}

/** Size and time of an object file (gc's grace), or null if it is not a file. */
export async function objectFileInfo(l: Layout, id: string): Promise<{ size: number; mtimeMs: number } | null> {
  try {
    const st = await lstat(objectPath(l, id));
    return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : null;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
}
