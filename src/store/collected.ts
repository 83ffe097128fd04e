// `.qdo/collected/` (spec/layout.md §Collected lists): what gc removed. Before gc removes a
// batch of superseded run folders it writes one list naming them; the list is durable before
// any of them goes, so a gc killed in between leaves listed folders that are still there,
// which the next gc removes (and lists again). A list explains a missing run folder (`qdo
// show`); it is never the reason anything is done, and a folder that is there again (`qdo
// pull`) makes it moot.
//
// Marking each record instead (the `collected` field, which `gc --archived` still sets) cost
// a record rewrite per folder: at 10^4 folders, most of gc (bench/README.md).
//
// Lists are made once, by a name nobody else makes (time and 8 random hex digits), and
// never changed: two gcs, two hosts, rsync and git never write the same file.
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, RepositoryError } from '../errors.js';
import { isValidLeafName, isValidProjectName } from '../model/names.js';
import { isObjectId } from '../model/object-id.js';
import { namesIn } from '../util/fs.js';
import { fsyncDir, isTempName, randomHex8, writeFileAtomic } from './atomic.js';
import type { Layout } from './layout.js';
import { ISO_TIME_RE } from '../model/time.js';

export const COLLECTED_DIR = 'collected';
export const COLLECTED_SCHEMA = 'qdo.collected/v1';
const NAME_RE = /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}\.jsonl$/;

/** One run folder a gc removed (or was about to). */
export interface CollectedEntry {
  /** The version's id. */
  id: string;
  /** `project/name` */
  job: string;
  version: number;
}

export interface CollectedList {
  path: string;
  time: string;
  entries: CollectedEntry[];
}

export function collectedDir(l: Layout): string {
  return join(l.dir, COLLECTED_DIR);
}

export function isCollectedListName(name: string): boolean {
  return NAME_RE.test(name);
}

/** The bytes of a list: a header line, then one line per folder, each canonical JSON. */
export function encodeCollectedList(time: string, entries: readonly CollectedEntry[]): Buffer {
  const lines = [JSON.stringify({ schema: COLLECTED_SCHEMA, time })];
  for (const e of entries) lines.push(JSON.stringify({ id: e.id, job: e.job, version: e.version }));
  return Buffer.from(lines.join('\n') + '\n');
}

/**
 * Writes a new list and makes it durable (temp file, fsync, link into place, folder fsynced;
 * the folder made, and `.qdo` fsynced, on first use). Returns its path.
 */
export async function writeCollectedList(l: Layout, time: string, entries: readonly CollectedEntry[]): Promise<string> {
  const dir = collectedDir(l);
  try {
    await mkdir(dir);
    await fsyncDir(l.dir);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
  }
  const stamp = time.replace(/[-:]/g, '');
  for (;;) {
    const path = join(dir, `${stamp}-${randomHex8()}.jsonl`);
    try {
      await writeFileAtomic(path, encodeCollectedList(time, entries), { how: 'create' });
      return path;
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e; // the same 8 hex digits in the same millisecond: another name
    }
  }
}

/** `project/name` with both parts valid names (model/names.ts). */
function isJobName(job: string): boolean {
  const slash = job.lastIndexOf('/');
  return slash > 0 && isValidProjectName(job.slice(0, slash)) && isValidLeafName(job.slice(slash + 1));
}

/** Parses a list, or says what is wrong with it (naming the line). */
export function parseCollectedList(path: string, text: string): CollectedList {
  const bad = (line: number, what: string) => new RepositoryError('bad-collected', `${path}: line ${line}: ${what}`, { hint: 'qdo fsck --repair removes it (it only explains missing run folders)' });
  if (!text.endsWith('\n')) throw bad(text.split('\n').length, 'no final newline (a list is written whole)');
  const lines = text.slice(0, -1).split('\n');
  let head: unknown;
  try {
    head = JSON.parse(lines[0]!);
  } catch {
    throw bad(1, 'not JSON');
  }
  const h = head as { schema?: unknown; time?: unknown };
  if (typeof head !== 'object' || head === null || h.schema !== COLLECTED_SCHEMA) throw bad(1, `expected {"schema":"${COLLECTED_SCHEMA}",…}`);
  if (typeof h.time !== 'string' || !ISO_TIME_RE.test(h.time) || Number.isNaN(Date.parse(h.time))) throw bad(1, '"time": expected a UTC time YYYY-MM-DDTHH:MM:SS.mmmZ');
  const entries: CollectedEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    let v: unknown;
    try {
      v = JSON.parse(lines[i]!);
    } catch {
      throw bad(i + 1, 'not JSON');
    }
    const e = v as { id?: unknown; job?: unknown; version?: unknown };
    if (typeof v !== 'object' || v === null) throw bad(i + 1, 'expected {"id","job","version"}');
    if (typeof e.id !== 'string' || !isObjectId(e.id)) throw bad(i + 1, '"id": expected 64 hex digits');
    if (typeof e.job !== 'string' || !isJobName(e.job)) throw bad(i + 1, '"job": expected PROJECT/NAME');
    if (typeof e.version !== 'number' || !Number.isSafeInteger(e.version) || e.version < 1) throw bad(i + 1, '"version": expected a whole number >= 1');
    entries.push({ id: e.id, job: e.job, version: e.version });
  }
  return { path, time: h.time, entries };
}

/** The list files of an allocation (by name, so by time), and anything else in the folder. */
async function listNames(l: Layout): Promise<{ lists: string[]; other: string[] }> {
  const names = (await namesIn(collectedDir(l))).sort();
  return { lists: names.filter(isCollectedListName), other: names.filter((n) => !isCollectedListName(n)) };
}

/**
 * When gc collected each of `ids` (the latest list naming it), for those a readable list
 * names. Damaged or unreadable lists are passed over: they explain nothing (fsck reports them).
 */
export async function collectedTimes(l: Layout, ids: ReadonlySet<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ids.size === 0) return out;
  const { lists } = await listNames(l).catch(() => ({ lists: [] as string[] })); // unreadable: nothing to explain with
  for (const name of lists) {
    const path = join(collectedDir(l), name);
    let list: CollectedList;
    try {
      list = parseCollectedList(path, await readFile(path, 'utf8'));
    } catch {
      continue;
    }
    for (const e of list.entries) if (ids.has(e.id) && (out.get(e.id) ?? '') < list.time) out.set(e.id, list.time);
  }
  return out;
}

/** fsck: every list checked; a damaged one, or a file that is not a list, reported with why. */
export async function checkCollectedLists(l: Layout): Promise<{ path: string; reason: string; kind: 'damaged' | 'stray' | 'unreadable' }[]> {
  const problems: { path: string; reason: string; kind: 'damaged' | 'stray' | 'unreadable' }[] = [];
  let lists: string[], other: string[];
  try {
    ({ lists, other } = await listNames(l));
  } catch (e) {
    problems.push({ path: collectedDir(l), reason: errnoCode(e) ?? String(e), kind: 'unreadable' });
    return problems;
  }
  for (const name of lists) {
    const path = join(collectedDir(l), name);
    try {
      parseCollectedList(path, await readFile(path, 'utf8'));
    } catch (e) {
      if (e instanceof RepositoryError) problems.push({ path, reason: e.message.slice(path.length + 2), kind: 'damaged' });
      else problems.push({ path, reason: errnoCode(e) ?? String(e), kind: 'unreadable' });
    }
  }
  // Temp files are leftovers (fsck finds them anywhere in .qdo); anything else is not ours.
  for (const name of other) if (!isTempName(name)) problems.push({ path: join(collectedDir(l), name), reason: 'not a collected list (expected YYYYMMDDTHHMMSS.mmmZ-<8 hex>.jsonl); qdo leaves it alone', kind: 'stray' });
  return problems;
}

/** fsck --repair: removes a damaged list (a list only explains missing folders). */
export async function removeCollectedFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  await fsyncDir(join(path, '..'));
}
