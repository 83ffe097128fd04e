// `.qdo/cache/overview.json` (spec/submissions.md §Overview cache): what `qdo status`'s
// overview found, per project, so the next overview over the same jobs reads one small file
// instead of every project's refs and the ended-jobs cache.
//
// For each project: how many jobs it left out (their latest version ended before a time
// `before`, which lies before rerun_window began: such a job is final, refresh never looks
// at it again), by state; and the name and version of every other job, which status reads
// and refreshes as usual. An entry is used only while
//   - the project's refs files (packed and journal) are the files it was made from,
//   - every record folder `submissions/<xx>/` is the folder it was made from (a record
//     created, replaced or removed changes its folder: qdo, rsync and git write by a new
//     name and a rename), and
//   - the overview asked for leaves out at least what the entry left out (its `before` is no
//     later than the asked one: time only moves the line forward).
// So the file is derived: any change the refs or the records see makes it stale, a stale,
// damaged or foreign one is ignored, and deleting it loses nothing. Like the ended-jobs
// cache, it does not see a record written in place (an editor overwriting the file);
// `qdo status --refresh` reads every record.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { FOLDER_SETTLE_MS, type FileId, type FolderId } from './ended-cache.js';
import type { Layout } from './layout.js';
import type { Submission } from '../model/submission.js';
import { isTerminal } from '../model/states.js';
import { isValidLeafName } from '../model/names.js';
import { readRefs, refsPaths } from './refs.js';
import { SUBMISSIONS_DIR, submissionFolder } from './submissions.js';

export const OVERVIEW_CACHE = 'overview.json';
const VERSION = 1;

/**
 * The fewest jobs a file must leave out to be written: below that, reading the refs and the
 * ended-jobs cache costs about what checking the file's identities does, and every change
 * would rewrite it.
 */
export const OVERVIEW_MIN_HIDDEN = 500;

/** One project's overview. */
export interface OverviewEntry {
  /** The identities of its refs files when they were read (null: no such file). */
  packed: FileId | null;
  journal: FileId | null;
  /** ISO UTC time: the jobs counted in `hidden` ended before it. */
  before: string;
  /** State → how many jobs left out in it. */
  hidden: Map<string, number>;
  /** The other jobs, [name, version id], by name. */
  shown: [string, string][];
}

export interface Overview {
  /** Every record folder and its identity when the file was made. */
  folders: Map<string, FolderId>;
  projects: Map<string, OverviewEntry>;
}

export function overviewPath(l: Layout): string {
  return join(l.cache, OVERVIEW_CACHE);
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const HEX = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function fileIdOf(x: unknown): FileId | null | undefined {
  if (x === null) return null;
  if (!Array.isArray(x) || x.length !== 4 || !x.every(isNum)) return undefined;
  return { ino: x[0], size: x[1], mtimeMs: x[2], ctimeMs: x[3] };
}

function entryOf(x: unknown): [string, OverviewEntry] | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const o = x as Record<string, unknown>;
  const packed = fileIdOf(o.packed);
  const journal = fileIdOf(o.journal);
  if (typeof o.project !== 'string' || packed === undefined || journal === undefined || typeof o.before !== 'string' || !ISO.test(o.before)) return undefined;
  if (typeof o.hidden !== 'object' || o.hidden === null || Array.isArray(o.hidden) || !Array.isArray(o.shown)) return undefined;
  const hidden = new Map<string, number>();
  for (const [state, n] of Object.entries(o.hidden as Record<string, unknown>)) {
    if (!isNum(n) || n < 0 || !Number.isInteger(n)) return undefined;
    hidden.set(state, n);
  }
  const shown: [string, string][] = [];
  for (const s of o.shown as unknown[]) {
    // A name as a ref's (it becomes a run folder's path), an id of 64 hex digits.
    if (!Array.isArray(s) || s.length !== 2 || typeof s[0] !== 'string' || !isValidLeafName(s[0]) || typeof s[1] !== 'string' || !HEX.test(s[1])) return undefined;
    shown.push([s[0], s[1]]);
  }
  return [o.project, { packed, journal, before: o.before, hidden, shown }];
}

/** The file, or null if there is none or it cannot be used (never an error). */
export function readOverview(l: Layout): Overview | null {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(overviewPath(l), 'utf8'));
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null) return null;
  const d = doc as Record<string, unknown>;
  if (d.version !== VERSION || !Array.isArray(d.folders) || !Array.isArray(d.projects)) return null;
  const folders = new Map<string, FolderId>();
  for (const f of d.folders as unknown[]) {
    if (!Array.isArray(f) || f.length !== 4 || typeof f[0] !== 'string' || !/^[0-9a-f]{2}$/.test(f[0]) || !f.slice(1).every(isNum)) return null;
    folders.set(f[0], { ino: f[1], mtimeMs: f[2], ctimeMs: f[3] });
  }
  const projects = new Map<string, OverviewEntry>();
  for (const p of d.projects as unknown[]) {
    const e = entryOf(p);
    if (e === undefined) return null;
    projects.set(e[0], e[1]);
  }
  return { folders, projects };
}

/** Every record folder `submissions/<xx>/` and its identity now (one readdir, one stat each). */
export function recordFolders(l: Layout): Map<string, FolderId> {
  const out = new Map<string, FolderId>();
  let names: string[];
  try {
    names = readdirSync(join(l.dir, SUBMISSIONS_DIR));
  } catch {
    return out;
  }
  for (const xx of names.sort()) {
    if (!/^[0-9a-f]{2}$/.test(xx)) continue;
    const st = statSync(submissionFolder(l, xx), { throwIfNoEntry: false });
    if (st !== undefined && st.isDirectory()) out.set(xx, { ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
  }
  return out;
}

/** Whether the folders are those the file was made from: each one it holds unchanged, none gone, none new. */
export function sameFolders(held: ReadonlyMap<string, FolderId>, now: ReadonlyMap<string, FolderId>): boolean {
  if (held.size !== now.size) return false;
  for (const [xx, a] of held) {
    const b = now.get(xx);
    if (b === undefined || a.ino !== b.ino || a.mtimeMs !== b.mtimeMs || a.ctimeMs !== b.ctimeMs) return false;
  }
  return true;
}

function statId(path: string): FileId | null {
  const st = statSync(path, { throwIfNoEntry: false });
  return st === undefined ? null : { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** The identities of a project's refs files now (taken before they are read). */
export function refsIdentity(l: Layout, project: string): { packed: FileId | null; journal: FileId | null } {
  const { packed, journal } = refsPaths(l, project);
  return { packed: statId(packed), journal: statId(journal) };
}

function sameFile(a: FileId | null, b: FileId | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** The entry of `project` if it may stand for the project now: same refs files, and it leaves out no more than an overview of `beforeIso` would. */
export function usableEntry(o: Overview, project: string, refs: { packed: FileId | null; journal: FileId | null }, beforeIso: string): OverviewEntry | undefined {
  const e = o.projects.get(project);
  if (e === undefined || !sameFile(e.packed, refs.packed) || !sameFile(e.journal, refs.journal) || !(e.before <= beforeIso)) return undefined;
  return e;
}

const settled = (times: number[], fsNow: number): boolean => Math.max(...times) + FOLDER_SETTLE_MS <= fsNow;

/**
 * Writes the file (atomically; concurrent writers each write a true one). `folders` and each
 * entry's refs identities must have been taken before anything the entries say was read,
 * `sinceMs` ago at most. The file system's clock decides, as for the ended-jobs cache, what
 * is kept: an entry whose refs files had changed within FOLDER_SETTLE_MS when they were
 * looked at is left out (a change in the same clock tick would leave their times as they
 * are), and nothing is written if a folder had.
 */
export async function writeOverview(l: Layout, o: Overview, sinceMs: number): Promise<void> {
  let skip = false;
  try {
    await writeFileAtomic(
      overviewPath(l),
      (created) => {
        const fsNow = created - Math.max(0, sinceMs);
        const times = [...o.folders.values()].flatMap((f) => [f.mtimeMs, f.ctimeMs]);
        if (times.length > 0 && !settled(times, fsNow)) {
          skip = true;
          throw new Error('overview: a record folder changed just now');
        }
        const projects: unknown[] = [];
        for (const [project, e] of [...o.projects].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
          const ids = [e.packed, e.journal].filter((f): f is FileId => f !== null);
          if (ids.length > 0 && !settled(ids.flatMap((f) => [f.mtimeMs, f.ctimeMs]), fsNow)) continue;
          const id = (f: FileId | null) => (f === null ? null : [f.ino, f.size, f.mtimeMs, f.ctimeMs]);
          projects.push({ project, packed: id(e.packed), journal: id(e.journal), before: e.before, hidden: Object.fromEntries([...e.hidden].sort()), shown: e.shown });
        }
        const folders = [...o.folders].map(([xx, f]) => [xx, f.ino, f.mtimeMs, f.ctimeMs]);
        return JSON.stringify({ version: VERSION, folders, projects }) + '\n';
      },
      { mkdirs: true },
    );
  } catch (e) {
    if (!skip) throw e;
  }
}

/** Forgets the overview (never needed for correctness). */
export async function dropOverview(l: Layout): Promise<void> {
  try {
    await unlink(overviewPath(l));
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

/**
 * What `qdo fsck` says of the file (spec/plumbing/fsck.md, `bad-cache`): absent; not of the
 * expected shape (status ignores it); or an entry status would use that says something else
 * than the refs and `records` (every record of the allocation, as fsck read them) say now: a
 * refs file or a record written in place, or the file edited by hand. An entry whose refs
 * files or folders changed is no fault: status does not use it.
 */
export async function checkOverview(l: Layout, records: ReadonlyMap<string, Submission>): Promise<{ state: 'absent' | 'ok' | 'ignored' | 'stale'; problem: string | null }> {
  if (!existsSync(overviewPath(l))) return { state: 'absent', problem: null };
  const o = readOverview(l);
  if (o === null) return { state: 'ignored', problem: 'not of the expected shape' };
  if (!sameFolders(o.folders, recordFolders(l))) return { state: 'ok', problem: null };
  for (const [project, e] of o.projects) {
    if (usableEntry(o, project, refsIdentity(l, project), e.before) === undefined) continue;
    let refs;
    try {
      refs = await readRefs(l, project);
    } catch {
      continue; // fsck reports the refs file itself
    }
    const before = Date.parse(e.before);
    const hidden = new Map<string, number>();
    const shown: [string, string][] = [];
    for (const name of [...refs.keys()].sort()) {
      const id = refs.get(name)!;
      const s = records.get(id);
      if (s !== undefined && isTerminal(s.state) && Date.parse(s.state_time) < before) hidden.set(s.state, (hidden.get(s.state) ?? 0) + 1);
      else shown.push([name, id]);
    }
    const count = (m: Map<string, number>) => [...m].sort().map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
    if (count(hidden) !== count(e.hidden)) return { state: 'stale', problem: `project ${project}: it leaves out ${count(e.hidden)}, the records say ${count(hidden)}` };
    if (JSON.stringify(shown) !== JSON.stringify(e.shown)) return { state: 'stale', problem: `project ${project}: the jobs it lists are not those the refs and records give` };
  }
  return { state: 'ok', problem: null };
}
