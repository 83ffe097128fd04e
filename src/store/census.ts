// What `qdo doctor` reads of an allocation's `.qdo` beyond the usual: the locks held right
// now and who holds them, and the time of its file system (man/qdo-doctor.1).
import { access, constants, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { tempPathFor } from './atomic.js';
import type { Layout } from './layout.js';
import { LOCK_SUFFIX, readLockFolder } from './locks.js';

export interface LockHolder {
  host: string;
  pid: number;
  /** The process's start time as recorded, or null. */
  start: string | null;
}

export interface HeldLock {
  /** The lock folder. */
  path: string;
  /** What it guards (the path without `.lock`). */
  target: string;
  /** Last refreshed: holders refresh it every few seconds (spec/locking.md). */
  mtime: Date;
  holder: LockHolder | null;
}

function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v.host !== 'string' || typeof v.pid !== 'number') return null;
    return { host: v.host, pid: v.pid, start: typeof v.start === 'string' ? v.start : null };
  } catch {
    return null;
  }
}

/** Every lock folder under `.qdo` (objects/ aside: nothing locks there). */
export async function listLocks(l: Layout): Promise<HeldLock[]> {
  const out: HeldLock[] = [];
  const walk = async (dir: string): Promise<void> => {
    let names: import('node:fs').Dirent[];
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw e;
    }
    for (const d of names) {
      if (!d.isDirectory()) continue;
      const p = join(dir, d.name);
      if (d.name.endsWith(LOCK_SUFFIX)) {
        const st = await stat(p).catch(() => null);
        if (!st) continue; // released while we looked
        // Refreshed: the later of the folder's and its holder file's mtime (spec/locking.md §Stale).
        const seen = await readLockFolder(p, st);
        const holder = seen.line === null ? null : parseHolder(seen.line);
        out.push({ path: p, target: p.slice(0, -LOCK_SUFFIX.length), mtime: new Date(seen.mtimeMs), holder });
      } else if (p !== l.objects) await walk(p);
    }
  };
  await walk(l.dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * The file system's idea of now: the modification time it gives a file written now (a
 * temp file in `cache/`, removed at once). Compared with the host's clock, it shows the
 * skew between this host and the file server.
 */
export async function fileSystemTime(l: Layout): Promise<Date> {
  await mkdir(l.cache, { recursive: true });
  const tmp = tempPathFor(join(l.cache, 'clock'));
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile('clock probe\n');
  } finally {
    await fh.close();
  }
  try {
    return (await stat(tmp)).mtime;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

export interface Permissions {
  /** This user may create and replace files in `.qdo`. */
  writable: boolean;
  /** Mode bits of the allocation folder and of `.qdo`. */
  rootMode: number;
  dirMode: number;
  /** Owner of `.qdo`. */
  uid: number;
}

export async function permissionsOf(l: Layout): Promise<Permissions> {
  const [root, dir] = await Promise.all([stat(l.root), stat(l.dir)]);
  const writable = await access(l.dir, constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
  return { writable, rootMode: root.mode & 0o7777, dirMode: dir.mode & 0o7777, uid: dir.uid };
}
