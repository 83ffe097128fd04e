// The one atomic file writer (spec/layout.md §Writes), for every file qdo replaces: `.qdo`
// (store), run folders (core) and the local backend's spool (scheduler/local). Write a temp
// file in the target's own folder, fsync it, then rename it over the target (replace) or
// link it to the target (create: fails if there is one), and fsync the folder. Readers see
// the old bytes or the new bytes, never a mix; a writer killed at any point leaves at most a
// temp file that `qdo fsck` recognises by its name and removes with --repair.
import { closeSync, fsync as fsyncCb, linkSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { crypto } from './lazy-crypto.js';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { openFileBudget } from './limits.js';
import { errnoCode } from '../errors.js';

/** Temp files are named `.<target>.tmp-<8 hex>`; never `*.lock` (proper-lockfile owns that). */
export const TEMP_MARK = '.tmp-';
export function isTempName(name: string): boolean {
  return name.startsWith('.') && /\.tmp-[0-9a-f]{8}$/.test(name);
}

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}${TEMP_MARK}${randomHex8()}`);
}

// Random bytes fetched 4 KiB at a time: a sweep names ~10 temp files per point, and one
// randomBytes call each cost ~13 µs (a second of a 10^4-point sweep; bench/README.md). Read
// from the kernel's /dev/urandom where there is one: node:crypto's randomBytes gives the same
// bytes, but loading node:crypto costs a submit ~3 ms (bench/README.md, stop 24).
let pool: Buffer | undefined;
let poolAt = 0;

function randomPool(): Buffer {
  const b = Buffer.allocUnsafe(4096);
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    if (readSync(fd, b, 0, b.length, null) === b.length) return b;
  } catch {
    // no /dev/urandom here: node:crypto's
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return crypto().randomBytes(4096);
}

/** 8 random hex digits (temp-file names, lock nonces). */
export function randomHex8(): string {
  if (pool === undefined || poolAt + 4 > pool.length) {
    pool = randomPool();
    poolAt = 0;
  }
  poolAt += 4;
  return pool.toString('hex', poolAt - 4, poolAt);
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

/**
 * `data` may be a function of the temp file's creation time (the later of its modification
 * and change times, in ms): the file system's clock, for a writer whose content depends on
 * it (the ended-jobs cache).
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array | ((createdMs: number) => string | Uint8Array), opts: AtomicWriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = tempPathFor(target);
  const fh = await openTemp(tmp, opts);
  try {
    try {
      if (typeof data === 'function') {
        const st = await fh.stat();
        data = data(Math.max(st.mtimeMs, st.ctimeMs));
      }
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

// ---- Many files at once (spec/layout.md §Writes, batches) ----
// A writer of many files (a sweep's intents, run folders and answers) writes them in the same
// steps as writeFileAtomic, each step for all files before the next: every temp file written
// (synchronously: small files, and the promise API costs a thread hop and ~4 syscalls per
// call), all fsynced together (in the thread pool, where concurrent fsyncs share the
// journal's commits), renamed or linked into place, then each folder fsynced once. A writer
// killed at any point leaves each target old or new, and temp files fsck recognises.

/** A temp file written and still open, waiting for its fsync and its rename. */
export interface PendingFile {
  target: string;
  tmp: string;
  fd: number;
  how: 'replace' | 'create';
}

/** Writes `data` to a new temp file beside `target` (its folder made if missing) and leaves it open. */
export function writePendingFile(target: string, data: Uint8Array, opts: { mode?: number; how?: 'replace' | 'create' } = {}): PendingFile {
  const tmp = tempPathFor(target);
  let fd: number;
  // As openTemp: the folder made when the open finds it missing, and made again if a
  // concurrent gc removes it (empty) between the mkdir and the open.
  for (let attempt = 1; ; attempt++) {
    try {
      fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
      break;
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT' || attempt >= 50) throw e;
    }
    mkdirSync(dirname(tmp), { recursive: true });
  }
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
  return { target, tmp, fd, how: opts.how ?? 'replace' };
}

const fsyncFd = (fd: number) => new Promise<void>((res, rej) => fsyncCb(fd, (e) => (e ? rej(e) : res())));

/** fsyncs every pending file together and closes them (their data durable before any is renamed). */
export async function syncPendingFiles(files: readonly PendingFile[]): Promise<void> {
  const results = await Promise.allSettled(files.map((f) => fsyncFd(f.fd)));
  closePendingFiles(files);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Closes the pending files still open (each once: a closed one is marked). */
export function closePendingFiles(files: readonly PendingFile[]): void {
  for (const f of files) {
    if (f.fd < 0) continue;
    try {
      closeSync(f.fd);
    } catch {
      // closed already
    }
    f.fd = -1;
  }
}

/** Removes the temp files of pending files that were not installed (after a failure). */
export function discardPendingFiles(files: readonly PendingFile[]): void {
  for (const f of files) {
    try {
      unlinkSync(f.tmp);
    } catch {
      // installed, or already gone
    }
  }
}

/**
 * Renames (replace) or links (create) one synced pending file into place. A create whose
 * target exists fails with EEXIST and leaves its temp file to the caller.
 */
export function installPendingFile(f: PendingFile): void {
  if (f.how === 'replace') return renameSync(f.tmp, f.target);
  linkSync(f.tmp, f.target);
  try {
    unlinkSync(f.tmp);
  } catch {
    // gone already: nothing to tidy
  }
}

/** fsyncs each folder once, together (the renames into them durable). */
export async function fsyncDirs(dirs: Iterable<string>): Promise<void> {
  await Promise.all([...new Set(dirs)].map((d) => fsyncDir(d)));
}

/**
 * writeFileAtomic (replace) for many files: temp files written, fsynced together, renamed,
 * each folder fsynced once. Files are written in groups of `group` (open descriptors).
 * `durable: false` leaves out the fsyncs (each file still appears whole): for files that
 * can be made again and that nothing needs after a crash.
 */
export async function writeFilesAtomic(files: readonly { target: string; data: Uint8Array | string; mode?: number }[], opts: { group?: number; durable?: boolean } = {}): Promise<void> {
  // No more open at once than `ulimit -n` allows (util/limits.ts).
  const group = Math.max(1, Math.min(opts.group ?? 512, Math.floor(openFileBudget() / 2)));
  const durable = opts.durable ?? true;
  for (let k = 0; k < files.length; k += group) {
    const pending: PendingFile[] = [];
    try {
      for (const f of files.slice(k, k + group)) pending.push(writePendingFile(f.target, typeof f.data === 'string' ? Buffer.from(f.data) : f.data, { mode: f.mode }));
      if (durable) await syncPendingFiles(pending);
      else closePendingFiles(pending);
      for (const f of pending) installPendingFile(f);
    } catch (e) {
      closePendingFiles(pending);
      discardPendingFiles(pending);
      throw e;
    }
    if (durable) await fsyncDirs(pending.map((f) => dirname(f.target)));
  }
}
