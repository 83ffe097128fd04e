// One job version's run folder and its task folders (spec/layout.md §Project folders;
// spec/scheduler-common.md §Records, §Array jobs): what `qdo logs`, `qdo path`,
// `qdo artifacts` and `qdo pull` read. The wrapper creates a task folder when the task
// starts, so an array element that has not started has no folder yet.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { NotFoundError, UsageError, errnoCode } from '../errors.js';
import { readManifest } from '../store/manifests.js';
import { fullName, runDirOfJob, selectJobs, type JobVersion } from './jobs.js';

/** `p/j@3`: how messages name one version. */
export function versionName(j: JobVersion): string {
  return `${fullName(j)}@${j.version}`;
}

export function stateOf(j: JobVersion): string {
  return j.sub ? j.sub.state : 'unsubmitted';
}

/**
 * The one job version a command about a single version means. A pattern or project is
 * accepted if it selects exactly one job; more is a usage error naming them.
 */
export async function selectOne(ctx: Context, rev: string, what: string): Promise<JobVersion> {
  const sel = await selectJobs(ctx, [rev], what);
  if (sel.jobs.length !== 1) {
    const names = sel.jobs.map(fullName).sort();
    throw new UsageError(`${what}: "${rev}" matches ${names.length} jobs; give one`, {
      code: 'ambiguous-job',
      hint: `matching: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`,
    });
  }
  return sel.jobs[0]!;
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return false;
    throw e;
  }
}

/** The array index spec of a version ("1-10"), or undefined for a plain job. */
export async function arrayOf(j: JobVersion): Promise<string | undefined> {
  if (j.sub) return typeof j.sub.array === 'string' ? j.sub.array : undefined;
  return (await readManifest(j.layout, j.id)).resources.array;
}

/** Every index an array spec names, or null if it cannot be expanded here (too many, odd syntax). */
export async function arrayIndices(spec: string): Promise<number[] | null> {
  const { expandArray } = await import('../scheduler/local/directives.js');
  try {
    return expandArray(spec).indices;
  } catch {
    return null;
  }
}

/** The run folder; NotFoundError `no-run-folder` (exit 3) if it does not exist. */
export async function existingRunDir(j: JobVersion): Promise<string> {
  const dir = runDirOfJob(j);
  if (await isDir(dir)) return dir;
  throw new NotFoundError('no-run-folder', `${versionName(j)} has no run folder (${dir})`, {
    hint:
      j.sub === null
        ? 'this version was recorded without being submitted (plumbing)'
        : j.sub.state === 'submitting' || j.sub.state === 'not-submitted'
          ? `it is ${j.sub.state}`
          : typeof (j.sub.archived as { to?: unknown } | undefined)?.to === 'string'
            ? `it was archived to ${(j.sub.archived as { to: string }).to} and dropped here; fetch it back with: qdo pull ${versionName(j)}`
            : 'it was removed (qdo gc?) or the job ran from another copy of this allocation',
  });
}

export interface TaskDir {
  /** Array index as text ("3"), or null for a plain job. */
  index: string | null;
  dir: string;
}

function checkIndex(task: string): string {
  if (!/^\d+$/.test(task)) throw new UsageError(`--task: expected an array index (a number), found ${JSON.stringify(task)}`, { code: 'bad-task' });
  return String(Number(task));
}

/**
 * The task folders of a version: the run folder itself for a plain job; for an array
 * job the `<index>` folders, all that exist (sorted by index) or the one `task` names.
 * `task` on a plain job is a usage error; an index outside the array is `no-such-task`.
 * A named task folder is returned even if it does not exist yet (it will when the task starts).
 */
export async function taskDirs(j: JobVersion, runDir: string, task?: string): Promise<TaskDir[]> {
  const array = await arrayOf(j);
  if (array === undefined) {
    if (task !== undefined) throw new UsageError(`--task: ${versionName(j)} is not an array job`, { code: 'not-an-array' });
    return [{ index: null, dir: runDir }];
  }
  if (task !== undefined) {
    const index = checkIndex(task);
    const all = await arrayIndices(array);
    if (all && !all.includes(Number(index))) {
      throw new NotFoundError('no-such-task', `${versionName(j)} has no task ${index} (its array is ${array})`);
    }
    return [{ index, dir: join(runDir, index) }];
  }
  const names = (await readdir(runDir, { withFileTypes: true })).filter((d) => d.isDirectory() && /^\d+$/.test(d.name)).map((d) => d.name);
  return names.sort((a, b) => Number(a) - Number(b)).map((index) => ({ index, dir: join(runDir, index) }));
}

/** `qdo path`: the run folder, or one task's folder; NotFoundError if it does not exist (yet). */
export async function pathOf(ctx: Context, rev: string, task?: string): Promise<{ job: JobVersion; path: string }> {
  const j = await selectOne(ctx, rev, 'path');
  const runDir = await existingRunDir(j);
  if (task === undefined) return { job: j, path: runDir };
  const [t] = await taskDirs(j, runDir, task);
  if (!(await isDir(t!.dir))) {
    throw new NotFoundError('no-run-folder', `task ${t!.index} of ${versionName(j)} has no folder yet (${t!.dir})`, { hint: `it is created when the task starts; the job is ${stateOf(j)}` });
  }
  return { job: j, path: t!.dir };
}
