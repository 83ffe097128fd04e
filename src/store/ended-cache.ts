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
import { readSmallFdSync } from '../util/fs.js';
import type { Layout } from './layout.js';
import { parseSubmissionAt, submissionPath } from './submissions.js';

export const ENDED_CACHE = 'ended.json';
const VERSION = 5;

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

/**
 * A copy of an ended record and the identity of the record file it was read from: the
 * record itself (read this run), or the row it was loaded as, made into a record only when
 * status uses it (rows of jobs not shown cost no object).
 */
export interface EndedCopy {
  file: FileId;
  rec?: Submission;
  row?: unknown[];
}

/** `project/name` → the copy of the record of its latest version, which had ended. */
export interface EndedCache {
  jobs: Map<string, EndedCopy>;
  /** The string table the loaded rows refer to. */
  strings: readonly string[];
}

export function emptyEndedCache(): EndedCache {
  return { jobs: new Map(), strings: [] };
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

/**
 * The file: `{"version": 5, "strings": [...], "jobs": [row, ...]}`, one row per job name,
 * sorted by `project/name`. A row (spec/submissions.md §Ended-jobs cache):
 *   [project#, name, id prefix, version, schema#, scheduler#, cluster#, host#, pid, intent,
 *    submitted, sched_id, after, state#, state_source#, state_time, exit_code, reason,
 *    extra, ino, size, mtimeMs, ctimeMs]
 * `#`: an index into `strings` (the values every record repeats: 10^5 rows hold a handful
 * of distinct ones). The id is its first ID_PREFIX hex digits: the full id is the ref's, and
 * the record file at the ref's id having the recorded identity is what makes a copy
 * usable. `extra`: an object of the record's other fields, or null. JSON.parse reads
 * arrays of values faster than objects with their keys; v4 (whole rows of strings, the
 * full id) was 320 bytes a job, this ~185 (status over 10^5: bench/README.md §Scale).
 */
interface CacheFile {
  version?: unknown;
  strings?: unknown;
  jobs?: unknown;
}

const ID_PREFIX = 12;
const ROW_LENGTH = 23;
/** Positions in a row. */
const R = { project: 0, name: 1, id: 2, version: 3, schema: 4, scheduler: 5, cluster: 6, host: 7, pid: 8, intent: 9, submitted: 10, sched_id: 11, after: 12, state: 13, state_source: 14, state_time: 15, exit_code: 16, reason: 17, extra: 18, ino: 19, size: 20, mtimeMs: 21, ctimeMs: 22 } as const;
const REQUIRED = ['schema', 'id', 'project', 'name', 'version', 'scheduler', 'cluster', 'host', 'pid', 'intent', 'submitted', 'sched_id', 'after', 'state', 'state_source', 'state_time', 'exit_code', 'reason'] as const;
const KNOWN: ReadonlySet<string> = new Set(REQUIRED);

function plausible(s: Record<string, unknown> | null): s is Submission {
  return typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.state === 'string' && isTerminal(s.state) && typeof s.project === 'string' && typeof s.name === 'string' && typeof s.version === 'number';
}

/** The record a loaded row stands for, its id the ref's (whose first digits the row holds). */
function fromRow(r: unknown[], strings: readonly string[], id: string): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    schema: strings[r[4] as number], id, project: strings[r[0] as number], name: r[1], version: r[3], scheduler: strings[r[5] as number], cluster: strings[r[6] as number], host: strings[r[7] as number], pid: r[8],
    intent: r[9], submitted: r[10], sched_id: r[11], after: r[12], state: strings[r[13] as number], state_source: strings[r[14] as number], state_time: r[15], exit_code: r[16], reason: r[17],
  };
  const extra = r[R.extra];
  return extra !== null && typeof extra === 'object' ? Object.assign(rec, extra) : rec;
}

/** The record of a copy, whole: its own, or its row's (only when the row is of `id`). */
function recordOf(c: EndedCopy, strings: readonly string[], id: string): Submission | undefined {
  if (c.rec !== undefined) return c.rec.id === id ? c.rec : undefined;
  const r = c.row!;
  if (!id.startsWith(r[R.id] as string)) return undefined;
  const rec = fromRow(r, strings, id);
  return plausible(rec) ? (c.rec = rec) : undefined;
}

function toRow(c: EndedCopy, strings: readonly string[], index: (s: unknown) => number): unknown[] {
  if (c.rec === undefined) {
    // Loaded and not used this run: the same row, its indexes into the new table.
    const r = [...c.row!];
    for (const k of [R.project, R.schema, R.scheduler, R.cluster, R.host, R.state, R.state_source]) r[k] = index(strings[r[k] as number]);
    return r;
  }
  const s = c.rec;
  let extra: Record<string, unknown> | null = null;
  for (const k of Object.keys(s)) if (!KNOWN.has(k)) (extra ??= {})[k] = s[k];
  return [index(s.project), s.name, s.id.slice(0, ID_PREFIX), s.version, index(s.schema), index(s.scheduler), index(s.cluster), index(s.host), s.pid, s.intent, s.submitted, s.sched_id, s.after, index(s.state), index(s.state_source), s.state_time, s.exit_code, s.reason, extra, c.file.ino, c.file.size, c.file.mtimeMs, c.file.ctimeMs];
}

/** The cache file's size in bytes, or null if there is none: what reading it would cost. */
export function endedCacheBytes(l: Layout): number | null {
  try {
    return statSync(endedCachePath(l)).size;
  } catch {
    return null;
  }
}

const INDEXED = [R.project, R.schema, R.scheduler, R.cluster, R.host, R.state, R.state_source] as const;

/** The cache, or an empty one if there is none or it cannot be read (never an error). */
export function readEndedCache(l: Layout): EndedCache {
  return loadEndedCache(l).cache;
}

/**
 * What `qdo fsck` says of the file (spec/plumbing/fsck.md, `bad-cache`): absent, read
 * whole, or why it is ignored (whole or some rows): what status makes of it, and nothing
 * else — a copy whose record changed since is not a fault (it is read again).
 */
export function checkEndedCache(l: Layout): { state: 'absent' | 'ok' | 'ignored'; copies: number; skipped: number; problem: string | null } {
  const r = loadEndedCache(l);
  return { state: r.problem === 'absent' ? 'absent' : r.problem === null && r.skipped === 0 ? 'ok' : 'ignored', copies: r.cache.jobs.size, skipped: r.skipped, problem: r.problem === 'absent' ? null : r.problem };
}

function loadEndedCache(l: Layout): { cache: EndedCache; problem: string | null; skipped: number } {
  const out = emptyEndedCache();
  let text: string;
  try {
    // Synchronous, as readSubmission: one read on the path of every `qdo status`.
    text = readFileSync(endedCachePath(l), 'utf8');
  } catch (e) {
    return { cache: out, problem: errnoCode(e) === 'ENOENT' ? 'absent' : `cannot be read: ${errnoCode(e) ?? String(e)}`, skipped: 0 };
  }
  let doc: CacheFile;
  try {
    doc = JSON.parse(text) as CacheFile;
  } catch {
    return { cache: out, problem: 'not JSON', skipped: 0 };
  }
  if (doc === null || typeof doc !== 'object' || doc.version !== VERSION) return { cache: out, problem: `not of version ${VERSION}`, skipped: 0 };
  if (!Array.isArray(doc.jobs) || !Array.isArray(doc.strings) || !doc.strings.every((s) => typeof s === 'string')) return { cache: out, problem: 'expected "strings" and "jobs" lists', skipped: 0 };
  const strings = doc.strings as string[];
  const n = strings.length;
  out.strings = strings;
  let skipped = 0;
  rows: for (const row of doc.jobs as unknown[]) {
    skipped++;
    if (!Array.isArray(row) || row.length !== ROW_LENGTH) continue;
    for (const k of INDEXED) {
      const i: unknown = row[k];
      if (typeof i !== 'number' || !(i >= 0 && i < n) || !Number.isInteger(i)) continue rows;
    }
    const name: unknown = row[R.name], id: unknown = row[R.id], state = strings[row[R.state] as number] as string;
    const ino: unknown = row[R.ino], size: unknown = row[R.size], mtimeMs: unknown = row[R.mtimeMs], ctimeMs: unknown = row[R.ctimeMs];
    if (typeof name !== 'string' || typeof id !== 'string' || id.length !== ID_PREFIX || typeof row[R.version] !== 'number' || !isTerminal(state)) continue;
    if (typeof ino !== 'number' || typeof size !== 'number' || typeof mtimeMs !== 'number' || typeof ctimeMs !== 'number') continue;
    out.jobs.set(strings[row[R.project] as number] + '/' + name, { row, file: { ino, size, mtimeMs, ctimeMs } });
    skipped--;
  }
  return { cache: out, problem: null, skipped };
}

/**
 * The copy of `project/name` if it is of version `id` and its record file is the very file
 * it was read from; else undefined (the caller reads the record). One stat.
 */
export function endedCopy(l: Layout, cache: EndedCache, project: string, name: string, id: string): Submission | undefined {
  const c = cache.jobs.get(project + '/' + name);
  if (c === undefined) return undefined;
  let st: Stats | undefined;
  try {
    st = statSync(submissionPath(l, id), { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  return st !== undefined && sameId(st, c.file) ? recordOf(c, cache.strings, id) : undefined;
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
      bytes = readSmallFdSync(fd); // readFileSync(fd) would fstat again and read twice
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
  if (old !== undefined && sameId(old.file, file) && recordOf(old, cache.strings, sub.id) !== undefined) return { sub, changed: false };
  cache.jobs.set(key, { rec: sub, file });
  return { sub, changed: true };
}

/** Replaces the cache (atomically; concurrent writers each write a correct cache). */
export async function writeEndedCache(l: Layout, cache: EndedCache): Promise<void> {
  const strings: unknown[] = [];
  const at = new Map<unknown, number>();
  const index = (s: unknown): number => {
    let i = at.get(s);
    if (i === undefined) at.set(s, (i = strings.push(s) - 1));
    return i;
  };
  const jobs = [...cache.jobs.keys()].sort().map((k) => toRow(cache.jobs.get(k)!, cache.strings, index));
  await writeFileAtomic(endedCachePath(l), JSON.stringify({ version: VERSION, strings, jobs }) + '\n', { mkdirs: true });
}

/** Forgets every copy (never needed for correctness: copies check their record). */
export async function dropEndedCache(l: Layout): Promise<void> {
  try {
    await unlink(endedCachePath(l));
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}
