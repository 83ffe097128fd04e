// Small file-system questions asked all over core: "is it there?" without try/catch noise.
// Absent (ENOENT, or a path through a non-folder) is an answer; any other error is thrown.
import { closeSync, lstatSync, openSync, readSync, readdirSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { errnoCode } from '../errors.js';

export async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await stat(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw e;
  }
}

export async function exists(p: string): Promise<boolean> {
  return (await statOrNull(p)) !== null;
}

export async function isFile(p: string): Promise<boolean> {
  return (await statOrNull(p))?.isFile() ?? false;
}

const SMALL = Buffer.allocUnsafe(64 * 1024);

/**
 * readFileSync for the many small files fsck and status read (objects, records): open, read
 * into one reused buffer, close — no fstat and no buffer per attempt, which at 10^5 files
 * is a tenth of fsck's time (bench/README.md §Scale). Larger files are read on in chunks.
 * Errors are readFileSync's (ENOENT, EISDIR, ...).
 */
export function readSmallFileSync(p: string): Buffer {
  const fd = openSync(p, 'r');
  try {
    return readSmallFdSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The rest of an open file, as readSmallFileSync reads it (the caller closes it). */
export function readSmallFdSync(fd: number): Buffer {
  let n = readSync(fd, SMALL, 0, SMALL.length, null);
  if (n < SMALL.length) return Buffer.from(SMALL.subarray(0, n));
  const parts = [Buffer.from(SMALL)];
  let total = n;
  for (;;) {
    const chunk = Buffer.allocUnsafe(SMALL.length);
    n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    parts.push(chunk.subarray(0, n));
    total += n;
  }
  return Buffer.concat(parts, total);
}

/**
 * Removes a file or folder tree, never following a symbolic link (as rmSync recursive and
 * force: what is already gone is no error), and returns the bytes of the files removed (as
 * gc's diskBytes counts them). One pass: gc sized each folder and then removed it, reading
 * every folder twice and stat'ing every file twice.
 */
export function removeTreeSync(p: string): number {
  const gone = (e: unknown): boolean => errnoCode(e) === 'ENOENT';
  let st: Stats;
  try {
    st = lstatSync(p);
  } catch (e) {
    if (gone(e)) return 0;
    throw e;
  }
  if (!st.isDirectory()) {
    try {
      unlinkSync(p);
    } catch (e) {
      if (!gone(e)) throw e;
      return 0;
    }
    return st.size;
  }
  let bytes = 0;
  let names;
  try {
    names = readdirSync(p, { withFileTypes: true });
  } catch (e) {
    if (gone(e)) return 0;
    throw e;
  }
  for (const d of names) bytes += d.isDirectory() ? removeTreeSync(join(p, d.name)) : removeFileSync(join(p, d.name));
  try {
    rmdirSync(p);
  } catch (e) {
    if (!gone(e)) throw e;
  }
  return bytes;
}

function removeFileSync(p: string): number {
  try {
    const size = lstatSync(p).size;
    unlinkSync(p);
    return size;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return 0;
    if (errnoCode(e) === 'EISDIR' || errnoCode(e) === 'EPERM') return removeTreeSync(p); // a folder after all (its type unknown, or replaced)
    throw e;
  }
}
