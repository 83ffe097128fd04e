// Submission records on disk (spec/submissions.md): `submissions/<id[0:2]>/<id[2:]>.json`,
// one small file per job version, replaced atomically. One file per version means two
// allocations synced by rsync or git never touch the same file unless they ran the same version.
import { existsSync, readFileSync } from 'node:fs';
import { link, mkdir, open, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConflictError, RepositoryError, errnoCode } from '../errors.js';
import { isObjectId } from '../model/object-id.js';
import { encodeSubmission, parseSubmission, type Submission } from '../model/submission.js';
import { fsyncDir, tempPathFor, writeFileAtomic } from './atomic.js';
import { withLock } from './locks.js';
import { dropEndedCache } from './ended-cache.js';
import type { Layout } from './layout.js';

export const SUBMISSIONS_DIR = 'submissions';

export function submissionPath(l: Layout, id: string): string {
  return join(l.dir, SUBMISSIONS_DIR, id.slice(0, 2), `${id.slice(2)}.json`);
}

/** The record of a version, or null if it was never submitted through qdo. */
export async function readSubmission(l: Layout, id: string): Promise<Submission | null> {
  const p = submissionPath(l, id);
  let bytes: Buffer;
  try {
    // Synchronous on purpose: status reads one small record per job shown, and the promise
    // API costs ~4 syscalls and a thread hop per file (5x slower at 10^4 jobs; bench/README.md).
    bytes = readFileSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw new RepositoryError('unreadable-submission', `cannot read ${p}: ${errnoCode(e) ?? String(e)}`);
  }
  const s = parseSubmission(bytes, p);
  if (s.id !== id) throw new RepositoryError('bad-submission', `${p}: field id: the file is for ${id} but says ${s.id}`);
  return s;
}

/**
 * Replaces a record unconditionally. Only for repairs (fsck) and tests: every other writer
 * changes records with changeSubmission / casSubmission / createSubmission (§Writes).
 */
export async function writeSubmission(l: Layout, s: Submission): Promise<void> {
  await writeFileAtomic(submissionPath(l, s.id), encodeSubmission(s), { mkdirs: true });
  // A repair may change a terminal record, which the ended cache assumes never happens.
  await dropEndedCache(l);
}

/** Ids of every version with a record (gc, fsck). */
export async function listSubmissionIds(l: Layout): Promise<string[]> {
  const root = join(l.dir, SUBMISSIONS_DIR);
  const out: string[] = [];
  let shards: string[];
  try {
    shards = await readdir(root);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return out;
    throw e;
  }
  for (const s of shards.sort()) {
    if (!/^[0-9a-f]{2}$/.test(s)) continue;
    for (const f of (await readdir(join(root, s))).sort()) {
      const id = s + f.replace(/\.json$/, '');
      if (f.endsWith('.json') && isObjectId(id)) out.push(id);
    }
  }
  return out;
}

// ---- Changing records (spec/submissions.md §Writes) ----
// Every change of an existing record is made under that record's lock (`<record>.lock`),
// re-reading the record inside it: a writer decides from what is on disk NOW, never from a
// copy it read earlier, so a slow refresh can never write back a stale state over the
// submitter's answer. The lock is held for one read and one atomic write, never across a
// scheduler call.

/**
 * What a change does with the record as it is now (null if there is none): the next record,
 * `null` to leave it as it is, or `'delete'` to remove it.
 */
export type SubmissionChange = (current: Submission | null) => Submission | null | 'delete';

/** True if two records have the same bytes (the compare of compare-and-swap). */
export function sameSubmission(a: Submission | null, b: Submission | null): boolean {
  if (a === null || b === null) return a === b;
  return encodeSubmission(a).equals(encodeSubmission(b));
}

/**
 * Applies `change` to the record of `id` under its lock. Returns the record as it is
 * afterwards (null if there is none). A record that cannot be parsed is an error (exit 7):
 * no change is made on top of a damaged file.
 */
export async function changeSubmission(l: Layout, id: string, change: SubmissionChange): Promise<Submission | null> {
  const path = submissionPath(l, id);
  const run = async (): Promise<Submission | null> => {
    const cur = await readSubmission(l, id);
    const next = change(cur);
    if (next === null) return cur;
    if (next === 'delete') {
      if (cur !== null) await unlinkDurably(path);
      return null;
    }
    if (next.id !== id) throw new Error(`changeSubmission: record for ${next.id} given for ${id}`);
    if (cur !== null && sameSubmission(cur, next)) return cur;
    await writeFileAtomic(path, encodeSubmission(next), { mkdirs: true });
    return next;
  };
  // No record and nothing to create: no lock (its folder may not even exist).
  if (!existsSync(path)) {
    const probe = change(null);
    if (probe === null || probe === 'delete') return null;
  }
  await mkdir(dirname(path), { recursive: true });
  return withLock(path, run);
}

/**
 * Compare-and-swap: writes `next` only if the record is still byte-for-byte `expected`
 * (the copy the caller decided from). Returns whether it wrote, and the record as it is now.
 */
export async function casSubmission(l: Layout, expected: Submission, next: Submission | 'delete'): Promise<{ ok: boolean; current: Submission | null }> {
  let ok = false;
  const current = await changeSubmission(l, expected.id, (cur) => {
    if (!sameSubmission(cur, expected)) return null;
    ok = true;
    return next;
  });
  return { ok, current };
}

/**
 * Records the intent of a new submission: creates the record, failing with `exists` if the
 * version already has one (a version is submitted once). The file appears whole or not at
 * all (temp file + link, which refuses to replace).
 */
export async function createSubmission(l: Layout, s: Submission): Promise<void> {
  const path = submissionPath(l, s.id);
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(encodeSubmission(s));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') throw new ConflictError('record-exists', `${path} already exists: this version was submitted before`, { hint: 'run the command again: it makes a new version' });
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await fsyncDir(dirname(path));
}

async function unlinkDurably(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  await fsyncDir(dirname(path));
}
