// Who may have written the files qdo trusts (spec/trust.md): owners and modes of a path and
// of every folder on the way to it, as the invoking user sees them.
//
// A file is as safe as the folders above it: whoever can write a folder anywhere on the path
// can rename the rest away and put their own in its place. So the walk starts at "/" and
// follows the path the kernel would, symlinks included, checking each folder looked
// through (the sshd StrictModes and sudo argument). A folder with the sticky bit (/tmp) may
// be writable by everyone: there, others cannot rename or remove what they do not own.
import { lstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { chmod, lstat, readdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { UserId } from '../context.js';
import { RepositoryError, errnoCode } from '../errors.js';
import type { Layout } from './layout.js';
import { readList, updateList, type ListFile } from './lists.js';

/** How strict a walk is. */
export interface TrustRule {
  /**
   * strict: everything owned by you or root and writable by nobody else (code that runs in
   * qdo: plugin modules and the config naming them). shared: a group-shared allocation the
   * user opted into: any owner and group write accepted, but never write by others.
   */
  mode: 'strict' | 'shared';
}

export interface Fault {
  /** The path at fault (a folder on the way, a symlink, or the file itself). */
  path: string;
  /** What is wrong with it, e.g. "writable by others (mode 0777)". */
  why: string;
}

/** Looks up whether a group is one's own private group; memoised for one command. */
export class GroupBook {
  private readonly cache = new Map<number, boolean>();
  constructor(private readonly user: UserId) {}

  /**
   * A group-writable file is writable by you alone when its group is your user private group
   * (Debian's and Red Hat's default: group named as you, your primary group, no other
   * members), as sshd's user-group-modes rule has it. A shared primary group such as
   * "users" is not private: its name is not yours.
   */
  isPrivate(gid: number): boolean {
    if (gid !== this.user.gid) return false;
    let known = this.cache.get(gid);
    if (known === undefined) {
      const g = lookupGroup(gid);
      known = g !== null && g.name === this.user.name && g.members.every((m) => m === this.user.name);
      this.cache.set(gid, known);
    }
    return known;
  }
}

/** `name:x:gid:members` from /etc/group, else from `getent group` (network groups); null if unknown. */
function lookupGroup(gid: number): { name: string; members: string[] } | null {
  const parse = (text: string): { name: string; members: string[] } | null => {
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f.length >= 4 && Number(f[2]) === gid) return { name: f[0]!, members: f[3]!.split(',').filter((m) => m !== '') };
    }
    return null;
  };
  try {
    const g = parse(readFileSync('/etc/group', 'utf8'));
    if (g) return g;
  } catch {
    // no /etc/group: ask getent
  }
  try {
    // Only asked for a group-writable file of one's own primary group: rare, and one short
    // call per command (memoised). Not a scheduler command, so not through the runner;
    // node:child_process (with net and the stream modules) is loaded only here, as read-only
    // commands check their allocations on every start (bench/README.md §Start-up).
    const { execFileSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
    return parse(execFileSync('getent', ['group', String(gid)], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return null;
  }
}

/** "user nobody (65534)" from /etc/passwd when it is there; only for messages. */
export function ownerName(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && Number(f[2]) === uid) return `user ${f[0]} (${uid})`;
    }
  } catch {
    // no passwd file
  }
  return `uid ${uid}`;
}

export function modeText(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

function check(st: Stats, user: UserId, rule: TrustRule, groups: GroupBook): string | null {
  const sticky = st.isDirectory() && (st.mode & 0o1000) !== 0;
  if (st.isSymbolicLink()) {
    // A symlink cannot be changed, only replaced; in a sticky folder its owner can do that.
    return rule.mode === 'strict' && st.uid !== user.uid && st.uid !== 0 ? `a symlink owned by ${ownerName(st.uid)}` : null;
  }
  if ((st.mode & 0o002) !== 0 && !sticky) return `writable by others (mode ${modeText(st)})`;
  if (rule.mode === 'shared') return null;
  if (st.uid !== user.uid && st.uid !== 0) return `owned by ${ownerName(st.uid)}, not by you or root`;
  if ((st.mode & 0o020) !== 0 && !sticky && !groups.isPrivate(st.gid)) return `writable by its group (gid ${st.gid}, mode ${modeText(st)})`;
  return null;
}

const MAX_SYMLINKS = 40;

/**
 * Walks `target` from "/" as the kernel resolves it and returns the first fault, or null.
 * A missing file is no fault (nothing to load); `expect` says what the target must be.
 * Synchronous `lstat`s (a handful, on every start): see probeAllocation in layout.ts.
 */
export async function pathFault(target: string, user: UserId, rule: TrustRule, groups = new GroupBook(user), expect: 'file' | 'dir' = 'file'): Promise<Fault | null> {
  if (!isAbsolute(target)) throw new Error(`pathFault: ${target} is not absolute`);
  let todo = target.split(sep).filter((s) => s !== '' && s !== '.');
  let cur: string = sep;
  const root = lstatSync(sep);
  const r = check(root, user, rule, groups);
  if (r) return { path: sep, why: r };
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '..') {
      cur = dirname(cur);
      continue;
    }
    const next = join(cur, name);
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      return { path: next, why: `cannot be examined (${errnoCode(e) ?? String(e)})` };
    }
    const why = check(st, user, rule, groups);
    if (why) return { path: next, why };
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return { path: next, why: 'too many symlinks on the way' };
      const to = readlinkSync(next);
      const parts = to.split(sep).filter((s) => s !== '' && s !== '.');
      if (isAbsolute(to)) cur = sep;
      todo = [...parts, ...todo];
      continue;
    }
    if (todo.length > 0) {
      if (!st.isDirectory()) return null; // ENOTDIR: nothing there to trust
      cur = next;
      continue;
    }
    if (expect === 'file' && !st.isFile()) return { path: next, why: 'not a regular file' };
    if (expect === 'dir' && !st.isDirectory()) return { path: next, why: 'not a folder' };
  }
  return null;
}

// ---- Allocations ----

/**
 * The home's `shared-allocations` list (spec/trust.md §Shared allocations): roots of
 * registered allocations whose group the user trusts with them. It lives in the home
 * allocation, which only the user can write, so the group cannot opt itself in.
 */
export function sharedList(home: Layout): ListFile {
  return {
    file: join(home.dir, 'shared-allocations'),
    check: (s) => (isAbsolute(s) && resolve(s) === s ? null : 'an absolute, normalised folder path'),
  };
}

export async function readShared(home: Layout): Promise<string[]> {
  return readList(sharedList(home));
}

export async function addShared(home: Layout, root: string): Promise<boolean> {
  return updateList(sharedList(home), (items) => (items.includes(root) ? { items: null, result: false } : { items: [...items, root], result: true }));
}

/**
 * Refuses an allocation whose state others could change (spec/trust.md §Allocations): the
 * folders from "/" to `.qdo` and `.qdo` itself. A shared allocation may be group-writable
 * and owned by a member; writable by everyone it may never be.
 */
export async function checkAllocation(l: Layout, user: UserId, o: { shared?: boolean; home?: boolean } = {}, groups = new GroupBook(user)): Promise<void> {
  const f = await pathFault(l.dir, user, { mode: o.shared ? 'shared' : 'strict' }, groups, 'dir');
  if (!f) return;
  const opt = o.home
    ? `make it yours alone (chmod go-w ${f.path}), or set QDO_HOME to a folder only you can change`
    : o.shared || f.why.startsWith('writable by others')
      ? `chmod o-w ${f.path}`
      : `make it yours alone (chmod g-w, or chown), or, if you share this allocation with your group on purpose: qdo init --shared-group ${l.root}`;
  throw new RepositoryError('untrusted-allocation', `${o.home ? 'home allocation' : 'allocation'} ${l.root}: ${f.path} is ${f.why}; whoever can change it could change your jobs, so qdo will not use it`, {
    hint: opt,
    data: { allocation: l.root, path: f.path },
  });
}

/**
 * Refuses a config file others could have written (spec/trust.md §Configs). The folders
 * above it are the allocation's (checkAllocation); a symlinked config is followed, folders
 * on the way included.
 */
export async function checkConfig(file: string, user: UserId, shared: boolean, groups = new GroupBook(user)): Promise<void> {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch {
    return; // absent: all defaults (other read errors are the reader's to report)
  }
  const rule: TrustRule = { mode: shared ? 'shared' : 'strict' };
  let f: Fault | null;
  if (st.isSymbolicLink()) f = await pathFault(file, user, rule, groups);
  else {
    const why = check(st, user, rule, groups);
    f = why ? { path: file, why } : null;
  }
  if (!f) return;
  throw new RepositoryError('untrusted-config', `${file}: ${f.path === file ? 'it' : f.path} is ${f.why}; qdo will not read a config others could have written`, {
    hint: f.why.startsWith('writable by') ? `chmod ${shared ? 'o-w' : 'go-w'} ${f.path}` : `chown it to yourself, or remove it`,
    data: { file, path: f.path },
  });
}

/**
 * Why a file may not run code in this process (a scheduler plugin module, or the config
 * that names one), or null: the strict rule all the way from "/", no shared relaxation.
 */
export async function codeFault(file: string, user: UserId, groups = new GroupBook(user)): Promise<Fault | null> {
  // A missing file is no fault: there is nothing to load (the loader then says so).
  return pathFault(file, user, { mode: 'strict' }, groups);
}

/** The owner of a file, or null if it is not there. */
export async function ownerOf(path: string): Promise<number | null> {
  try {
    return (await lstat(path)).uid;
  } catch {
    return null;
  }
}

/**
 * `qdo init --shared-group` on a `.qdo` it just made: folders group-writable with the setgid
 * bit (new files take the folder's group), files group-writable. Entries owned by others
 * are left as they are.
 */
export async function shareWithGroup(l: Layout): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.isSymbolicLink()) return;
    try {
      await chmod(p, st.isDirectory() ? (st.mode & 0o7777) | 0o2070 : (st.mode & 0o7777) | 0o060);
    } catch {
      return; // not ours
    }
    if (st.isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
  };
  await walk(l.dir);
}
