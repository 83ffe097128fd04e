// The one atomic file writer (spec/layout.md §Writes), for every file qdo replaces: `.qdo`
// (store), run folders (core) and the local backend's spool (scheduler/local). Write a temp
// file in the target's own folder, fsync it, then rename it over the target (replace) or
// link it to the target (create: fails if there is one), and fsync the folder. Readers see
// the old bytes or the new bytes, never a mix; a writer killed at any point leaves at most a
// temp file that `qdo fsck` recognises by its name and removes with --repair.
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { crypto } from './lazy-crypto.js';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.js';

/** Temp files are named `.<target>.tmp-<8 hex>`; never `*.lock` (proper-lockfile owns that). */
export const TEMP_MARK = '.tmp-';
export function isTempName(name: string): boolean {
  return name.startsWith('.') && /\.tmp-[0-9a-f]{8}$/.test(name);
}

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}${TEMP_MARK}${crypto().randomBytes(4).toString('hex')}`);
}

export interface AtomicWriteOptions {
  /** Permission bits of the file, less the umask (default 0644; objects are 0444). */
  mode?: number;
  /** Exactly `mode`, whatever the umask (the local spool's scripts). */
  exactMode?: boolean;
  /** Create the parent folder if missing. */
  mkdirs?: boolean;
  /**
   * `replace` (default): rename over whatever is there. `create`: link, failing with EEXIST if
   * the target exists (the file appears whole or not at all and is never replaced).
   */
  how?: 'replace' | 'create';
  /**
   * fsync the file and its folder (default true). Only the local spool's own bookkeeping
   * skips it: it is rebuilt from what the job processes write.
   */
  durable?: boolean;
}

export async function writeFileAtomic(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = tempPathFor(target);
  const fh = await openTemp(tmp, opts);
  try {
    try {
      await fh.writeFile(data);
      if (opts.exactMode && opts.mode !== undefined) await fh.chmod(opts.mode);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.how === 'create') await link(tmp, target);
    else await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (opts.how === 'create') await unlink(tmp).catch(() => undefined);
  if (durable) await fsyncDir(dirname(target));
}

/**
 * Opens the temp file. With `mkdirs`, its folder is made when the open finds it missing — and
 * made again if it went away before the next open: gc removes empty shard folders
 * (`objects/ab/`), and one may be empty just when a writer is about to put the first file in
 * it. Once the temp file is in the folder, the folder is not empty and stays. The open comes
 * first: the folder is nearly always there (a sweep of 1,000 points made 4,000 mkdirs that
 * failed with EEXIST when it was made first).
 */
async function openTemp(tmp: string, opts: AtomicWriteOptions) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open(tmp, 'wx', opts.mode ?? 0o644);
    } catch (e) {
      if (!opts.mkdirs || errnoCode(e) !== 'ENOENT' || attempt >= 50) throw e;
    }
    await mkdir(dirname(tmp), { recursive: true });
  }
}

/** Makes a rename durable. Some filesystems refuse to fsync a folder; that is not an error. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    const c = errnoCode(e);
    if (c !== 'EISDIR' && c !== 'EINVAL' && c !== 'EPERM' && c !== 'EACCES' && c !== 'EBADF') throw e;
  } finally {
    await fh?.close();
  }
}

/**
 * The first half of writeFileAtomic for writers of many files at once (store: batched record
 * changes): the bytes in a new temp file beside `target`, not yet fsynced. The caller fsyncs
 * it (syncFile), renames it over the target and fsyncs the folder, or unlinks it.
 */
export function writeTempFile(target: string, data: Uint8Array, mode = 0o644): string {
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, 'wx', mode);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
  closeSync(fd);
  return tmp;
}

/** fsyncs a file's bytes (in the thread pool: several in flight share the journal's commits). */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
