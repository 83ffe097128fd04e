// Every lock option lives here (spec/locking.md). Locks are proper-lockfile's mkdir locks:
// `<target>.lock` is a folder whose mtime the holder refreshes every 2 s. This module wraps
// proper-lockfile with what it lacks:
//  - the holder names itself inside the folder (`holder`: host, pid, start time; util/proc.ts),
//    so a waiter on the same host sees at once that the holder is dead and takes the lock
//    over without waiting for the mtime to go stale (§Holders);
//  - a lock not refreshed for STALE_MS is judged so by the waiter's own clock, never by
//    comparing another host's clock with this one's (§Stale): stale once the waiter has seen
//    it unchanged for STALE_MS, or at once if it is older than STALE_MS + SKEW_MS;
//  - every takeover — of a dead holder's lock, or of a stale one — goes
//    through one protocol (§Taking over): under the break lock `<target>.break.lock`, the waiter
//    checks that the lock is still the very one it judged (inode and holder line), renames
//    it away, then removes it. Two waiters that judged together break it once; a third that
//    arrives later sees the new holder. proper-lockfile's own stale removal is not used;
//  - damaged lock folders (a file in their place, foreign files inside, no permission) are
//    typed errors naming the path, never internal errors.
// Locks guard short read-check-write sections only and are never held across a scheduler
// call or any other slow operation.
import { mkdir as mkdirCb, realpath as realpathCb, rename as renameCb, renameSync, rm as rmCb, rmSync, rmdir as rmdirCb, stat as statCb, unlink as unlinkCb, utimes as utimesCb, writeFile as writeFileCb } from 'node:fs';
import { lstat, mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BusyError, RepositoryError, errnoCode } from '../errors.js';
import { identityOf, isProcessStart, liveness, type ProcessIdentity } from '../util/proc.js';
import { randomHex8, tempPathFor } from './atomic.js';

export const LOCK_SUFFIX = '.lock';
/** A lock folder not refreshed for this long is stale (holders on other hosts, or unnamed). */
export const STALE_MS = 10_000;
/**
 * How far another host's clock may be from this one's without misleading a judgement by age
 * alone (spec/locking.md §Stale): a lock whose refresh time is older than STALE_MS + SKEW_MS
 * by this clock is stale at first sight; a younger one only once this process has seen it
 * unchanged for STALE_MS by its own clock. (qdo doctor warns from 10 s of skew.)
 */
export const SKEW_MS = 30_000;
/** Older than this by this host's clock, a lock is stale at first sight: the rule of those who watch nothing (fsck, doctor). */
export const STALE_AT_SIGHT_MS = STALE_MS + SKEW_MS;
/** The file in a lock folder that names its holder (spec/locking.md §Holders). */
export const HOLDER_FILE = 'holder';
/** `<target>.break.lock`: held while a waiter takes a lock over (spec/locking.md §Taking over). */
export const BREAK_SUFFIX = '.break.lock';
const UPDATE_MS = 2_000;
/** A break lock is held for a few file operations; one older than this was left by a killed waiter. */
const BREAK_STALE_MS = 2_000;
/** How long a waiter tries before giving up with "busy" (exit 5). */
export const WAIT_MS = 15_000;
// proper-lockfile must never remove a lock by itself (its check and its rmdir are two steps
// another waiter can come between); this module decides staleness.
const NEVER_STALE = 1e12;

export function lockPathFor(target: string): string {
  return target + LOCK_SUFFIX;
}

export function breakPathFor(target: string): string {
  return target + BREAK_SUFFIX;
}

/** What a lock folder says of its holder (one JSON line, written when it is taken). */
export interface Holder extends ProcessIdentity {
  /** Random, new for every taking: tells two lock folders of one process apart. */
  nonce: string;
}

let me: ProcessIdentity | undefined;
/** This process, as its locks name it (facts of the OS, not configuration: util/proc.ts). */
function self(): ProcessIdentity {
  return (me ??= identityOf(hostname(), process.pid));
}

function holderLine(): string {
  const s = self();
  return JSON.stringify({ host: s.host, pid: s.pid, start: s.start, nonce: randomHex8() }) + '\n';
}

export function parseHolder(text: string): Holder | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v.host !== 'string' || typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid) || typeof v.nonce !== 'string') return null;
    if (v.start !== null && !isProcessStart(v.start)) return null;
    return { host: v.host, pid: v.pid, start: v.start as string | null, nonce: v.nonce };
  } catch {
    return null;
  }
}

// The fs proper-lockfile works through. A lock folder appears whole and goes whole
// (spec/locking.md §Holders): it is made under a temp name with its holder file inside and
// renamed into place, and let go by renaming it away before removing it, so a qdo killed at
// any instruction never leaves a lock folder without its holder (which only the 10 s mtime
// rule could take over). Only what proper-lockfile calls (with realpath: false): node:fs is
// not spread, as reading its getters loads the stream modules (ReadStream, WriteStream), ~4
// ms on a command's first lock (bench/README.md, stop 24).
type Cb = (err: NodeJS.ErrnoException | null) => void;
const makeLockFs = () => ({
  stat: statCb,
  // Each refresh touches the holder file too: waiters judge it from the open file (readLockFolder).
  utimes(p: string, atime: Date, mtime: Date, cb: Cb): void {
    utimesCb(p, atime, mtime, (err) => {
      if (err) return cb(err);
      utimesCb(join(p, HOLDER_FILE), atime, mtime, () => cb(null));
    });
  },
  realpath: realpathCb,
  mkdir(p: string, cb: Cb): void {
    const tmp = tempPathFor(p);
    const fail = (err: NodeJS.ErrnoException) => rmCb(tmp, { recursive: true, force: true }, () => cb(err));
    mkdirCb(tmp, (err) => {
      if (err) return cb(err);
      writeFileCb(join(tmp, HOLDER_FILE), holderLine(), { flag: 'wx', mode: 0o644 }, (err) => {
        if (err) return fail(err);
        renameCb(tmp, p, (err) => {
          if (!err) return cb(null);
          // Held already (rename(2) does not replace a folder with something in it), or a
          // file is in its place (judged as a damaged lock by the waiter).
          if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST' || err.code === 'ENOTDIR') err = Object.assign(new Error(`EEXIST: ${p} exists`), { code: 'EEXIST' });
          fail(err);
        });
      });
    });
  },
  rmdir(p: string, cb: Cb): void {
    const away = tempPathFor(p);
    renameCb(p, away, (err) => {
      if (err) return cb(err);
      // Its holder file, then the folder: three calls where a recursive rm makes seven (a
      // sweep lets go of a lock per point). Anything else inside: removed whole.
      unlinkCb(join(away, HOLDER_FILE), () =>
        rmdirCb(away, (err) => {
          if (!err) return cb(null);
          rmCb(away, { recursive: true, force: true }, cb);
        }),
      );
    });
  },
  rmdirSync(p: string): void {
    // At exit (signal-exit): the locks still held are let go.
    const away = tempPathFor(p);
    try {
      renameSync(p, away);
    } catch {
      return;
    }
    rmSync(away, { recursive: true, force: true });
  },
});
let lockFsMade: ReturnType<typeof makeLockFs> | undefined;
const lockFs = () => (lockFsMade ??= makeLockFs());

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface LockOptions {
  /** Give up after this long (default WAIT_MS). */
  waitMs?: number;
}

/** Runs `fn` holding the lock on `target` (which need not exist). */
export async function withLock<T>(target: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  let compromised: Error | undefined;
  // Loaded on first use: commands that only read never pay for it (or for graceful-fs).
  const lockfile = (await import('proper-lockfile')).default;
  const lockPath = lockPathFor(target);
  const deadline = Date.now() + (opts.waitMs ?? WAIT_MS);
  let release: () => Promise<void>;
  for (let attempt = 0; ; attempt++) {
    try {
      release = await lockfile.lock(target, {
        realpath: false,
        lockfilePath: lockPath,
        stale: NEVER_STALE,
        update: UPDATE_MS,
        retries: 0,
        fs: lockFs(),
        onCompromised: (err) => {
          compromised = err;
        },
      });
      watched.delete(lockPath);
      break;
    } catch (e) {
      if (errnoCode(e) !== 'ELOCKED') throw lockError(target, e);
    }
    if (await takeOver(target)) continue;
    if (Date.now() >= deadline) {
      watched.delete(lockPath);
      throw new BusyError('locked', `${target} is locked by another qdo process${await holderNote(lockPath)}`, {
        hint: `if no qdo is running, the lock ${lockPath} is stale: qdo fsck --repair removes it`,
      });
    }
    // 5 ms growing to 200 ms, jittered: short sections are waited out quickly.
    await sleep(Math.min(200, 5 * 1.25 ** attempt) * (0.5 + Math.random()));
  }
  try {
    const result = await fn();
    if (compromised) throw lockCompromised(target, compromised);
    return result;
  } finally {
    await release().catch((e) => {
      // Releasing a lock someone else took over is the compromised case reported above.
      if (errnoCode(e) !== 'ERELEASED' && errnoCode(e) !== 'ENOTACQUIRED' && errnoCode(e) !== 'ENOENT' && !compromised) throw lockError(target, e);
    });
  }
}

/**
 * Runs `fn` holding the locks of every target: taken one after another in the order given
 * (callers sort by path, so two holders of many never wait on each other in a circle), each
 * as withLock takes it, let go in reverse.
 */
export async function withLocks<T>(targets: readonly string[], fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const take = (k: number): Promise<T> => (k === targets.length ? fn() : withLock(targets[k]!, () => take(k + 1), opts));
  return take(0);
}

/** A lock folder as seen at one moment: which folder (inode), when refreshed, and its holder line. */
export interface Seen {
  ino: number;
  /** When its holder last refreshed it, by the holder's clock: the later of the folder's and the holder file's mtime. */
  mtimeMs: number;
  line: string | null;
  holder: Holder | null;
}

/**
 * Reads a lock folder, given its lstat. The holder file is opened and its attributes read from
 * the open file: on NFS, opening revalidates them (close-to-open), where a folder's may come
 * from the client's attribute cache for up to a minute (acdirmax) and look unrefreshed. A
 * holder refreshes both (lockFs.utimes); an older qdo's holder only the folder: the later one
 * counts.
 */
export async function readLockFolder(lockPath: string, st: { ino: number; mtimeMs: number }): Promise<Seen> {
  let line: string | null = null;
  let mtimeMs = st.mtimeMs;
  let fh;
  try {
    fh = await open(join(lockPath, HOLDER_FILE), 'r');
    mtimeMs = Math.max(mtimeMs, (await fh.stat()).mtimeMs);
    line = await fh.readFile('utf8');
  } catch {
    line = null; // being made, or an old qdo's lock: judged by its mtime alone
  } finally {
    await fh?.close().catch(() => undefined);
  }
  return { ino: st.ino, mtimeMs, line, holder: line === null ? null : parseHolder(line) };
}

async function inspect(lockPath: string): Promise<Seen | null> {
  let st;
  try {
    st = await lstat(lockPath);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw lockError(lockPath, e);
  }
  if (!st.isDirectory()) {
    throw new RepositoryError('bad-lock', `${lockPath} is not a lock folder (a ${st.isFile() ? 'file' : 'non-folder'} is in its place)`, {
      hint: `no qdo makes such a file: move it away (qdo fsck --repair removes it)`,
      data: { path: lockPath },
    });
  }
  return readLockFolder(lockPath, st);
}

/**
 * Lock folders this process is waiting on: what it last saw of each (inode, refresh time,
 * holder line) and since when, by its monotonic clock, it has seen exactly that.
 */
const watched = new Map<string, { ino: number; mtimeMs: number; line: string | null; since: number }>();

/** How long, by this process's own clock, it has seen `path` as `s` without a change (0 on a first or changed sight). */
function unchangedFor(path: string, s: { ino: number; mtimeMs: number; line: string | null }): number {
  const now = performance.now();
  const w = watched.get(path);
  if (w && w.ino === s.ino && w.mtimeMs === s.mtimeMs && w.line === s.line) return now - w.since;
  watched.set(path, { ino: s.ino, mtimeMs: s.mtimeMs, line: s.line, since: now });
  return 0;
}

/** Whether a lock (or break lock) refreshed at `s.mtimeMs` and not since is stale by `limitMs` (spec/locking.md §Stale). */
function staleBy(path: string, s: { ino: number; mtimeMs: number; line: string | null }, limitMs: number): boolean {
  const seenFor = unchangedFor(path, s);
  return Date.now() - s.mtimeMs > limitMs + SKEW_MS || seenFor > limitMs;
}

/** Why a lock may be taken over now, or null: its holder is provably dead, or it is stale. */
function verdict(lockPath: string, s: Seen): 'dead-holder' | 'stale' | null {
  if (s.holder && liveness(s.holder, self().host) === 'dead') return 'dead-holder';
  if (staleBy(lockPath, s, STALE_MS)) return 'stale';
  return null;
}

/**
 * Takes over the lock of `target` if its holder is dead or it is stale (spec/locking.md §Taking
 * over). Returns true if the lock is gone (taken over here or by another), so trying again
 * now may succeed; false to wait.
 */
async function takeOver(target: string): Promise<boolean> {
  const lockPath = lockPathFor(target);
  const seen = await inspect(lockPath);
  if (seen === null) return true;
  if (verdict(lockPath, seen) === null) return false;
  const breakPath = breakPathFor(target);
  if (!(await takeBreakLock(breakPath))) return false;
  try {
    // Judge again under the break lock: the very folder judged above, still takeable.
    const now = await inspect(lockPath);
    if (now === null) return true;
    if (now.ino !== seen.ino || now.line !== seen.line) return true;
    if (verdict(lockPath, now) === null) return false;
    const trash = tempPathFor(lockPath);
    try {
      await rename(lockPath, trash);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return true;
      throw lockError(lockPath, e);
    }
    const moved = await inspect(trash).catch(() => null);
    if (moved && (moved.ino !== seen.ino || moved.line !== seen.line)) {
      // Not the folder judged (its holder let go and another took it between the check and
      // the rename; only possible for a stale, not a dead, holder): put it back if the place
      // is free; otherwise its holder finds its lock compromised (spec/locking.md).
      await rename(trash, lockPath).catch(() => undefined);
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  } finally {
    await rmdir(breakPath).catch(() => undefined);
  }
}

/** The break lock: a bare mkdir, held for a few file operations. One left by a killed waiter goes stale fast. */
async function takeBreakLock(breakPath: string): Promise<boolean> {
  try {
    await mkdir(breakPath);
    watched.delete(breakPath);
    return true;
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw lockError(breakPath, e);
  }
  let st;
  try {
    st = await lstat(breakPath);
  } catch {
    return false;
  }
  if (!staleBy(breakPath, { ino: st.ino, mtimeMs: st.mtimeMs, line: null }, BREAK_STALE_MS)) return false;
  const trash = tempPathFor(breakPath);
  await rename(breakPath, trash).then(
    () => rm(trash, { recursive: true, force: true }),
    () => undefined,
  );
  return false;
}

async function holderNote(lockPath: string): Promise<string> {
  const s = await inspect(lockPath).catch(() => null);
  if (!s?.holder) return '';
  return ` (pid ${s.holder.pid} on ${s.holder.host})`;
}

/** Errors of lock folders, typed and naming the path (spec/exit-codes.md: 7). */
function lockError(path: string, e: unknown): unknown {
  if (e instanceof RepositoryError || e instanceof BusyError) return e;
  const c = errnoCode(e);
  if (c === 'ENOENT') return new RepositoryError('missing-folder', `cannot lock ${path}: its folder does not exist`, { hint: 'qdo fsck reports what is missing' });
  if (c === 'ENOTDIR') return new RepositoryError('missing-folder', `cannot lock ${path}: a file is where a folder of it belongs`, { hint: 'move the file away; qdo fsck reports what is wrong' });
  if (c === 'EACCES' || c === 'EPERM' || c === 'EROFS') {
    return new RepositoryError('unwritable-allocation', `cannot lock ${path}: ${c} (no permission to write there)`, { hint: 'check the owner and permissions of the allocation\'s .qdo folder' });
  }
  if (c === 'ENOSPC' || c === 'EDQUOT') return new RepositoryError('no-space', `cannot lock ${path}: ${c} (the disk or quota is full)`);
  if (c === 'ENOTEMPTY' || c === 'EEXIST' || c === 'EISDIR' || c === 'ELOOP') return new RepositoryError('bad-lock', `cannot lock ${path}: ${c}`, { hint: 'qdo fsck --repair removes damaged lock folders' });
  return e;
}

function lockCompromised(target: string, cause: Error): RepositoryError {
  return new RepositoryError('lock-compromised', `the lock on ${target} was lost while held (${cause.message})`, {
    hint: 'another process took it over as stale; re-run the command and check with qdo fsck',
    cause,
  });
}
