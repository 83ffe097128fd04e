// The local backend's spool folder, node side (spec/local-backend.md §Spool). The bash
// side (spool-script.ts) shares the layout, the lock and the record formats below.
import { existsSync, fchmodSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BusyError, RepositoryError, SchedulerError, errnoCode } from '../../errors.js';
import { SPOOL_SCRIPT, SPOOL_SCRIPT_NAME } from './spool-script.js';
import { closePendingFiles, discardPendingFiles, installPendingFile, writeFileAtomic, writePendingFile } from '../../util/atomic-file.js';

export const SPOOL_FORMAT = 1;

export class SpoolPaths {
  constructor(readonly root: string) {}
  get format(): string {
    return join(this.root, 'format');
  }
  get config(): string {
    return join(this.root, 'config.env');
  }
  get script(): string {
    return join(this.root, 'bin', SPOOL_SCRIPT_NAME);
  }
  get lock(): string {
    return join(this.root, 'lock');
  }
  get dirty(): string {
    return join(this.root, 'dirty');
  }
  get lastId(): string {
    return join(this.root, 'last-id');
  }
  get queue(): string {
    return join(this.root, 'queue');
  }
  get running(): string {
    return join(this.root, 'running');
  }
  job(id: number): string {
    return join(this.root, 'jobs', String(id));
  }
  task(id: number, task: string): string {
    return join(this.job(id), 'tasks', task);
  }
}

/** Queue/running entry name: sorts in submission order (same as key_of in the script). */
export function entryKey(id: number, task: string): string {
  const p = (n: number): string => String(n).padStart(10, '0');
  return task === 'main' ? p(id) : `${p(id)}.${p(Number(task))}`;
}

/**
 * Whole-file write by the one atomic writer (src/util/atomic-file.ts), without fsync: the
 * spool's bookkeeping is rewritten by the next dispatch pass, and jobs write their own
 * records durably.
 */
export async function putFile(path: string, text: string, mode = 0o644): Promise<void> {
  await writeFileAtomic(path, text, { mode, exactMode: true, durable: false });
}

/**
 * putFile without the thread pool: for the many small files one call writes (a cancel of an
 * array of 10^4 queued tasks writes a result for each), where each file's round trips
 * through the promise API cost more than its few system calls.
 */
export function putFileSync(path: string, text: string, mode = 0o644): void {
  const f = writePendingFile(path, Buffer.from(text), { mode });
  try {
    fchmodSync(f.fd, mode);
    closePendingFiles([f]);
    installPendingFile(f);
  } catch (e) {
    closePendingFiles([f]);
    discardPendingFiles([f]);
    throw e;
  }
}

export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
    // A folder or an unreadable file in the spool is damage, not a bug (spec/exit-codes.md: 7).
    throw new RepositoryError('damaged-allocation', `the local backend's spool file ${path} cannot be read: ${errnoCode(e) ?? String(e)}`, { hint: 'move it away; qdo fsck reports what else is damaged' });
  }
}

import { exists } from '../../util/fs.js';
export { exists };

/** The process exists and is not a zombie (some inits are slow to reap orphans). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (errnoCode(e) !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill -0 is all we have
  }
}

/**
 * Whether `pid` is still the shepherd of task `task` of job `id` of the spool at `root`
 * (spec/local-backend.md §Shepherd): alive, and, where /proc shows command lines, running
 * `<script> shepherd <spool> <id> <task>`. A running entry outlives a shepherd killed with
 * -9 or a machine restart, and the kernel then gives its pid to another process: qdo never
 * signals a process it did not start (a cancel must not TERM someone else's program).
 */
export function isShepherd(pid: number, root: string, id: number, task: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // No /proc (macOS): kill -0 is all there is. With /proc, the process just ended.
    return !existsSync('/proc/self/cmdline');
  }
  const argv = cmdline.split('\0');
  const at = argv.indexOf('shepherd');
  return at > 0 && argv[at + 2] === String(id) && argv[at + 3] === task && sameSpool(argv[at + 1], root);
}

function sameSpool(a: string | undefined, root: string): boolean {
  if (a === undefined) return false;
  if (a === root) return true;
  try {
    return realpathSync(a) === realpathSync(root);
  } catch {
    return false;
  }
}

/** Creates the spool (or checks its format) and installs the current script and slot count. */
export async function prepareSpool(p: SpoolPaths, slots: number): Promise<void> {
  await mkdir(join(p.root, 'bin'), { recursive: true });
  await mkdir(p.queue, { recursive: true });
  await mkdir(p.running, { recursive: true });
  await mkdir(join(p.root, 'jobs'), { recursive: true });
  const fmt = await readText(p.format);
  if (fmt === undefined) await putFile(p.format, `${SPOOL_FORMAT}\n`);
  else if (!/^\d+\s*$/.test(fmt) || Number(fmt) > SPOOL_FORMAT) {
    throw new SchedulerError('local-spool-format', `local spool ${p.root} has format ${JSON.stringify(fmt.trim())}; this qdo understands up to ${SPOOL_FORMAT}`, {
      hint: 'use the newer qdo that created it',
    });
  }
  // Replaced by rename, never in place: a running shepherd keeps reading its old copy.
  if ((await readText(p.script)) !== SPOOL_SCRIPT) await putFile(p.script, SPOOL_SCRIPT, 0o755);
  const config = `slots=${slots}\n`;
  if ((await readText(p.config)) !== config) await putFile(p.config, config);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Breaks a stale dispatch lock (§Lock) judged by the pid text it held: under the break lock
 * `lock.break`, and only if the lock still holds that text. Two waiters that judged the same
 * dead owner together thereby break it once, and never the fresh lock one of them took.
 */
async function breakStale(p: SpoolPaths, judged: string | undefined): Promise<void> {
  const br = join(p.root, 'lock.break');
  try {
    await mkdir(br);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    // Held for a few file operations; one left by a killed breaker goes after 10 s.
    const st = await stat(br).catch(() => undefined);
    if (st !== undefined && Date.now() - st.mtimeMs > 10_000) await rm(br, { recursive: true, force: true });
    return;
  }
  try {
    const again = await readText(join(p.lock, 'pid'));
    if (again !== judged) return; // another owner since: judged again on the next try
    if (again === undefined) {
      const st = await stat(p.lock).catch(() => undefined);
      if (st === undefined || Date.now() - st.mtimeMs <= 60_000) return;
    }
    const away = `${p.root}/.lock-stale-${process.pid}`;
    await rename(p.lock, away).then(
      () => rm(away, { recursive: true, force: true }),
      () => undefined,
    );
  } finally {
    await rm(br, { recursive: true, force: true });
  }
}

/**
 * Runs fn holding the dispatch lock (§Lock): the same mkdir lock the script uses, with
 * this process's pid inside. A lock whose owner is dead is broken by renaming it away.
 * Returns whether a dispatch pass was requested meanwhile (the `dirty` mark).
 */
export async function withSpoolLock<T>(p: SpoolPaths, fn: () => Promise<T>, timeoutMs = 10_000): Promise<{ value: T; dirty: boolean }> {
  const t0 = Date.now();
  for (;;) {
    try {
      await mkdir(p.lock);
      break;
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
    const pidText = await readText(join(p.lock, 'pid'));
    const pid = pidText === undefined ? NaN : Number(pidText.trim());
    let stale = false;
    if (Number.isInteger(pid) && pid > 0) stale = !pidAlive(pid);
    else {
      const st = await stat(p.lock).catch(() => undefined);
      stale = st !== undefined && Date.now() - st.mtimeMs > 60_000;
    }
    if (stale) {
      await breakStale(p, pidText);
      continue;
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new BusyError('local-spool-busy', `the local backend's spool ${p.root} stayed locked for ${timeoutMs / 1000} s (by pid ${pidText?.trim() ?? '?'})`, {
        hint: `if no qdo or job process is running, remove ${p.lock}`,
      });
    }
    await sleep(20);
  }
  let value: T;
  try {
    await writeFile(join(p.lock, 'pid'), `${process.pid}\n`);
    value = await fn();
  } finally {
    await rm(p.lock, { recursive: true, force: true });
  }
  // Checked after letting go: a pass requested while we held the lock is ours to start.
  return { value, dirty: await exists(p.dirty) };
}
