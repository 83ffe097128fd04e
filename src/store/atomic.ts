// Atomic file replacement (spec/layout.md §Writes): write a temp file in the target's own
// folder, fsync it, rename it over the target, fsync the folder. Readers see the old bytes
// or the new bytes, never a mix; a writer killed at any point leaves at most a temp file
// that `qdo fsck` recognises by its name and removes with --repair.
import { crypto } from '../util/lazy-crypto.js';
import { open, rename, unlink, mkdir } from 'node:fs/promises';
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
  mode?: number;
  /** Create the parent folder if missing. */
  mkdirs?: boolean;
}

export async function writeFileAtomic(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  if (opts.mkdirs) await mkdir(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dirname(target));
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
