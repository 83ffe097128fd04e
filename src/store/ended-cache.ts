// `.qdo/cache/ended.json` (spec/layout.md; spec/submissions.md §Ended-jobs cache): copies of
// the submission records of job names whose latest version is in a terminal state, so
// `qdo status` over thousands of ended jobs reads one file and stats each record instead
// of reading and parsing one record per job.
//
// The records stay the truth. A terminal record still changes: a requeue re-opens it
// within rerun_window (§Attempts), a lost job's late end record gives it its real end
// (§Lost), policies, archives and gc add fields, fsck repairs it, rsync or a git merge
// brings another copy. So a copy is keyed by the identity of the record file it was read
// from (inode, size, modification and change time, read from the open file before its
// bytes), compared as the numbers one plain stat gives: any write of the record (temp + rename: a new inode and change time; in place: a
// new change time) makes the copy stale, and a stale copy is never used. Deleting the file
// loses nothing; a damaged, foreign or older one is ignored.
import { closeSync, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, RepositoryError } from '../errors.js';
import type { Submission } from '../model/submission.js';
import { isTerminal } from '../model/states.js';
import { writeFileAtomic } from './atomic.js';
import type { Layout } from './layout.js';
import { parseSubmissionAt, submissionPath } from './submissions.js';

export const ENDED_CACHE = 'ended.json';
const VERSION = 4;

/**
 * The identity of a record file: inode, size, and modification and change times in
 * milliseconds as a double holds them (fractions to ~0.25 µs). Plain numbers from one
 * non-bigint stat: a bigint stat and a string per job cost ~2% of `qdo status` over 1,000
 * ended jobs (bench/README.md §Start-up), and any two writes of a record are much further
 * apart than 0.25 µs (each is a temp file, an fsync and a rename). An inode number above
 * 2^53 loses its last bits, the same for the same inode: two such files could only be taken
 * for one another with the same size and times as well.
 */
export interface FileId {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** A copy of an ended record and the identity of the record file it was read from. */
export interface EndedCopy {
  rec: Submission;
  file: FileId;
}

/** `project/name` → the copy of the record of its latest version, which had ended. */
export interface EndedCache {
  jobs: Map<string, EndedCopy>;
}

export function emptyEndedCache(): EndedCache {
  return { jobs: new Map() };
}

export function endedCachePath(l: Layout): string {
  return join(l.cache, ENDED_CACHE);
}

export function fileIdentity(st: Stats): FileId {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** Same file, as far as a stat can tell (a Stats is a FileId too). */
function sameId(a: FileId, b: FileId): boolean {
  return a.ctimeMs === b.ctimeMs && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.size === b.size;
}

function plausible(s: Record<string, unknown> | null): s is Submission {
  return typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.state === 'string' && isTerminal(s.state) && typeof s.project === 'string' && typeof s.name === 'string' && typeof s.version === 'number';
}

/**
 * The file: `{"version": 4, "jobs": [row, ...]}`, one row per record, sorted by job name:
 * the values of the fields every record has, in FIELDS order, then an object of its other
 * fields (or null), then the record file's identity (inode, size, mtime, ctime: four
 * numbers). JSON.parse reads arrays of values
 * faster than objects with their keys, and one object literal makes every record alike for V8.
 */
interface CacheFile {
  version?: unknown;
  jobs?: unknown;
}

const FIELDS = ['schema', 'id', 'project', 'name', 'version', 'scheduler', 'cluster', 'host', 'pid', 'intent', 'submitted', 'sched_id', 'after', 'state', 'state_source', 'state_time', 'exit_code', 'reason'] as const;
const KNOWN: ReadonlySet<string> = new Set(FIELDS);
const EXTRA = FIELDS.length;
const ROW_LENGTH = FIELDS.length + 5;

function fromRow(r: unknown[]): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    schema: r[0], id: r[1], project: r[2], name: r[3], version: r[4], scheduler: r[5], cluster: r[6], host: r[7], pid: r[8],
    intent: r[9], submitted: r[10], sched_id: r[11], after: r[12], state: r[13], state_source: r[14], state_time: r[15], exit_code: r[16], reason: r[17],
  };
  const extra = r[EXTRA];
  return extra !== null && typeof extra === 'object' ? Object.assign(rec, extra) : rec;
}

function toRow(c: EndedCopy): unknown[] {
  const row: unknown[] = FIELDS.map((k) => c.rec[k]);
  let extra: Record<string, unknown> | null = null;
  for (const k of Object.keys(c.rec)) if (!KNOWN.has(k)) (extra ??= {})[k] = c.rec[k];
  row.push(extra, c.file.ino, c.file.size, c.file.mtimeMs, c.file.ctimeMs);
  return row;
}

/** The cache file's size in bytes, or null if there is none: what reading it would cost. */
export function endedCacheBytes(l: Layout): number | null {
  try {
    return statSync(endedCachePath(l)).size;
  } catch {
    return null;
  }
}

/** The cache, or an empty one if there is none or it cannot be read (never an error). */
export function readEndedCache(l: Layout): EndedCache {
  const out = emptyEndedCache();
  let doc: CacheFile;
  try {
    // Synchronous, as readSubmission: one read on the path of every `qdo status`.
    doc = JSON.parse(readFileSync(endedCachePath(l), 'utf8')) as CacheFile;
  } catch {
    return out;
  }
  if (doc === null || typeof doc !== 'object' || doc.version !== VERSION || !Array.isArray(doc.jobs)) return out;
  for (const row of doc.jobs as unknown[]) {
    if (!Array.isArray(row) || row.length !== ROW_LENGTH) continue;
    const ino: unknown = row[EXTRA + 1], size: unknown = row[EXTRA + 2], mtimeMs: unknown = row[EXTRA + 3], ctimeMs: unknown = row[EXTRA + 4];
    if (typeof ino !== 'number' || typeof size !== 'number' || typeof mtimeMs !== 'number' || typeof ctimeMs !== 'number') continue;
    const rec = fromRow(row);
    if (plausible(rec)) out.jobs.set(rec.project + '/' + rec.name, { rec, file: { ino, size, mtimeMs, ctimeMs } });
  }
  return out;
}

/**
 * The copy of `project/name` if it is of version `id` and its record file is the very file
 * it was read from; else undefined (the caller reads the record). One stat.
 */
export function endedCopy(l: Layout, cache: EndedCache, project: string, name: string, id: string): Submission | undefined {
  const c = cache.jobs.get(project + '/' + name);
  if (c === undefined || c.rec.id !== id) return undefined;
  let st: Stats | undefined;
  try {
    st = statSync(submissionPath(l, id), { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  return st !== undefined && sameId(st, c.file) ? c.rec : undefined;
}

/**
 * Reads the record of `id` as readSubmission does, and notes it in the cache: kept if it is
 * terminal, dropped otherwise. Returns the record and whether the cache changed. The file's
 * identity is taken from the open file before its bytes are read, so a write that lands
 * in between leaves a copy whose identity is already stale (read again next time), never
 * new identity on old bytes.
 */
export function readThroughEnded(l: Layout, cache: EndedCache, key: string, id: string): { sub: Submission | null; changed: boolean } {
  const path = submissionPath(l, id);
  let file: FileId;
  let bytes: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      file = fileIdentity(fstatSync(fd));
      bytes = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { sub: null, changed: cache.jobs.delete(key) };
    throw new RepositoryError('unreadable-submission', `cannot read ${path}: ${errnoCode(e) ?? String(e)}`);
  }
  const sub = parseSubmissionAt(bytes, path, id);
  if (!isTerminal(sub.state)) return { sub, changed: cache.jobs.delete(key) };
  const old = cache.jobs.get(key);
  if (old !== undefined && sameId(old.file, file) && old.rec.id === sub.id) return { sub, changed: false };
  cache.jobs.set(key, { rec: sub, file });
  return { sub, changed: true };
}

/** Replaces the cache (atomically; concurrent writers each write a correct cache). */
export async function writeEndedCache(l: Layout, cache: EndedCache): Promise<void> {
  const jobs = [...cache.jobs.keys()].sort().map((k) => toRow(cache.jobs.get(k)!));
  await writeFileAtomic(endedCachePath(l), JSON.stringify({ version: VERSION, jobs }) + '\n', { mkdirs: true });
}

/** Forgets every copy (never needed for correctness: copies check their record). */
export async function dropEndedCache(l: Layout): Promise<void> {
  try {
    await unlink(endedCachePath(l));
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}
