// Submission records on disk (spec/submissions.md): `submissions/<id[0:2]>/<id[2:]>.json`,
// one small file per job version, replaced atomically. One file per version means two
// allocations synced by rsync or git never touch the same file unless they ran the same version.
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConflictError, RepositoryError, errnoCode } from '../errors.js';
import { isObjectId } from '../model/object-id.js';
import { encodeSubmission, parseSubmission, type Submission } from '../model/submission.js';
import { closePendingFiles, discardPendingFiles, fsyncDir, fsyncDirs, installPendingFile, isTempName, syncPendingFiles, writeFileAtomic, writePendingFile, type PendingFile } from './atomic.js';
import { LOCK_SUFFIX, withLock, withLocks } from './locks.js';
import type { Layout } from './layout.js';
import { readSmallFileSync } from '../util/fs.js';
import { openFileBudget } from '../util/limits.js';
import { withChunkAnswer } from './sweeps.js';

export const SUBMISSIONS_DIR = 'submissions';

/** The folder of the records whose ids begin with the two hex digits `xx`. */
export function submissionFolder(l: Layout, xx: string): string {
  return `${l.dir}/${SUBMISSIONS_DIR}/${xx}`;
}

export function submissionPath(l: Layout, id: string): string {
  // Joined by hand: status asks this once per job listed, and path.join normalises each time.
  // The layout's folder is normalised and the id is hex (refs and records are checked).
  return `${l.dir}/${SUBMISSIONS_DIR}/${id.slice(0, 2)}/${id.slice(2)}.json`;
}

/** The record of a version, or null if it was never submitted through qdo. */
export async function readSubmission(l: Layout, id: string): Promise<Submission | null> {
  const p = submissionPath(l, id);
  let bytes: Buffer;
  try {
    // Synchronous on purpose: status reads one small record per job shown, and the promise
    // API costs ~4 syscalls and a thread hop per file (5x slower at 10^4 jobs; bench/README.md).
    bytes = readSmallFileSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw new RepositoryError('unreadable-submission', `cannot read ${p}: ${errnoCode(e) ?? String(e)}`);
  }
  return parseSubmissionAt(l, bytes, p, id);
}

/**
 * The record in `bytes`, read from `path`, which must be the record of `id`, as readers see
 * it: a packed point waiting for its answer reads as answered by its chunk's answer file
 * (spec/sweeps.md §Answer). Every reader and every read-modify-write goes through here, so
 * compare-and-swap compares records as they read.
 */
export function parseSubmissionAt(l: Layout, bytes: Buffer, path: string, id: string): Submission {
  const s = parseSubmission(bytes, path);
  if (s.id !== id) throw new RepositoryError('bad-submission', `${path}: field id: the file is for ${id} but says ${s.id}`);
  return s.sched_id === null ? withChunkAnswer(l, s) : s;
}

/**
 * Replaces a record unconditionally. Only for repairs (fsck) and tests: every other writer
 * changes records with changeSubmission / casSubmission / createSubmission (§Writes).
 */
export async function writeSubmission(l: Layout, s: Submission): Promise<void> {
  await writeFileAtomic(submissionPath(l, s.id), encodeSubmission(s), { mkdirs: true });
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
    let names: string[];
    try {
      names = await readdir(join(root, s));
    } catch (e) {
      // Removed since the listing (gc takes empty shard folders away).
      if (errnoCode(e) === 'ENOENT') continue;
      throw e;
    }
    for (const f of names.sort()) {
      const id = s + f.replace(/\.json$/, '');
      if (f.endsWith('.json') && isObjectId(id)) out.push(id);
    }
  }
  return out;
}

// ---- Changing records (spec/submissions.md §Writes) ----
// Every change of an existing record is made under the lock of its shard folder
// (`submissions/ab.lock`: one lock for the records of that folder, so a batch writer takes a
// few hundred locks, not one per record), re-reading the record inside it: a writer decides from what is on disk NOW, never from a
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
  // No record and nothing to create: no lock (its folder may not even exist). A record that
  // is there has its folder: no mkdir (it failed with EEXIST once per change).
  if (!existsSync(path)) {
    const probe = change(null);
    if (probe === null || probe === 'delete') return null;
    await mkdir(dirname(path), { recursive: true });
  }
  return withLock(recordLockTarget(path), run);
}

/**
 * What a record is changed under: its shard folder (`submissions/ab`, locked as
 * `submissions/ab.lock`), shared by every record in it (spec/submissions.md §Writes). Not
 * reentrant: a change never changes another record inside it.
 */
function recordLockTarget(path: string): string {
  return dirname(path);
}

/** Records changed at once by changeSubmissions (whole shard folders; one larger than this alone): their locks held together, each folder fsynced once. */
const BATCH = 64;
/**
 * A batch's size: BATCH, less where `ulimit -n` leaves fewer files (a batch holds a temp file
 * open per changed record until their fsyncs, then a descriptor per folder it fsyncs;
 * util/limits.ts). A shard folder with more records than this is still one batch (its lock
 * is one): its records are written in groups of this size.
 */
const batchSize = (): number => Math.max(1, Math.min(BATCH, Math.floor(openFileBudget() / 2)));
/**
 * Batches in flight at once (each takes the locks of its own shard folders: disjoint sets, so
 * they never wait on each other): 4, fewer where `ulimit -n` leaves too few files for them.
 */
const batchesInFlight = (): number => Math.max(1, Math.min(4, Math.floor(openFileBudget() / (2 * batchSize()))));

/**
 * changeSubmission for many records (cancel, hold or release of a sweep's thousands): each record is still
 * changed under its shard folder's lock, from what is on disk inside it (§Writes), but a batch
 * of them together: the locks taken one after another in path order (two batch writers never wait on
 * each other in a circle), every record read, the changed ones written to temp files, the temp
 * files fsynced together, renamed into place, each shard folder fsynced once, then the locks
 * let go. A writer killed at any point leaves each record old or new, and temp files and locks
 * that fsck recognises. A change may not delete. Returns the records as they are afterwards,
 * in the order of `ids` (null where there is none).
 */
export async function changeSubmissions(l: Layout, ids: readonly string[], change: (id: string, current: Submission | null) => Submission | null): Promise<(Submission | null)[]> {
  const order = ids.map((id, i) => ({ id, i, path: submissionPath(l, id) })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Whole shard folders to a batch: two batches never share a lock.
  const batches: (typeof order)[] = [];
  const size = batchSize();
  let cur: typeof order = [];
  for (let k = 0; k < order.length; ) {
    const shard = dirname(order[k]!.path);
    let e = k;
    while (e < order.length && dirname(order[e]!.path) === shard) e++;
    if (cur.length > 0 && cur.length + (e - k) > size) {
      batches.push(cur);
      cur = [];
    }
    cur.push(...order.slice(k, e));
    k = e;
  }
  if (cur.length > 0) batches.push(cur);
  const out = new Array<Submission | null>(ids.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      // Records that do not exist are left alone (a change never creates here): no lock needed.
      const here = batch.filter((x) => existsSync(x.path));
      await withLocks([...new Set(here.map((x) => recordLockTarget(x.path)))], async () => {
        let writes: { file: PendingFile; rec: Submission; i: number }[] = [];
        // The temp files written so far fsynced together, renamed into place, their folders
        // fsynced: at the end, and whenever `size` are open.
        const flush = async () => {
          const group = writes;
          writes = [];
          try {
            // Concurrent fsyncs share the journal's commits (one each, in turn, cost most of a batch).
            await syncPendingFiles(group.map((w) => w.file));
          } catch (e) {
            closePendingFiles(group.map((w) => w.file));
            discardPendingFiles(group.map((w) => w.file));
            throw e;
          }
          for (const w of group) {
            installPendingFile(w.file);
            out[w.i] = w.rec;
          }
          await fsyncDirs(group.map((w) => dirname(w.file.target)));
        };
        try {
          for (const x of here) {
            const cur = await readSubmission(l, x.id);
            out[x.i] = cur;
            const rec = change(x.id, cur);
            if (rec === null || cur === null) continue;
            if (rec.id !== x.id) throw new Error(`changeSubmissions: record for ${rec.id} given for ${x.id}`);
            const bytes = encodeSubmission(rec);
            if (encodeSubmission(cur).equals(bytes)) continue;
            writes.push({ file: writePendingFile(x.path, bytes), rec, i: x.i });
            if (writes.length >= size) await flush();
          }
        } catch (e) {
          closePendingFiles(writes.map((w) => w.file));
          discardPendingFiles(writes.map((w) => w.file));
          throw e;
        }
        await flush();
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(batchesInFlight(), batches.length) }, worker));
  return out;
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
  let exists = false;
  try {
    await writeFileAtomic(path, encodeSubmission(s), { how: 'create', mkdirs: true });
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    exists = true;
  }
  if (!exists) return;
  // A version the scheduler never accepted (refused, or settled as not-submitted) may be
  // submitted again: the same manifest made again, byte for byte (§Writes).
  let replaced = false;
  await changeSubmission(l, s.id, (cur) => {
    if (cur === null || (cur.state === 'not-submitted' && cur.sched_id === null)) {
      replaced = true;
      return s;
    }
    return null;
  });
  if (!replaced) throw new ConflictError('record-exists', `${path} already exists: this version was submitted before`, { hint: 'run the command again: it makes a new version' });
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

// ---- Scanning (fsck) ----

/** A file under `submissions/`: a record by its name, or something that is not one. */
export type RecordFile = { kind: 'record'; path: string; id: string } | { kind: 'stray'; path: string; why: string };

/**
 * Every file under `submissions/` in path order, named records and strays apart (temp files
 * and record locks are leftovers, see leftovers.ts). Folders that cannot be read are
 * reported, not thrown.
 */
export async function scanSubmissionFiles(l: Layout): Promise<{ files: RecordFile[]; unreadable: { path: string; reason: string }[] }> {
  const root = join(l.dir, SUBMISSIONS_DIR);
  const out = { files: [] as RecordFile[], unreadable: [] as { path: string; reason: string }[] };
  let shards;
  try {
    shards = await readdir(root, { withFileTypes: true });
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT') return out;
    if (c === 'ENOTDIR') out.files.push({ kind: 'stray', path: root, why: 'a file where the submissions folder belongs' });
    else out.unreadable.push({ path: root, reason: c ?? String(e) });
    return out;
  }
  const order = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const shard of shards.sort(order)) {
    const dir = join(root, shard.name);
    if (isTempName(shard.name) || shard.name.endsWith(LOCK_SUFFIX)) continue;
    if (!shard.isDirectory() || !/^[0-9a-f]{2}$/.test(shard.name)) {
      out.files.push({ kind: 'stray', path: dir, why: 'not named like a submission record folder (two hex digits)' });
      continue;
    }
    let names;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') out.unreadable.push({ path: dir, reason: errnoCode(e) ?? String(e) }); // ENOENT: removed since the listing
      continue;
    }
    for (const ent of names.sort(order)) {
      const p = `${dir}/${ent.name}`;
      if (isTempName(ent.name) || ent.name.endsWith(LOCK_SUFFIX)) continue;
      const m = /^([0-9a-f]{62})\.json$/.exec(ent.name);
      if (!m) out.files.push({ kind: 'stray', path: p, why: 'not named like a submission record (<62 hex digits>.json)' });
      else if (ent.isDirectory()) out.files.push({ kind: 'stray', path: p, why: 'a folder where a submission record belongs' });
      else out.files.push({ kind: 'record', path: p, id: shard.name + m[1] });
    }
  }
  return out;
}

/** The bytes of a record file, or why it cannot be read. */
export async function readSubmissionFile(path: string): Promise<Buffer | { error: string }> {
  try {
    return readSmallFileSync(path);
  } catch (e) {
    return { error: errnoCode(e) ?? String(e) };
  }
}

/**
 * Removes a record that cannot be changed the ordinary way (it does not parse, so
 * changeSubmission refuses it): fsck --repair and gc only, under its shard folder's lock.
 */
export async function removeSubmissionFile(l: Layout, id: string): Promise<void> {
  const path = submissionPath(l, id);
  await withLock(recordLockTarget(path), () => unlinkDurably(path));
}

/** Size of a record file (gc reports bytes freed), or null if there is none. */
export async function submissionFileInfo(l: Layout, id: string): Promise<{ size: number } | null> {
  try {
    const st = await lstat(submissionPath(l, id));
    return { size: st.size };
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
}

/** Removes the empty shard folders of `submissions/` (after gc or fsck removed records). */
export async function removeEmptySubmissionShards(l: Layout): Promise<void> {
  const { removeEmptyShards } = await import('./objects.js');
  await removeEmptyShards(join(l.dir, SUBMISSIONS_DIR));
}
