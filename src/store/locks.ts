// Every lock option lives here (spec/locking.md). Locks are proper-lockfile's mkdir locks:
// `<target>.lock` is a folder whose mtime the holder refreshes; one older than STALE_MS
// is stale and may be taken over. Locks guard short read-check-write sections only and are
// never held across a scheduler call or any other slow operation.
import { BusyError, RepositoryError, errnoCode } from '../errors.js';

export const LOCK_SUFFIX = '.lock';
export const STALE_MS = 10_000;
const UPDATE_MS = 2_000;
// ~100 tries, 5..200 ms apart with jitter: about 15 s before giving up with "busy".
const RETRIES = { retries: 100, factor: 1.25, minTimeout: 5, maxTimeout: 200, randomize: true };

export function lockPathFor(target: string): string {
  return target + LOCK_SUFFIX;
}

/** Runs `fn` holding the lock on `target` (which need not exist). */
export async function withLock<T>(target: string, fn: () => Promise<T>, retries = RETRIES): Promise<T> {
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  // Loaded on first use: commands that only read never pay for it (or for graceful-fs).
  const lockfile = (await import('proper-lockfile')).default;
  try {
    release = await lockfile.lock(target, {
      realpath: false,
      lockfilePath: lockPathFor(target),
      stale: STALE_MS,
      update: UPDATE_MS,
      retries,
      onCompromised: (err) => {
        compromised = err;
      },
    });
  } catch (e) {
    if (errnoCode(e) === 'ELOCKED') {
      throw new BusyError('locked', `${target} is locked by another qdo process`, {
        hint: `if no qdo is running, the lock ${lockPathFor(target)} is stale: qdo fsck --repair removes it`,
      });
    }
    if (errnoCode(e) === 'ENOENT') {
      throw new RepositoryError('missing-folder', `cannot lock ${target}: its folder does not exist`);
    }
    throw e;
  }
  try {
    const result = await fn();
    if (compromised) throw lockCompromised(target, compromised);
    return result;
  } finally {
    await release().catch((e) => {
      // Releasing a lock someone else took over is the compromised case reported above.
      if (errnoCode(e) !== 'ERELEASED' && errnoCode(e) !== 'ENOTACQUIRED' && !compromised) throw e;
    });
  }
}

function lockCompromised(target: string, cause: Error): RepositoryError {
  return new RepositoryError('lock-compromised', `the lock on ${target} was lost while held (${cause.message})`, {
    hint: 'another process took it over as stale; re-run the command and check with qdo fsck',
    cause,
  });
}
