// Small file-system questions asked all over core: "is it there?" without try/catch noise.
// Absent (ENOENT, or a path through a non-folder) is an answer; any other error is thrown.
import { closeSync, lstatSync, openSync, readSync, readdirSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readdir, stat } from 'node:fs/promises';
import { errnoCode } from '../errors.js';
import { WORKER_RESERVATION, addressSpaceLeft } from './limits.js';

export async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await stat(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw e;
  }
}

/**
 * The names in a folder, none if it is not there. Any other error is thrown, made by `fail`
 * (given its code) where the caller names what the folder is.
 */
export async function namesIn(dir: string, fail?: (code: string) => Error): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT' || c === 'ENOTDIR') return [];
    throw fail ? fail(c ?? String(e)) : e;
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

// removeTreeSync as plain JavaScript for worker threads (TreeRemover; a worker cannot run
// the bundle's own functions): the same walk, the same answers (a test holds the two to one
// set of trees).
const REMOVE_TREE_WORKER = `
const { lstatSync, readdirSync, rmdirSync, unlinkSync } = require('node:fs');
const { join } = require('node:path');
const { parentPort, workerData } = require('node:worker_threads');
const gone = (e) => e && e.code === 'ENOENT';
function removeFile(p) {
  try { const size = lstatSync(p).size; unlinkSync(p); return size; }
  catch (e) { if (gone(e)) return 0; if (e && (e.code === 'EISDIR' || e.code === 'EPERM')) return removeTree(p); throw e; }
}
function removeTree(p) {
  let st;
  try { st = lstatSync(p); } catch (e) { if (gone(e)) return 0; throw e; }
  if (!st.isDirectory()) { try { unlinkSync(p); } catch (e) { if (!gone(e)) throw e; return 0; } return st.size; }
  let names;
  try { names = readdirSync(p, { withFileTypes: true }); } catch (e) { if (gone(e)) return 0; throw e; }
  let bytes = 0;
  for (const d of names) bytes += d.isDirectory() ? removeTree(join(p, d.name)) : removeFile(join(p, d.name));
  try { rmdirSync(p); } catch (e) { if (!gone(e)) throw e; }
  return bytes;
}
parentPort.on('message', ({ n, paths }) => {
  const out = [];
  for (const p of paths) {
    try { out.push(removeTree(p)); }
    catch (e) { out.push({ error: String(e && e.message || e), code: e && e.code }); }
  }
  parentPort.postMessage({ n, out });
});
`;

type Removed = number | { error: string; code?: string };

/**
 * removeTreeSync of many trees, in worker threads: on the VMs this runs on an unlink or an
 * rmdir takes ~0.25 ms, most of it waiting in the kernel, and gc's 10^4 run folders removed
 * one by one took a third of its time (bench/README.md §Scale). `remove` hands a list of
 * trees to the next worker and answers, per tree, the bytes removed or why it could not be
 * (what was removed stays removed, as with removeTreeSync); lists are removed in parallel
 * with each other and with the caller's own work. Short lists are removed at once in this
 * thread (a worker costs a few ms to start). `close` lets the workers go.
 */
export class TreeRemover {
  private workers: import('node:worker_threads').Worker[] = [];
  private next = 0;
  private calls = new Map<number, { resolve: (out: Removed[]) => void; reject: (e: unknown) => void; worker: import('node:worker_threads').Worker }>();
  private n = 0;

  constructor(private readonly size = 4, private readonly inThreadBelow = 16) {}

  /** Each path's answer: the bytes removed, or why it could not be removed (every path is tried). */
  async remove(paths: string[]): Promise<(number | NodeJS.ErrnoException)[]> {
    const here = (p: string): Removed => {
      try {
        return removeTreeSync(p);
      } catch (e) {
        return { error: (e as Error).message, code: (e as NodeJS.ErrnoException).code };
      }
    };
    const out: Removed[] = paths.length < this.inThreadBelow ? paths.map(here) : await this.inWorker(paths, here);
    return out.map((a) => {
      if (typeof a === 'number') return a;
      const e = new Error(a.error) as NodeJS.ErrnoException;
      if (a.code !== undefined) e.code = a.code;
      return e;
    });
  }

  private inWorker(paths: string[], here: (p: string) => Removed): Promise<Removed[]> {
    // A worker's isolate reserves ~1 GiB of address space: under a low `ulimit -v` it would
    // kill the process (util/limits.ts), so the workers already made, or this thread.
    if (this.workers.length < this.size && addressSpaceLeft() >= WORKER_RESERVATION) {
      // Loaded only here (as lazy-crypto does): a dynamic import() has no callback inside the bundle.
      const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
      const w = new Worker(REMOVE_TREE_WORKER, { eval: true });
      w.on('message', (m: { n: number; out: Removed[] }) => {
        this.calls.get(m.n)?.resolve(m.out);
        this.calls.delete(m.n);
      });
      // A worker that fails or stops fails the lists it holds and leaves the pool (a list
      // sent to it later would never be answered); the next list starts another.
      const fail = (e: unknown) => {
        this.workers = this.workers.filter((x) => x !== w);
        for (const [n, c] of this.calls) {
          if (c.worker !== w) continue;
          c.reject(e);
          this.calls.delete(n);
        }
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`a removal worker stopped (exit ${code})`)));
      this.workers.push(w);
    }
    if (this.workers.length === 0) return Promise.resolve(paths.map(here));
    const w = this.workers[this.next++ % this.workers.length]!;
    const n = this.n++;
    return new Promise<Removed[]>((resolve, reject) => {
      this.calls.set(n, { resolve, reject, worker: w });
      w.postMessage({ n, paths });
    });
  }

  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    for (const w of ws) w.removeAllListeners('exit');
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
