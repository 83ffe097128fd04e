// A file-system error on a path inside a `.qdo` folder is the store's condition, never an
// internal error (spec/exit-codes.md: 7): a file where a folder belongs, a folder where a
// file belongs, no permission, a full disk. The store turns those it expects into typed
// errors where they happen; this names the rest, with the path and what to do, so no
// damage to `.qdo` ever ends in exit 70.
import { RepositoryError, errnoCode } from '../errors.js';
import { openFileLimit } from '../util/limits.js';

const WHAT: Record<string, string> = {
  ENOTDIR: 'a file is where a folder belongs',
  EISDIR: 'a folder is where a file belongs',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EEXIST: 'something is already there that should not be',
  ENOENT: 'a file or folder is missing',
  ENOTEMPTY: 'a folder that should be empty is not',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EIO: 'an I/O error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EBUSY: 'the file is busy',
  EINVAL: 'an invalid argument (a damaged file?)',
};

/** The error as a typed store error, if it is a file-system error about a path in `.qdo`; else null. */
export function storeErrorOf(e: unknown): RepositoryError | null {
  const code = errnoCode(e);
  if (code === undefined || !(code in WHAT)) return null;
  const o = e as { path?: unknown; dest?: unknown };
  const path = [o.path, o.dest].find((p): p is string => typeof p === 'string' && /(^|\/)\.qdo(\/|$)/.test(p));
  if (path === undefined) return null;
  const full = code === 'ENOSPC' || code === 'EDQUOT';
  // Not damage: this process (EMFILE, under `ulimit -n`) or the system (ENFILE) has too many files open.
  const files = code === 'EMFILE' || code === 'ENFILE';
  return new RepositoryError(full ? 'no-space' : files ? 'too-many-files' : 'damaged-allocation', `${path}: ${WHAT[code]} (${code})`, {
    hint: full
      ? 'free some space, then run the command again (qdo fsck --repair removes what an interrupted command left)'
      : files
        ? `raise the limit on open files (ulimit -n${code === 'EMFILE' ? ', now ' + (openFileLimit() ?? 'unknown') : ''}; 1024 or more), then run the command again (qdo fsck --repair removes what an interrupted command left)`
        : 'qdo fsck shows what is damaged and qdo fsck --repair fixes what it can; check the owner and permissions of the .qdo folder',
    cause: e,
    data: { path, errno: code },
  });
}
