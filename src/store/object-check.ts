// Reading and hashing every object file for fsck (spec/objects.md §Ids), on worker threads
// where there are many. fsck over 10^5 objects spent most of its time in open/read/close,
// one file after another on one thread (~9-10 s against its 10 s target; bench/README.md,
// stop 26): two workers read and hash shard folders while this thread takes their answers
// in the folders' order, so fsck's findings come out as before, in path order.
import { createRequire } from 'node:module';
import { errnoCode } from '../errors.js';
import { objectId } from '../model/object-id.js';
import { MANIFEST_SCHEMA } from '../model/manifest.js';
import { addressSpaceLeft, WORKER_RESERVATION } from '../util/limits.js';
import { readSmallFileSync } from '../util/fs.js';
import type { Layout } from './layout.js';
import { listObjectShards, listShardFiles, type ObjectEntry } from './objects.js';

/** What reading one object file found: its bytes' id, and the bytes when they may be a manifest; gone; or the error's code. */
export type ObjectRead = { actual: string; bytes: Buffer | null } | 'gone' | { error: string };

export interface CheckedObject extends ObjectEntry {
  /** For a file named like an object: what reading it found (null for other names: temp files, strays). */
  read: ObjectRead | null;
}

/** A manifest's bytes hold this (model/manifest.ts looksLikeManifest tests the rest). */
export const MANIFEST_MARK = `"schema":"${MANIFEST_SCHEMA}"`;

/** Below this many objects, no worker: starting one costs more than it saves. */
export const WORKER_MIN_OBJECTS = 4000;
const WORKERS = 2;

// The same reading and hashing as readOne, as plain JavaScript for a worker thread (a worker
// cannot run the bundle's own functions); test/store/object-check holds the two to one answer.
const CHECK_WORKER = `
const { closeSync, openSync, readSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { parentPort, workerData } = require('node:worker_threads');
const SMALL = Buffer.allocUnsafe(65536);
function read(p) {
  const fd = openSync(p, 'r');
  try {
    let n = readSync(fd, SMALL, 0, SMALL.length, null);
    if (n < SMALL.length) return Buffer.from(SMALL.subarray(0, n));
    const parts = [Buffer.from(SMALL)];
    for (;;) {
      const chunk = Buffer.allocUnsafe(SMALL.length);
      n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      parts.push(chunk.subarray(0, n));
    }
    return Buffer.concat(parts);
  } finally {
    closeSync(fd);
  }
}
parentPort.on('message', ({ n, paths }) => {
  const out = [];
  for (const p of paths) {
    try {
      const b = read(p);
      out.push({ actual: createHash('sha256').update(b).digest('hex'), bytes: b[0] === 0x7b && b.includes(workerData.mark) ? b : null });
    } catch (e) {
      out.push(e && e.code === 'ENOENT' ? 'gone' : { error: (e && e.code) || String(e) });
    }
  }
  parentPort.postMessage({ n, out });
});
`;

/** Reads and hashes one object file here (this thread). */
export function readOne(path: string): ObjectRead {
  let b: Buffer;
  try {
    b = readSmallFileSync(path);
  } catch (e) {
    return errnoCode(e) === 'ENOENT' ? 'gone' : { error: errnoCode(e) ?? String(e) };
  }
  return { actual: objectId(b), bytes: b[0] === 0x7b && b.includes(MANIFEST_MARK) ? b : null };
}

type Worker = import('node:worker_threads').Worker;

/** Every file under objects/, in sorted order (as listObjectFiles), each object file read and hashed. */
export async function* checkObjectFiles(l: Layout, opts: { workers?: boolean } = {}): AsyncGenerator<CheckedObject> {
  // Each shard's entries, listed first (a readdir each: cheap beside reading the files).
  const listed: ObjectEntry[][] = [];
  let total = 0;
  for (const shard of await listObjectShards(l)) {
    const entries = await listShardFiles(l, shard);
    total += entries.length;
    listed.push(entries);
  }
  const pool = (opts.workers ?? true) && total >= WORKER_MIN_OBJECTS ? startWorkers() : [];
  try {
    if (pool.length === 0) {
      for (const entries of listed) for (const e of entries) yield { ...e, read: e.id === null ? null : readOne(e.path) };
      return;
    }
    // Up to two shards per worker in flight, answers taken in the shards' order. A worker that
    // fails leaves the pool, and what it held is read here.
    const alive = new Set(pool);
    const pending = new Map<number, { w: Worker; resolve: (out: ObjectRead[]) => void; reject: (e: unknown) => void }>();
    for (const w of pool) {
      w.on('message', (m: { n: number; out: ObjectRead[] }) => {
        const p = pending.get(m.n);
        pending.delete(m.n);
        p?.resolve(m.out.map((r) => (typeof r === 'object' && 'actual' in r && r.bytes !== null ? { actual: r.actual, bytes: Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) } : r)));
      });
      const fail = (e: unknown) => {
        alive.delete(w);
        for (const [k, p] of pending) {
          if (p.w !== w) continue;
          pending.delete(k);
          p.reject(e);
        }
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`an object-check worker stopped (exit ${code})`)));
    }
    const here = (entries: ObjectEntry[]): ObjectRead[] => entries.filter((e) => e.id !== null).map((e) => readOne(e.path));
    let n = 0;
    const ask = (entries: ObjectEntry[]): Promise<ObjectRead[]> => {
      const paths = entries.filter((e) => e.id !== null).map((e) => e.path);
      const ws = [...alive];
      if (paths.length === 0 || ws.length === 0) return Promise.resolve(here(entries));
      const k = n++;
      const w = ws[k % ws.length]!;
      return new Promise<ObjectRead[]>((resolve, reject) => {
        pending.set(k, { w, resolve, reject });
        w.postMessage({ n: k, paths });
      }).catch(() => here(entries));
    };
    const ahead = WORKERS * 2;
    const asked: Promise<ObjectRead[]>[] = [];
    for (let i = 0; i < Math.min(ahead, listed.length); i++) asked.push(ask(listed[i]!));
    for (let i = 0; i < listed.length; i++) {
      const out = await asked[i]!;
      if (i + ahead < listed.length) asked.push(ask(listed[i + ahead]!));
      let j = 0;
      for (const e of listed[i]!) yield { ...e, read: e.id === null ? null : out[j++]! };
    }
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/** Two workers where their address space fits (util/limits.ts), else none (this thread reads). */
function startWorkers(): Worker[] {
  if (addressSpaceLeft() < WORKERS * WORKER_RESERVATION) return [];
  // Loaded only here (as lazy-crypto does): a dynamic import() has no callback inside the bundle.
  const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
  const out: Worker[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) out.push(new Worker(CHECK_WORKER, { eval: true, workerData: { mark: MANIFEST_MARK } }));
  } catch {
    // No worker (a platform or resource refusing threads): this thread reads, as below the threshold.
  }
  return out;
}
