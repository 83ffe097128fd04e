// `.qdo/cache/ended.jsonl` (spec/layout.md; spec/submissions.md §Ended-jobs cache): copies of
// the submission records of job names whose latest version is in a terminal state, so
// `qdo status` over thousands of ended jobs reads one file and stats each record instead
// of reading and parsing one record per job.
//
// The records stay the truth. A terminal record still changes: a requeue re-opens it
// within rerun_window (§Attempts), a lost job's late end record gives it its real end
// (§Lost), policies, archives and gc add fields, fsck repairs it, rsync or a git merge
// brings another copy. So a copy is keyed by the identity of the record file it was read
// from (inode, size, modification and change time, read from the open file before its
// bytes), compared as the numbers one plain stat gives: any write of the record (temp +
// rename: a new inode and change time; in place: a new change time) makes the copy stale,
// and a stale copy is never used. Deleting the file loses nothing; a damaged, foreign or
// older one is ignored.
//
// One stat per ended job is most of `qdo status` at 10^5 jobs (a stat syscall alone is
// ~4 µs on the VMs this runs on). So the file also holds the identity of each record folder
// `submissions/<xx>/` whose copies were all checked after that folder was looked at: a
// folder still of that identity has had no record created, replaced or removed in it since
// (qdo, rsync and git write a record by a new name and a rename, which changes the folder),
// and its copies are used without a stat each. Only a write in place (an editor that
// overwrites the file) goes unseen that way: `qdo status --refresh` checks every file.
import { closeSync, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, RepositoryError } from '../errors.js';
import type { Submission } from '../model/submission.js';
import { isTerminal } from '../model/states.js';
import { writeFileAtomic } from './atomic.js';
import { readSmallFdSync } from '../util/fs.js';
import type { Layout } from './layout.js';
import { parseSubmissionAt, submissionFolder, submissionPath } from './submissions.js';

export const ENDED_CACHE = 'ended.jsonl';
/** The file of versions 3-5 (one JSON document): removed when the new one is written. */
const OLD_CACHE = 'ended.json';
const VERSION = 7;

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
 * status uses it.
 */
export interface EndedCopy {
  file: FileId;
  rec?: Submission;
  row?: unknown[];
}

/** The identity of a record folder `submissions/<xx>/`: inode, modification and change times. */
export interface FolderId {
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** This run's one look at a record folder. */
interface FolderLook {
  /** Its identity when looked at; null: there is no such folder. */
  now: FolderId | null;
  /** The identity the file holds for it, unchanged: its copies need no stat each. */
  trusted: boolean;
  /** When it was looked at (the cache's clock, taken before the stat). */
  at: number;
}

/**
 * How long a folder must have been unchanged when it was looked at for its identity to be
 * kept (in the file system's clock, against the new cache file's own time): a change made
 * in the same clock tick as the one before leaves the folder's times as they were (a tick is
 * a few milliseconds on Linux, up to 2 s on some file systems).
 */
export const FOLDER_SETTLE_MS = 2000;

/**
 * The loaded file and this run's changes to it. The lines are parsed only when a job's copy
 * is used: at 10^5 ended jobs one JSON.parse of the whole file made 10^5 arrays that lived
 * to the end of the run (most of status's memory; every page of memory costs here).
 */
export interface EndedCache {
  /** The loaded file (empty if none). */
  text: string;
  /** The string table: the loaded one, then strings added by this run's new rows. */
  strings: string[];
  /** project → name → where its line starts in `text`. */
  lines: Map<string, Map<string, number>>;
  /** project → name → the copy read this run (replacing the line), or null: dropped. */
  own: Map<string, Map<string, EndedCopy | null>>;
  /** `project/name` of loaded copies checked this run against their own record file. */
  checked: Set<string>;
  /** Record folders (`xx`) and the identity the file holds for each. */
  folders: Map<string, FolderId>;
  /** This run's look at each folder used. */
  looked: Map<string, FolderLook>;
  /** Trust no folder: check every copy against its own file (status --refresh). */
  perFile: boolean;
  /** Milliseconds of the caller's clock (Context.now), to time how long ago a folder was looked at. */
  clock: () => number;
}

export function emptyEndedCache(clock: () => number = () => 0): EndedCache {
  return { text: '', strings: [], lines: new Map(), own: new Map(), checked: new Set(), folders: new Map(), looked: new Map(), perFile: false, clock };
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

function sameFolder(a: FolderId, b: FolderId): boolean {
  return a.ctimeMs === b.ctimeMs && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/**
 * The file (spec/submissions.md §Ended-jobs cache), JSON lines:
 *   {"version": 7, "strings": [...], "folders": [["xx", ino, mtime, ctime], ...]}
 *   project/name<TAB>state<TAB>state_time<TAB>row
 * one line per job name, sorted by `project/name`. The head (state, end time) is what status
 * needs to leave an old ended job out of its view without parsing the row. A row:
 *   [id prefix, version, schema#, scheduler#, cluster#, host#, pid, intent, submitted,
 *    sched_id, after, state#, state_source#, state_time, exit_code, reason, extra,
 *    ino, size, mtimeMs, ctimeMs]
 * `#`: an index into `strings` (the values every record repeats: 10^5 rows hold a handful
 * of distinct ones). The id is its first ID_PREFIX hex digits: the full id is the ref's, and
 * the record file at the ref's id having the recorded identity is what makes a copy
 * usable. `extra`: an object of the record's other fields, or null.
 */
interface Header {
  version?: unknown;
  strings?: unknown;
  folders?: unknown;
}

const ID_PREFIX = 12;
const ROW_LENGTH = 21;
/** Positions in a row. */
const R = { id: 0, version: 1, schema: 2, scheduler: 3, cluster: 4, host: 5, pid: 6, intent: 7, submitted: 8, sched_id: 9, after: 10, state: 11, state_source: 12, state_time: 13, exit_code: 14, reason: 15, extra: 16, ino: 17, size: 18, mtimeMs: 19, ctimeMs: 20 } as const;
const INDEXED = [R.schema, R.scheduler, R.cluster, R.host, R.state, R.state_source] as const;
const REQUIRED = ['schema', 'id', 'project', 'name', 'version', 'scheduler', 'cluster', 'host', 'pid', 'intent', 'submitted', 'sched_id', 'after', 'state', 'state_source', 'state_time', 'exit_code', 'reason'] as const;
const KNOWN: ReadonlySet<string> = new Set(REQUIRED);

function plausible(s: Record<string, unknown> | null): s is Submission {
  return typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.state === 'string' && isTerminal(s.state) && typeof s.project === 'string' && typeof s.name === 'string' && typeof s.version === 'number';
}

/** A parsed row if it has the shape (indexes inside the table, a terminal state, an identity of numbers), else null. */
function rowOf(x: unknown, strings: readonly string[]): unknown[] | null {
  if (!Array.isArray(x) || x.length !== ROW_LENGTH) return null;
  const n = strings.length;
  for (const k of INDEXED) {
    const i: unknown = x[k];
    if (typeof i !== 'number' || !(i >= 0 && i < n) || !Number.isInteger(i)) return null;
  }
  const id: unknown = x[R.id];
  if (typeof id !== 'string' || id.length !== ID_PREFIX || typeof x[R.version] !== 'number' || !isTerminal(strings[x[R.state] as number]!)) return null;
  for (const k of [R.ino, R.size, R.mtimeMs, R.ctimeMs]) if (typeof x[k] !== 'number') return null;
  return x;
}

/** The record a row stands for, its id the ref's (whose first digits the row holds). */
function fromRow(r: unknown[], strings: readonly string[], project: string, name: string, id: string): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    schema: strings[r[R.schema] as number], id, project, name, version: r[R.version], scheduler: strings[r[R.scheduler] as number], cluster: strings[r[R.cluster] as number], host: strings[r[R.host] as number], pid: r[R.pid],
    intent: r[R.intent], submitted: r[R.submitted], sched_id: r[R.sched_id], after: r[R.after], state: strings[r[R.state] as number], state_source: strings[r[R.state_source] as number], state_time: r[R.state_time], exit_code: r[R.exit_code], reason: r[R.reason],
  };
  const extra = r[R.extra];
  return extra !== null && typeof extra === 'object' ? Object.assign(rec, extra) : rec;
}

function toRow(s: Submission, file: FileId, index: (s: unknown) => number): unknown[] {
  let extra: Record<string, unknown> | null = null;
  for (const k of Object.keys(s)) if (!KNOWN.has(k)) (extra ??= {})[k] = s[k];
  return [s.id.slice(0, ID_PREFIX), s.version, index(s.schema), index(s.scheduler), index(s.cluster), index(s.host), s.pid, s.intent, s.submitted, s.sched_id, s.after, index(s.state), index(s.state_source), s.state_time, s.exit_code, s.reason, extra, file.ino, file.size, file.mtimeMs, file.ctimeMs];
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
export function readEndedCache(l: Layout, o: { clock?: () => number; perFile?: boolean } = {}): EndedCache {
  const c = loadEndedCache(l).cache;
  if (o.clock !== undefined) c.clock = o.clock;
  c.perFile = o.perFile === true;
  return c;
}

/**
 * What `qdo fsck` says of the file (spec/plumbing/fsck.md, `bad-cache`): absent, read
 * whole, or why it is ignored (whole or some rows), or why status would show a copy it
 * should not: with `records` (every record of the allocation, as fsck read them), a copy in
 * a folder the file trusts that says something else than its record (the record was
 * written in place: rule 5). A copy whose record changed otherwise is not a fault (status
 * reads the record).
 */
export function checkEndedCache(l: Layout, records?: ReadonlyMap<string, Submission>): { state: 'absent' | 'ok' | 'ignored' | 'stale'; copies: number; skipped: number; stale: number; problem: string | null } {
  const r = loadEndedCache(l);
  if (r.problem !== null) return { state: r.problem === 'absent' ? 'absent' : 'ignored', copies: 0, skipped: 0, stale: 0, problem: r.problem === 'absent' ? null : r.problem };
  const cache = r.cache;
  let copies = 0;
  let skipped = r.skipped;
  let stale = 0;
  // Which folders the file trusts now; the records by the first 12 digits of their ids.
  const trusted = new Map<string, boolean>();
  const trustedNow = (xx: string): boolean => {
    let t = trusted.get(xx);
    if (t === undefined) {
      const held = cache.folders.get(xx);
      const st = held === undefined ? undefined : statSync(submissionFolder(l, xx), { throwIfNoEntry: false });
      trusted.set(xx, (t = st !== undefined && sameFolder(st, held!)));
    }
    return t;
  };
  let byPrefix: Map<string, string[]> | undefined;
  for (const [project, names] of cache.lines) {
    for (const name of names.keys()) {
      const c = lineCopy(cache, project, name);
      if (c === undefined) {
        skipped++;
        continue;
      }
      copies++;
      const id12 = c.row![R.id] as string;
      if (records === undefined || !trustedNow(id12.slice(0, 2))) continue;
      if (byPrefix === undefined) {
        byPrefix = new Map();
        for (const id of records.keys()) {
          const k = id.slice(0, ID_PREFIX);
          const same = byPrefix.get(k);
          if (same) same.push(id);
          else byPrefix.set(k, [id]);
        }
      }
      const ids = byPrefix.get(id12) ?? [];
      if (!ids.some((id) => sameRecord(fromRow(c.row!, cache.strings, project, name, id), records.get(id)!))) stale++;
    }
  }
  if (skipped > 0) return { state: 'ignored', copies, skipped, stale, problem: null };
  if (stale > 0) return { state: 'stale', copies, skipped, stale, problem: `${stale} cop${stale === 1 ? 'y' : 'ies'} in record folders it trusts that ${stale === 1 ? 'differs' : 'differ'} from the record (written in place since)` };
  return { state: 'ok', copies, skipped, stale, problem: null };
}

/** The same fields with the same values (nested values compared as JSON: both come from one parse order). */
function sameRecord(a: Record<string, unknown>, b: Submission): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const x = a[k];
    const y = (b as Record<string, unknown>)[k];
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null || JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
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
  const first = text.indexOf('\n');
  let head: Header;
  try {
    head = JSON.parse(first < 0 ? text : text.slice(0, first)) as Header;
  } catch {
    return { cache: out, problem: 'its first line is not JSON', skipped: 0 };
  }
  if (head === null || typeof head !== 'object' || head.version !== VERSION) return { cache: out, problem: `not of version ${VERSION}`, skipped: 0 };
  if (!Array.isArray(head.strings) || !head.strings.every((s) => typeof s === 'string') || !Array.isArray(head.folders)) return { cache: out, problem: 'expected "strings" and "folders" lists on its first line', skipped: 0 };
  out.strings = head.strings as string[];
  for (const f of head.folders as unknown[]) {
    // A folder entry not of that shape is left out: its copies are then checked one by one.
    if (Array.isArray(f) && f.length === 4 && typeof f[0] === 'string' && /^[0-9a-f]{2}$/.test(f[0]) && typeof f[1] === 'number' && typeof f[2] === 'number' && typeof f[3] === 'number') out.folders.set(f[0], { ino: f[1], mtimeMs: f[2], ctimeMs: f[3] });
  }
  out.text = text;
  // The index: where each line starts, by project and name; nothing else is parsed here.
  let skipped = 0;
  let project = '';
  let names: Map<string, number> | undefined;
  for (let at = first < 0 ? text.length : first + 1; at < text.length; ) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const tab = text.indexOf('\t', at);
    const slash = tab > at && tab < end ? text.lastIndexOf('/', tab) : -1;
    if (slash > at && slash < tab - 1) {
      if (names === undefined || slash - at !== project.length || !text.startsWith(project, at)) {
        project = text.slice(at, slash);
        names = out.lines.get(project);
        if (names === undefined) out.lines.set(project, (names = new Map()));
      }
      names.set(text.slice(slash + 1, tab), at);
    } else if (end > at) skipped++;
    at = end + 1;
  }
  return { cache: out, problem: null, skipped };
}

/**
 * Where the line at `at` (of `project/name`) has its head, `STATE<TAB>STATE_TIME`, and its
 * row: `row` is the position of the row's "[" and `end` of the line's end; undefined if the
 * line has not that shape.
 */
function lineParts(text: string, at: number, project: string, name: string): { state: number; time: number; row: number; end: number } | undefined {
  const state = at + project.length + 1 + name.length + 1;
  let end = text.indexOf('\n', state);
  if (end < 0) end = text.length;
  const t = text.indexOf('\t', state);
  if (t < 0 || t >= end) return undefined;
  const r = text.indexOf('\t', t + 1);
  if (r < 0 || r >= end) return undefined;
  return { state, time: t + 1, row: r + 1, end };
}

/** The head a line has for a record: its state and its state_time (empty if not a plain string). */
function headOf(s: { state: string; state_time: unknown }): string {
  const t = s.state_time;
  return s.state + '\t' + (typeof t === 'string' && !/[\t\n\r]/.test(t) ? t : '');
}

/** The loaded line of `project/name` as a copy, if it has the shape; else undefined. */
function lineCopy(cache: EndedCache, project: string, name: string): EndedCopy | undefined {
  const at = cache.lines.get(project)?.get(name);
  if (at === undefined) return undefined;
  const text = cache.text;
  const p = lineParts(text, at, project, name);
  if (p === undefined) return undefined;
  let row: unknown[] | null;
  try {
    row = rowOf(JSON.parse(text.slice(p.row, p.end)), cache.strings);
  } catch {
    return undefined;
  }
  if (row === null) return undefined;
  // The head must say what the row says (a line edited in one place only is not used).
  const t = row[R.state_time];
  if (text.slice(p.state, p.row - 1) !== headOf({ state: cache.strings[row[R.state] as number]!, state_time: t })) return undefined;
  return { row, file: { ino: row[R.ino] as number, size: row[R.size] as number, mtimeMs: row[R.mtimeMs] as number, ctimeMs: row[R.ctimeMs] as number } };
}

/**
 * Whether the loaded copy of `project/name` says it ended before `beforeIso` (a UTC time as
 * toISOString writes it), read from its line's head without parsing its row: its state if
 * so, null if it ended later or its end time is not of that form. Undefined unless the copy
 * is of version `id` and its record folder was found trusted by lookAll (rule 5): the caller
 * goes through endedCopy then. What `qdo status`'s overview does for each job it leaves out:
 * short, and calling out to nothing that stats or parses (it runs 10^5 times, and at exit
 * Node waits for V8 to finish optimising it). The row is checked against the head whenever
 * it is parsed (lineCopy; fsck parses every line).
 */
export function endedBefore(cache: EndedCache, project: string, name: string, id: string, beforeIso: string): string | null | undefined {
  const at = cache.lines.get(project)?.get(name);
  if (at === undefined || cache.own.get(project)?.has(name) === true) return undefined;
  const text = cache.text;
  const p = lineParts(text, at, project, name);
  if (p === undefined || !text.startsWith('["' + id.slice(0, ID_PREFIX) + '"', p.row)) return undefined;
  const state = text.slice(p.state, p.time - 1);
  if (cache.looked.get(id.slice(0, 2))?.trusted !== true || !isTerminal(state)) return undefined;
  // An ISO UTC time (24 characters) compares as its text.
  const time = text.slice(p.time, p.row - 1);
  return time.length === 24 && time.endsWith('Z') && time < beforeIso ? state : null;
}

/** The copy of `project/name` this run sees: its own (read this run), or the loaded line's. */
function copyOf(cache: EndedCache, project: string, name: string): EndedCopy | undefined {
  const own = cache.own.get(project)?.get(name);
  if (own !== undefined) return own ?? undefined;
  return lineCopy(cache, project, name);
}

function setOwn(cache: EndedCache, project: string, name: string, c: EndedCopy | null): void {
  let m = cache.own.get(project);
  if (m === undefined) cache.own.set(project, (m = new Map()));
  m.set(name, c);
}

/** Whether the cache holds a copy for `project/name` (of any version). */
function hasEndedCopy(cache: EndedCache, project: string, name: string): boolean {
  const own = cache.own.get(project)?.get(name);
  return own !== undefined ? own !== null : cache.lines.get(project)?.has(name) === true;
}

/** The names of `project` the cache holds copies for. */
export function endedNames(cache: EndedCache, project: string): string[] {
  const out = new Set(cache.lines.get(project)?.keys() ?? []);
  for (const [name, c] of cache.own.get(project) ?? []) {
    if (c === null) out.delete(name);
    else out.add(name);
  }
  return [...out];
}

/** Drops the copies of the names of `project` that `keep` says no to; true if there were some. */
export function dropEndedCopiesBut(cache: EndedCache, project: string, keep: (name: string) => boolean): boolean {
  let dropped = false;
  for (const name of cache.lines.get(project)?.keys() ?? []) if (!keep(name)) dropped = dropEndedCopy(cache, project, name) || dropped;
  for (const [name, c] of cache.own.get(project) ?? []) if (c !== null && !keep(name)) dropped = dropEndedCopy(cache, project, name) || dropped;
  return dropped;
}

/** Drops the copy of `project/name`; true if there was one. */
export function dropEndedCopy(cache: EndedCache, project: string, name: string): boolean {
  const had = hasEndedCopy(cache, project, name);
  if (had) setOwn(cache, project, name, null);
  return had;
}

/** The record of a copy, whole, if it is of version `id`. */
function recordOf(c: EndedCopy, cache: EndedCache, project: string, name: string, id: string): Submission | undefined {
  if (c.rec !== undefined) return c.rec.id === id ? c.rec : undefined;
  const r = c.row!;
  if (!id.startsWith(r[R.id] as string)) return undefined;
  const rec = fromRow(r, cache.strings, project, name, id);
  return plausible(rec) ? rec : undefined;
}

/**
 * Looks at every record folder the file holds an identity for (one stat each, at most 256),
 * for endedBefore, which then only reads the looks: the overview counts 10^5 jobs with no
 * call out of its loop that stats.
 */
export function lookAll(l: Layout, cache: EndedCache): void {
  for (const xx of cache.folders.keys()) look(l, cache, xx);
}

/** The folder `xx` as this run sees it: looked at once (one stat), before any of its files. */
function look(l: Layout, cache: EndedCache, xx: string): FolderLook {
  let k = cache.looked.get(xx);
  if (k !== undefined) return k;
  const at = cache.clock();
  let now: FolderId | null = null;
  try {
    const st = statSync(submissionFolder(l, xx), { throwIfNoEntry: false });
    if (st !== undefined) now = { ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  } catch {
    now = null;
  }
  const held = cache.folders.get(xx);
  k = { now, trusted: !cache.perFile && now !== null && held !== undefined && sameFolder(now, held), at };
  cache.looked.set(xx, k);
  return k;
}

/**
 * Each folder holding copies, and whether every copy in it was checked this run after the
 * folder was looked at (a loaded line checked by its file, or a copy read this run) or is
 * in a folder found unchanged. A line's folder is the first two digits of its id, the row's
 * first value (`["xx…`), read without parsing the row.
 */
function checkedFolders(cache: EndedCache): Map<string, boolean> {
  const all = new Map<string, boolean>();
  const note = (xx: string, ok: boolean) => {
    if (all.get(xx) !== false) all.set(xx, ok || cache.looked.get(xx)?.trusted === true);
  };
  const text = cache.text;
  for (const [project, names] of cache.lines) {
    const own = cache.own.get(project);
    for (const [name, at] of names) {
      if (own?.has(name)) continue;
      const p = lineParts(text, at, project, name);
      if (p !== undefined) note(text.slice(p.row + 2, p.row + 4), cache.checked.has(project + '/' + name));
    }
  }
  for (const own of cache.own.values()) for (const c of own.values()) if (c !== null && c.rec !== undefined) note(c.rec.id.slice(0, 2), true);
  return all;
}

/** Whether the folder had been unchanged for FOLDER_SETTLE_MS at the moment `at` (in the clock of its times). */
function settledBy(f: FolderId, at: number): boolean {
  return Math.max(f.mtimeMs, f.ctimeMs) + FOLDER_SETTLE_MS <= at;
}

/**
 * Whether writing the file now would add a folder identity it lacks: a folder looked at
 * this run, not trusted, every copy in it checked, and unchanged for FOLDER_SETTLE_MS by the
 * caller's clock when looked at (the write itself decides by the file system's clock).
 */
export function endedCacheGainsFolders(cache: EndedCache): boolean {
  let maybe = false;
  for (const k of cache.looked.values()) if (!k.trusted && k.now !== null && settledBy(k.now, k.at)) maybe = true;
  if (!maybe) return false;
  for (const [xx, all] of checkedFolders(cache)) {
    const k = cache.looked.get(xx);
    if (all && k !== undefined && !k.trusted && k.now !== null && settledBy(k.now, k.at)) return true;
  }
  return false;
}

/**
 * The copy of `project/name` if it is of version `id` and its record file is the very file
 * it was read from; else undefined (the caller reads the record). No stat where the
 * record's folder is as it was when the copies in it were checked; else one.
 */
export function endedCopy(l: Layout, cache: EndedCache, project: string, name: string, id: string): Submission | undefined {
  const c = copyOf(cache, project, name);
  if (c === undefined) return undefined;
  const trusted = look(l, cache, id.slice(0, 2)).trusted;
  if (!trusted) {
    let st: Stats | undefined;
    try {
      st = statSync(submissionPath(l, id), { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    if (st === undefined || !sameId(st, c.file)) return undefined;
  }
  const rec = recordOf(c, cache, project, name, id);
  if (rec !== undefined && !trusted && c.rec === undefined) cache.checked.add(project + '/' + name);
  return rec;
}

/**
 * Reads the record of `id` as readSubmission does, and notes it in the cache: kept if it is
 * terminal, dropped otherwise. Returns the record and whether the cache changed. The file's
 * identity is taken from the open file before its bytes are read, so a write that lands
 * in between leaves a copy whose identity is already stale (read again next time), never
 * new identity on old bytes.
 */
export function readThroughEnded(l: Layout, cache: EndedCache, project: string, name: string, id: string): { sub: Submission | null; changed: boolean } {
  const path = submissionPath(l, id);
  look(l, cache, id.slice(0, 2)); // the folder before the file (its identity may be kept)
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
    if (errnoCode(e) === 'ENOENT') return { sub: null, changed: dropEndedCopy(cache, project, name) };
    throw new RepositoryError('unreadable-submission', `cannot read ${path}: ${errnoCode(e) ?? String(e)}`);
  }
  const sub = parseSubmissionAt(l, bytes, path, id);
  if (!isTerminal(sub.state)) return { sub, changed: dropEndedCopy(cache, project, name) };
  const old = copyOf(cache, project, name);
  if (old !== undefined && sameId(old.file, file) && recordOf(old, cache, project, name, sub.id) !== undefined) {
    if (old.rec === undefined) cache.checked.add(project + '/' + name);
    return { sub, changed: false };
  }
  setOwn(cache, project, name, { rec: sub, file });
  return { sub, changed: true };
}

/**
 * The folder identities to write, given the file system's time `fsNow` (the new file's) and
 * the caller's clock now: those held and not looked at this run (nothing in them was
 * checked or added), those found unchanged, and those looked at whose copies were all
 * checked after the look, if the folder had been unchanged for FOLDER_SETTLE_MS by then.
 * `fsNow - (clockNow - at)` is when the folder was looked at, in the file system's clock.
 */
function foldersToWrite(cache: EndedCache, fsNow: number, clockNow: number): [string, FolderId][] {
  const out: [string, FolderId][] = [];
  for (const [xx, all] of checkedFolders(cache)) {
    const k = cache.looked.get(xx);
    const held = cache.folders.get(xx);
    if (k === undefined) {
      if (held !== undefined) out.push([xx, held]);
    } else if (k.trusted) out.push([xx, k.now!]);
    else if (all && k.now !== null && settledBy(k.now, fsNow - Math.max(0, clockNow - k.at))) out.push([xx, k.now]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/**
 * Replaces the cache (atomically; concurrent writers each write a correct cache). Lines of
 * copies this run did not replace are written as they were loaded: the string table only
 * grows (their indexes stay), and nothing is parsed or encoded again for them.
 */
export async function writeEndedCache(l: Layout, cache: EndedCache): Promise<void> {
  const strings = [...cache.strings];
  const at = new Map<unknown, number>();
  strings.forEach((s, i) => at.has(s) || at.set(s, i));
  const index = (s: unknown): number => {
    let i = at.get(s);
    if (i === undefined) at.set(s, (i = strings.push(s as string) - 1));
    return i;
  };
  const text = cache.text;
  const lines: [string, string][] = [];
  for (const project of new Set([...cache.lines.keys(), ...cache.own.keys()])) {
    const loaded = cache.lines.get(project);
    const own = cache.own.get(project);
    for (const name of endedNames(cache, project)) {
      const key = project + '/' + name;
      const c = own?.get(name);
      if (c?.rec !== undefined) {
        lines.push([key, key + '\t' + headOf(c.rec) + '\t' + JSON.stringify(toRow(c.rec, c.file, index))]);
        continue;
      }
      const start = loaded!.get(name)!;
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      lines.push([key, text.slice(start, end)]);
    }
  }
  lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const body = lines.map((x) => x[1] + '\n').join('');
  // The folders are decided once the new file exists: its time is the file system's now.
  await writeFileAtomic(
    endedCachePath(l),
    (fsNow) => {
      const folders = foldersToWrite(cache, fsNow, cache.clock()).map(([xx, f]) => [xx, f.ino, f.mtimeMs, f.ctimeMs]);
      return JSON.stringify({ version: VERSION, strings, folders }) + '\n' + body;
    },
    { mkdirs: true },
  );
  await unlink(join(l.cache, OLD_CACHE)).catch(() => undefined);
}

/** Forgets every copy (never needed for correctness: copies check their record). */
export async function dropEndedCache(l: Layout): Promise<void> {
  for (const f of [endedCachePath(l), join(l.cache, OLD_CACHE)]) {
    try {
      await unlink(f);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
  }
}
