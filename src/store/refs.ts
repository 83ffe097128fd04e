// Refs (spec/refs.md): per project, a sorted "packed" file `refs/<key>.refs` of
// `<job> <id>` lines plus an append-only journal `refs/<key>.journal` of
// `<job> <new|-> <old|->` lines. An update appends one line under the project's lock
// (compare-and-swap against the replayed state); the journal is folded into the packed
// file once it grows past a threshold, so one submit never rewrites megabytes.
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { open, unlink, readdir, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, RepositoryError, errnoCode } from '../errors.js';
import { isObjectId } from '../model/object-id.js';
import { isValidLeafName, projectFileKey, projectFromFileKey } from '../model/names.js';
import { fsyncDir, writeFileAtomic } from './atomic.js';
import { withLock } from './locks.js';
import type { Layout } from './layout.js';

export const REFS_SUFFIX = '.refs';
export const JOURNAL_SUFFIX = '.journal';
/** Journal lines tolerated before folding: max(MIN, packed entries / DIVISOR). */
export const COMPACT_MIN = 256;
export const COMPACT_DIVISOR = 8;

export function refsPaths(l: Layout, project: string): { packed: string; journal: string } {
  const key = projectFileKey(project);
  return { packed: join(l.refs, key + REFS_SUFFIX), journal: join(l.refs, key + JOURNAL_SUFFIX) };
}

export type RefMap = Map<string, string>;

function badLine(file: string, lineNo: number, line: string, expected: string): RepositoryError {
  const conflict = /^(<<<<<<<|=======|>>>>>>>)/.test(line);
  return new RepositoryError('bad-ref-line', `${file}:${lineNo}: expected ${expected}, found ${JSON.stringify(line.slice(0, 80))}`, {
    hint: conflict ? 'this looks like an unresolved merge: qdo fsck --repair rebuilds refs from the manifests' : 'fix the line by hand, or run qdo fsck --repair to rebuild refs from the manifests',
    data: { file, line: lineNo },
  });
}

const PACKED_LINE = /^([A-Za-z0-9_.][A-Za-z0-9._-]{0,199}) ([0-9a-f]{64})$/;

/** Parses a packed refs file. Lines: `<job> <id>`, sorted, unique; `#` lines are comments. */
export function parsePacked(text: string, file: string): RefMap {
  return (text.length >= FAST_PARSE_MIN ? parsePackedFast(text) : null) ?? parsePackedChecked(text, file);
}

/** From this size (~3,000 names) the fast parser pays for its start in the interpreter. */
export const FAST_PARSE_MIN = 256 * 1024;

const NAME = /^[A-Za-z0-9_.][A-Za-z0-9._-]{0,199}$/;

/**
 * The usual packed file (no comments, every line `<name> <64 hex>\n`, sorted) without a
 * match object and a line copy per line: ~2x faster at 10^5 names (status over a large
 * project; bench/README.md §Scale). Null on anything else: the checked parser then reads it
 * again and names the bad line. Used for large files only: its loop over characters runs in
 * V8's interpreter until optimized, which at 1,000 names costs more than a regexp a line
 * (bench/README.md §Start-up).
 */
function parsePackedFast(text: string): RefMap | null {
  const map: RefMap = new Map();
  let prev: string | null = null;
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf('\n', start);
    if (end === -1) return null; // a last line without LF is rare: let the checked parser take it
    const sp = end - 65;
    if (sp <= start || text.charCodeAt(sp) !== 32) return null;
    for (let k = sp + 1; k < end; k++) {
      const c = text.charCodeAt(k);
      if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return null;
    }
    const name = text.slice(start, sp);
    if (!NAME.test(name) || name === '.' || name === '..' || (prev !== null && name <= prev)) return null;
    prev = name;
    map.set(name, text.slice(sp + 1, end));
    start = end + 1;
  }
  return map;
}

/** The parser that names the bad line (exported for the test that holds both parsers to one answer). */
export function parsePackedChecked(text: string, file: string): RefMap {
  const map: RefMap = new Map();
  let prev: string | null = null;
  let lineNo = 0;
  // One regex per line, no intermediate arrays: 10^5 refs parse in tens of milliseconds.
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    if (line.startsWith('#')) continue;
    const m = PACKED_LINE.exec(line);
    if (!m || m[1] === '.' || m[1] === '..') throw badLine(file, lineNo, line, '"<job> <64-hex id>"');
    const name = m[1]!;
    if (prev !== null && name <= prev) throw badLine(file, lineNo, line, `names in ascending byte order (after "${prev}")`);
    prev = name;
    map.set(name, m[2]!);
  }
  return map;
}

export function encodePacked(map: RefMap): string {
  const names = [...map.keys()].sort(byteOrder);
  return names.map((n) => `${n} ${map.get(n)}\n`).join('');
}

/** The bytes a binary search over a packed file looks at: a whole Buffer, or pages of an open file. */
interface Bytes {
  length: number;
  at(i: number): number;
  indexOf(byte: number, from: number): number;
  /** The last `byte` at or before `from` (-1: none). */
  lastIndexOf(byte: number, from: number): number;
  slice(start: number, end: number): Buffer;
}

function bufferBytes(buf: Buffer): Bytes {
  return {
    length: buf.length,
    at: (i) => buf[i]!,
    indexOf: (b, from) => buf.indexOf(b, from),
    lastIndexOf: (b, from) => (from < 0 ? -1 : buf.lastIndexOf(b, from)),
    slice: (a, b) => buf.subarray(a, b),
  };
}

const PAGE = 1 << 16;

/**
 * A file read a 64 KiB page at a time, as the search asks: one lookup among 10^5 names (7.5
 * MB) reads about ten pages. Pages come from one open descriptor, so they are all of one file
 * even if a fold renames another over its name meanwhile.
 */
function pagedBytes(fd: number, size: number): Bytes {
  const pages = new Map<number, Buffer>();
  const page = (n: number): Buffer => {
    let p = pages.get(n);
    if (p === undefined) {
      const len = Math.min(PAGE, size - n * PAGE);
      p = Buffer.allocUnsafe(len);
      for (let off = 0; off < len; ) {
        const got = readSync(fd, p, off, len - off, n * PAGE + off);
        if (got === 0) throw new RepositoryError('unreadable-refs', 'a refs file shrank while it was read');
        off += got;
      }
      pages.set(n, p);
    }
    return p;
  };
  return {
    length: size,
    at: (i) => page(Math.floor(i / PAGE))[i % PAGE]!,
    indexOf(b, from) {
      for (let n = Math.floor(from / PAGE); n * PAGE < size; n++) {
        const k = page(n).indexOf(b, n * PAGE < from ? from - n * PAGE : 0);
        if (k !== -1) return n * PAGE + k;
      }
      return -1;
    },
    lastIndexOf(b, from) {
      for (let n = Math.floor(Math.min(from, size - 1) / PAGE); from >= 0 && n >= 0; n--) {
        const p = page(n);
        const k = p.lastIndexOf(b, Math.min(p.length - 1, from - n * PAGE));
        if (k !== -1) return n * PAGE + k;
      }
      return -1;
    },
    slice(a, b) {
      const parts: Buffer[] = [];
      for (let n = Math.floor(a / PAGE); n * PAGE < b; n++) parts.push(page(n).subarray(Math.max(0, a - n * PAGE), Math.min(PAGE, b - n * PAGE)));
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    },
  };
}

/**
 * One name's id in a packed file by binary search over its sorted lines, without parsing
 * the rest: O(log n) for 10^5 names. Returns null if absent, undefined if the file cannot be
 * searched this way (a probe on a comment line or a malformed one) — then the caller parses it whole.
 */
export function lookupPacked(buf: Buffer, name: string): string | null | undefined {
  return lookupIn(bufferBytes(buf), name);
}

function lookupIn(buf: Bytes, name: string): string | null | undefined {
  if (buf.length === 0) return null;
  // A comment line (a hand edit) that a probe lands on sends the caller to the full parse;
  // one it never lands on is passed over like any other line. Scanning the whole file for
  // them first cost more than the search (14 ms at 10^5 names).
  const key = Buffer.from(name, 'utf8');
  let lo = 0;
  let hi = buf.length;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    const s = Math.max(lo, buf.lastIndexOf(10, mid - 1) + 1);
    const nl = buf.indexOf(10, s);
    const end = nl === -1 ? buf.length : nl;
    if (buf.at(s) === 0x23) return undefined;
    const sp = buf.indexOf(32, s);
    if (sp === -1 || sp > end) return undefined;
    const cmp = Buffer.compare(buf.slice(s, sp), key);
    if (cmp === 0) {
      const id = buf.slice(sp + 1, end).toString('latin1');
      return isObjectId(id) ? id : undefined;
    }
    if (cmp < 0) lo = end + 1;
    else hi = s;
  }
  return null;
}

/**
 * One name's id in the packed file at `path` (null: absent, or no file), and with `count` the
 * number of its entries. A large file is searched a page at a time; with `count`, a small one,
 * or one the search cannot use, it is read whole.
 */
function lookupPackedFile(path: string, name: string, count: boolean): { id: string | null; count: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { id: null, count: 0 };
    throw new RepositoryError('unreadable-refs', `cannot read ${path}: ${errnoCode(e) ?? String(e)}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (!count && size > 4 * PAGE) {
      const id = lookupIn(pagedBytes(fd, size), name);
      if (id !== undefined) return { id, count: 0 };
    }
    const buf = readFileSync(fd);
    const id = lookupPacked(buf, name);
    if (id !== undefined) return { id, count: count ? countLines(buf) : 0 };
    const map = parsePacked(buf.toString('utf8'), path);
    return { id: map.get(name) ?? null, count: map.size };
  } catch (e) {
    if (e instanceof RepositoryError) throw e;
    throw new RepositoryError('unreadable-refs', `cannot read ${path}: ${errnoCode(e) ?? String(e)}`);
  } finally {
    closeSync(fd);
  }
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface JournalEntry {
  name: string;
  /** New id, or null for a deletion. */
  next: string | null;
  /** Id before the update, or null if the name was absent. */
  prev: string | null;
}

/** Parses a journal; an unterminated final line is an interrupted append and is ignored. */
export function parseJournal(text: string, file: string): { entries: JournalEntry[]; completeLength: number } {
  const end = text.lastIndexOf('\n') + 1;
  const body = text.slice(0, end);
  const entries: JournalEntry[] = [];
  const lines = body.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    if (line.startsWith('#')) return;
    const parts = line.split(' ');
    const ok = parts.length === 3 && isValidLeafName(parts[0]!) && parts.slice(1).every((p) => p === '-' || isObjectId(p));
    if (!ok) throw badLine(file, i + 1, line, '"<job> <new id|-> <old id|->"');
    const [name, next, prev] = parts as [string, string, string];
    entries.push({ name, next: next === '-' ? null : next, prev: prev === '-' ? null : prev });
  });
  return { entries, completeLength: Buffer.byteLength(body) };
}

export function encodeJournalEntry(e: JournalEntry): string {
  return `${e.name} ${e.next ?? '-'} ${e.prev ?? '-'}\n`;
}

// Refs files are read with synchronous calls, as records and objects are: every command
// reads a few, and each asynchronous call is a trip through the thread pool and back
// (bench/README.md, stop 24).
async function readOptional(file: string): Promise<string | null> {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw new RepositoryError('unreadable-refs', `cannot read ${file}: ${errnoCode(e) ?? String(e)}`);
  }
}

async function statKey(file: string): Promise<string> {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.mtimeMs}:${st.size}`;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return 'absent';
    throw new RepositoryError('unreadable-refs', `cannot read ${file}: ${errnoCode(e) ?? String(e)}`, { hint: 'qdo fsck shows what is damaged' });
  }
}

interface Snapshot {
  map: RefMap;
  packedCount: number;
  journalLines: number;
  journalText: string | null;
  journalCompleteLength: number;
}

async function readSnapshot(l: Layout, project: string): Promise<Snapshot> {
  const { packed, journal } = refsPaths(l, project);
  // Packed first, then journal; if a fold replaced the packed file meanwhile, read again.
  for (let attempt = 0; ; attempt++) {
    const before = await statKey(packed);
    const packedText = await readOptional(packed);
    const journalText = await readOptional(journal);
    if ((await statKey(packed)) !== before && attempt < 5) continue;
    const map = packedText === null ? new Map<string, string>() : parsePacked(packedText, packed);
    const packedCount = map.size;
    let journalLines = 0;
    let completeLength = 0;
    if (journalText !== null) {
      const j = parseJournal(journalText, journal);
      // Entries are compare-and-swap records: one applies only if its old value is the
      // current one (spec/refs.md §Reading). A stray entry (a writer whose lock was taken
      // over as stale, a bad hand edit) is thereby ignored by every reader alike.
      for (const e of j.entries) {
        if ((map.get(e.name) ?? null) !== e.prev) continue;
        if (e.next === null) map.delete(e.name);
        else map.set(e.name, e.next);
      }
      journalLines = j.entries.length;
      completeLength = j.completeLength;
    }
    return { map, packedCount, journalLines, journalText, journalCompleteLength: completeLength };
  }
}

interface OneRef {
  current: string | null;
  packedCount: number;
  journalLines: number;
  journalText: string | null;
  journalCompleteLength: number;
}

/**
 * What an update needs: one name's current value and the sizes that decide a fold. The
 * packed file is binary-searched, the journal replayed for this name only (entries of
 * other names cannot change it, §Reading); the packed entries are counted only where a fold
 * may be due (the journal at COMPACT_MIN - 1 entries or more). Caller holds the lock.
 */
async function readOneForUpdate(l: Layout, project: string, name: string): Promise<OneRef> {
  const { packed, journal } = refsPaths(l, project);
  const journalText = await readOptional(journal);
  const j = journalText === null ? null : parseJournal(journalText, journal);
  const journalLines = j?.entries.length ?? 0;
  const found = lookupPackedFile(packed, name, journalLines + 1 >= COMPACT_MIN);
  let current = found.id;
  for (const e of j?.entries ?? []) if (e.name === name && e.prev === current) current = e.next;
  return { current, packedCount: found.count, journalLines, journalText, journalCompleteLength: j?.completeLength ?? 0 };
}

/**
 * One job's ref (null: none), as readRefs would give it, without parsing the other names: the
 * packed file binary-searched, the journal's entries for this name replayed (§Reading: entries
 * of other names cannot change it). A submit into a project of 10^5 names parsed them all
 * (bench/README.md). Packed file then journal; read again if a fold replaced the packed file
 * in between.
 */
export async function readRef(l: Layout, project: string, name: string): Promise<string | null> {
  const { packed, journal } = refsPaths(l, project);
  for (let attempt = 0; ; attempt++) {
    const before = await statKey(packed);
    let current = lookupPackedFile(packed, name, false).id;
    const journalText = await readOptional(journal);
    if ((await statKey(packed)) !== before && attempt < 5) continue;
    if (journalText !== null) {
      for (const e of parseJournal(journalText, journal).entries) {
        if (e.name === name && e.prev === current) current = e.next;
      }
    }
    return current;
  }
}

/** The current refs of a project: job name → manifest id. */
export async function readRefs(l: Layout, project: string): Promise<RefMap> {
  return (await readSnapshot(l, project)).map;
}

export interface RefUpdate {
  project: string;
  name: string;
  /** New manifest id, or null to delete the ref. */
  next: string | null;
  /**
   * Expected current value: an id, null for "must not exist", or undefined for
   * "whatever it is" (no check).
   */
  expect?: string | null;
}

/** Compare-and-swap of one ref under the project's refs lock. Returns the previous id. */
export async function updateRef(l: Layout, u: RefUpdate): Promise<string | null> {
  const { packed, journal } = refsPaths(l, u.project);
  for (let attempt = 0; ; attempt++) {
    const r = await withLock(packed, async () => {
      const snap = await readOneForUpdate(l, u.project, u.name);
      const current = snap.current;
      if (u.expect !== undefined && u.expect !== current) throw refMoved(u, current);
      if (current === u.next) return { done: true, current };
      // An interrupted append leaves an unterminated last line; cut it before appending.
      if (snap.journalText !== null && snap.journalCompleteLength !== Buffer.byteLength(snap.journalText)) {
        await truncate(journal, snap.journalCompleteLength);
      }
      const line = encodeJournalEntry({ name: u.name, next: u.next, prev: current });
      const fh = await open(journal, 'a', 0o644);
      let offset: number;
      try {
        offset = (await fh.stat()).size;
        await fh.appendFile(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (snap.journalText === null) await fsyncDir(l.refs);
      // The lock makes the check above and the append one step. Should it ever have been
      // taken over as stale meanwhile (a process or VM paused past STALE_MS), another
      // entry may precede ours; then ours does not apply (§Reading), and we must know.
      if (!(await appendedAlone(journal, offset, line))) {
        const after = (await readSnapshot(l, u.project)).map.get(u.name) ?? null;
        if (after !== u.next) return { done: false, current: after };
      }
      if (snap.journalLines + 1 >= Math.max(COMPACT_MIN, Math.floor(snap.packedCount / COMPACT_DIVISOR))) {
        await fold(packed, journal, (await readSnapshot(l, u.project)).map);
      }
      return { done: true, current };
    });
    if (r.done) return r.current;
    if (u.expect !== undefined || attempt >= 4) throw refMoved(u, r.current);
  }
}

/**
 * Many compare-and-swaps of one project's refs under ONE lock and ONE journal append
 * (spec/refs.md §Updating, batches; sweeps move a chunk's refs this way). Every expected
 * value is checked before anything is written: one mismatch fails the whole batch (exit 4
 * `ref-moved`) and changes nothing. Entries whose ref is already at `next` are left out.
 */
export async function updateRefs(l: Layout, project: string, updates: Omit<RefUpdate, 'project'>[]): Promise<void> {
  if (updates.length === 0) return;
  const { packed, journal } = refsPaths(l, project);
  await withLock(packed, async () => {
    const snap = await readSnapshot(l, project);
    const names = new Set<string>();
    let lines = '';
    let count = 0;
    for (const u of updates) {
      if (names.has(u.name)) throw new Error(`updateRefs: ${project}/${u.name} given twice`);
      names.add(u.name);
      const current = snap.map.get(u.name) ?? null;
      if (u.expect !== undefined && u.expect !== current) throw refMoved({ ...u, project }, current);
      if (current === u.next) continue;
      lines += encodeJournalEntry({ name: u.name, next: u.next, prev: current });
      count++;
    }
    if (count === 0) return;
    if (snap.journalText !== null && snap.journalCompleteLength !== Buffer.byteLength(snap.journalText)) {
      await truncate(journal, snap.journalCompleteLength);
    }
    const fh = await open(journal, 'a', 0o644);
    let offset: number;
    try {
      offset = (await fh.stat()).size;
      await fh.appendFile(lines);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (snap.journalText === null) await fsyncDir(l.refs);
    if (!(await appendedAlone(journal, offset, lines))) {
      // The lock was taken over as stale meanwhile (see updateRef): say which did not apply.
      const after = (await readSnapshot(l, project)).map;
      const lost = updates.find((u) => (after.get(u.name) ?? null) !== u.next);
      if (lost) throw refMoved({ ...lost, project }, after.get(lost.name) ?? null);
    }
    if (snap.journalLines + count >= Math.max(COMPACT_MIN, Math.floor(snap.packedCount / COMPACT_DIVISOR))) {
      await fold(packed, journal, (await readSnapshot(l, project)).map);
    }
  });
}

function refMoved(u: RefUpdate, current: string | null): ConflictError {
  return new ConflictError('ref-moved', `ref ${u.project}/${u.name} is at ${current ?? '(none)'}, not at ${u.expect === undefined ? 'what it was when read' : (u.expect ?? '(none)')}`, {
    data: { current, expected: u.expect },
    hint: 'someone else updated it first; read it again and retry',
  });
}

/** True if the journal holds exactly `line` from `offset` to its end. */
async function appendedAlone(journal: string, offset: number, line: string): Promise<boolean> {
  const fh = await open(journal, 'r');
  try {
    const want = Buffer.from(line);
    const st = await fh.stat();
    if (st.size !== offset + want.length) return false;
    const buf = Buffer.alloc(want.length);
    await fh.read(buf, 0, want.length, offset);
    return buf.equals(want);
  } finally {
    await fh.close();
  }
}

/** Rewrites the packed file from `map` and drops the journal. Caller holds the lock. */
async function fold(packed: string, journal: string, map: RefMap): Promise<void> {
  await writeFileAtomic(packed, encodePacked(map));
  // Replaying a journal over a packed file that already contains it is harmless, so a
  // crash between these two steps loses nothing.
  await unlink(journal).catch((e) => {
    if (errnoCode(e) !== 'ENOENT') throw e;
  });
}

/** Replaces all refs of a project (fsck --repair, pack). Takes the lock. */
export async function writeAllRefs(l: Layout, project: string, map: RefMap): Promise<void> {
  const { packed, journal } = refsPaths(l, project);
  await withLock(packed, () => fold(packed, journal, map));
}

/** Folds the journal into the packed file now (the result is the same refs). */
export async function packRefs(l: Layout, project: string): Promise<void> {
  const { packed, journal } = refsPaths(l, project);
  await withLock(packed, async () => {
    const snap = await readSnapshot(l, project);
    await fold(packed, journal, snap.map);
  });
}

/** Projects that have refs files in this allocation (for fsck). */
export async function projectsWithRefs(l: Layout): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(l.refs);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
  const keys = new Set<string>();
  for (const n of names) {
    if (n.startsWith('.')) continue;
    if (n.endsWith(REFS_SUFFIX)) keys.add(n.slice(0, -REFS_SUFFIX.length));
    else if (n.endsWith(JOURNAL_SUFFIX)) keys.add(n.slice(0, -JOURNAL_SUFFIX.length));
  }
  return [...keys].map(projectFromFileKey).sort(byteOrder);
}
