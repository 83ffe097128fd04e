// `qdo pull SOURCE PROJECT [GLOB]`: copies files into a project with rsync, never deleting
// anything at the destination. SOURCE is, in this order:
//   1. `host:path` (a colon before any slash, as rsync reads it) or `rsync://…`: remote;
//   2. a path written as one (absolute, or starting with ./ or ../, or . or ..): local;
//   3. a registered project's name: that project's folder (in whatever allocation);
//   4. a job revision (`p/j`, `p/j@2`, an id prefix): that version's run folder;
//   5. else an existing local folder or file; otherwise the revision's error stands.
// The destination is `<PROJECT folder>/pulled/<label>/` (label: the source's last path
// segment, or `<job>@<version>` for a revision; a single file goes into `pulled/`), or --to DIR.
// A revision whose run folder was dropped after archiving is copied from the archive.
// Without PROJECT, archived versions are fetched back into their own run folders
// (core/archive.ts restoreArchived).
import { mkdir, rmdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import type { Context } from '../context.js';
import { ExitCode, NotFoundError, QdoError, UsageError } from '../errors.js';
import type { Runner } from '../scheduler/runner.js';
import { runDirOfJob, type JobVersion } from './jobs.js';
import { existingRunDir, selectOne } from './run-folder.js';
import { allAllocations, locateProject, projectIndex } from './world.js';
import { statOrNull } from '../util/fs.js';

export const PULLED_DIR = 'pulled';

export type SourceKind = 'remote' | 'path' | 'project' | 'job';

export interface PullRequest {
  source: string;
  project: string;
  glob?: string;
  /** Destination folder instead of `<project>/pulled/<label>` (relative to cwd). */
  to?: string;
  dryRun?: boolean;
  runner?: Runner;
}

export interface PullPlan {
  kind: SourceKind;
  /** The source as rsync gets it: a folder ends with `/` (its content is copied). */
  source: string;
  job: JobVersion | null;
  /** The source is the job's copy in its archive. */
  fromArchive: boolean;
  destination: string;
  argv: string[];
}

export interface PulledFile {
  path: string;
  size: number;
}

export interface PullResult {
  plan: PullPlan;
  dryRun: boolean;
  files: PulledFile[];
  bytes: number;
}

/** rsync's own rule: a colon before the first slash makes a path remote. */
export function isRemote(source: string): boolean {
  return /^[^/:]+:/.test(source);
}

function looksLikePath(source: string): boolean {
  return isAbsolute(source) || source === '.' || source === '..' || source.startsWith('./') || source.startsWith('../');
}

/**
 * GLOB (the `qdo artifacts` syntax: without `/` it matches a name at any depth, with `/`
 * the path from the source folder; `**` spans folders, also none) → rsync filter rules.
 * rsync anchors a pattern with a leading `/`, and its `/**\/` needs at least one folder,
 * so each `**\/` is also tried removed. Folders are always entered (`*\/`) and pruned
 * when nothing in them matched (-m).
 */
export function rsyncFilters(glob: string | undefined): string[] {
  if (glob === undefined || glob === '**') return [];
  if (glob === '' || glob.startsWith('/') || glob.split('/').includes('..') || /[{}]/.test(glob)) {
    throw new UsageError(`GLOB: expected a pattern relative to the source folder using *, ?, [...] and ** (like "*.csv" or "out/**"), found ${JSON.stringify(glob)}`, { code: 'bad-glob' });
  }
  const patterns = new Set<string>();
  if (!glob.includes('/')) patterns.add(glob);
  else {
    const parts = glob.split('**/');
    if (parts.length > 5) throw new UsageError(`GLOB: at most 4 "**/" in ${JSON.stringify(glob)}`, { code: 'bad-glob' });
    // Every way of keeping or dropping each `**/`.
    for (let mask = 0; mask < 1 << (parts.length - 1); mask++) {
      let p = parts[0]!;
      for (let i = 1; i < parts.length; i++) p += (mask & (1 << (i - 1)) ? '**/' : '') + parts[i]!;
      patterns.add('/' + p);
    }
  }
  return ['--include=*/', ...[...patterns].map((p) => `--include=${p}`), '--exclude=*', '--prune-empty-dirs'];
}

/** Lines rsync prints with --out-format='qdo %i %l %n': transferred (or, dry, to transfer) files. */
export function parseRsyncOutput(stdout: string): PulledFile[] {
  const out: PulledFile[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^qdo (\S+) (\d+) (.*)$/.exec(line);
    if (!m || m[1]![1] !== 'f') continue; // folders, links and other entries
    out.push({ path: m[3]!, size: Number(m[2]) });
  }
  return out;
}


function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

interface Source {
  kind: SourceKind;
  path: string;
  label: string;
  job: JobVersion | null;
  isDir: boolean;
  /** A job's copy in its archive (its run folder is gone). */
  archive?: boolean;
}

async function localSource(ctx: Context, text: string): Promise<Source> {
  const abs = resolve(ctx.cwd, text);
  const st = await statOrNull(abs);
  if (!st) throw new NotFoundError('no-such-file', `SOURCE ${abs} does not exist`);
  return { kind: 'path', path: abs, label: basename(abs), job: null, isDir: st.isDirectory() };
}

async function resolveSource(ctx: Context, text: string): Promise<Source> {
  if (text === '') throw new UsageError('SOURCE is empty: give a folder, host:path, a project or a job');
  if (isRemote(text)) {
    const path = text.replace(/^[^/:]+:/, '').replace(/\/+$/, '');
    const label = basename(path) || text.replace(/:.*$/, '').replace(/^.*@/, '');
    return { kind: 'remote', path: text, label, job: null, isDir: true };
  }
  if (looksLikePath(text)) return localSource(ctx, text);
  const allocs = await allAllocations(ctx);
  const project = projectIndex(allocs).get(text);
  if (project) {
    if (!(await statOrNull(project.dir))?.isDirectory()) throw new NotFoundError('no-such-file', `project ${text}'s folder ${project.dir} does not exist`);
    return { kind: 'project', path: project.dir, label: basename(project.dir), job: null, isDir: true };
  }
  let j: JobVersion;
  try {
    j = await selectOne(ctx, text, 'pull');
  } catch (e) {
    if (!(e instanceof QdoError) || (e.exitCode !== ExitCode.notFound && e.exitCode !== ExitCode.usage)) throw e;
    if (await statOrNull(resolve(ctx.cwd, text))) return localSource(ctx, text);
    throw new QdoError(e.code, e.exitCode, `SOURCE ${JSON.stringify(text)} is no folder, project or job: ${e.message}`, {
      hint: e.hint ?? 'write a folder as ./NAME or an absolute path, a remote one as host:path',
    });
  }
  const path = await runFolderOrArchive(j);
  return { kind: 'job', path, label: `${j.name}@${j.version}`, job: j, isDir: true, archive: path !== runDirOfJob(j) };
}

/** A job's run folder; if it is gone and the version was archived, its copy in the archive (spec/config.md §Archive). */
async function runFolderOrArchive(j: JobVersion): Promise<string> {
  try {
    return await existingRunDir(j);
  } catch (e) {
    const ar = j.sub?.archived as { to?: unknown } | undefined;
    if (!(e instanceof NotFoundError) || typeof ar?.to !== 'string') throw e;
    const { relRunDir } = await import('./archive.js');
    return `${ar.to}/${relRunDir(j)}`;
  }
}

export async function planPull(ctx: Context, req: PullRequest): Promise<PullPlan> {
  const filters = rsyncFilters(req.glob);
  const target = await locateProject(ctx, req.project);
  const src = await resolveSource(ctx, req.source);
  if (src.label === '' || src.label === '.' || src.label === '..' || src.label === '/') {
    throw new UsageError(`cannot name a destination after SOURCE ${JSON.stringify(req.source)}`, { code: 'no-destination', hint: 'give one with --to DIR' });
  }
  // A folder's content goes into a folder named after it; a single file into pulled/ itself.
  const destination = req.to !== undefined ? resolve(ctx.cwd, req.to) : src.isDir ? resolve(target.dir, PULLED_DIR, src.label) : resolve(target.dir, PULLED_DIR);
  if (src.kind !== 'remote' && !isRemote(src.path) && src.isDir && inside(destination, src.path)) {
    throw new UsageError(`the destination ${destination} is inside SOURCE ${src.path}: it would copy into itself`, { code: 'pull-into-source', hint: 'give another destination with --to DIR' });
  }
  if (!src.isDir && filters.length > 0) throw new UsageError(`GLOB applies to a folder; SOURCE ${src.path} is a file`, { code: 'bad-glob' });
  const source = src.isDir ? src.path.replace(/\/*$/, '/') : src.path;
  const argv = ['rsync', '-a', '--out-format=qdo %i %l %n', ...(req.dryRun ? ['--dry-run'] : []), ...filters, '--', source, destination + '/'];
  return { kind: src.kind, source, job: src.job, fromArchive: src.archive === true, destination, argv };
}

export async function pull(ctx: Context, req: PullRequest): Promise<PullResult> {
  const plan = await planPull(ctx, req);
  const dryRun = req.dryRun === true;
  // rsync before 3.2.3 creates only the last folder of the destination.
  const created = dryRun ? undefined : await mkdir(plan.destination, { recursive: true });
  const { runCommand } = await import('../scheduler/runner.js');
  const run = req.runner ?? runCommand;
  let stdout: string;
  try {
    // A copy takes as long as it takes: no timeout; rsync is not retried (its own errors are final).
    stdout = (await run(plan.argv, { timeoutMs: 0, retries: 0, transient: [], env: definedEnv(ctx) })).stdout;
  } catch (e) {
    if (created !== undefined) await removeEmptyUpTo(plan.destination, created);
    throw rsyncError(e, plan);
  }
  const files = parseRsyncOutput(stdout);
  return { plan, dryRun, files, bytes: files.reduce((n, f) => n + f.size, 0) };
}

/** The command's environment for rsync (RSYNC_RSH, SSH_AUTH_SOCK, PATH come from it). */
function definedEnv(ctx: Context): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined) env[k] = v;
  return env;
}

/** Undoes the folders this pull made, if rsync put nothing in them. */
async function removeEmptyUpTo(dir: string, top: string): Promise<void> {
  for (let d = dir; inside(d, top); d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return; // not empty: keep it and everything above
    }
    if (d === top) return;
  }
}

function rsyncError(e: unknown, plan: PullPlan): unknown {
  if (!(e instanceof QdoError)) return e;
  if (e.code === 'scheduler-command-missing') {
    return new QdoError('rsync-missing', ExitCode.scheduler, 'qdo pull copies with rsync, and rsync is not installed or not on PATH', {
      hint: 'install rsync (e.g. apt install rsync, dnf install rsync, or module load rsync)',
    });
  }
  const code = typeof e.data.exitCode === 'number' ? e.data.exitCode : null;
  const stderr = typeof e.data.stderr === 'string' ? e.data.stderr.trim() : '';
  const said = stderr.split('\n').filter((l) => l.trim() !== '').slice(0, 3).join('; ');
  const why = code === 23 ? 'some files could not be copied' : code === 255 || code === 12 ? 'the remote side could not be reached' : `rsync exited with ${code ?? 'a signal'}`;
  return new QdoError('rsync-failed', ExitCode.scheduler, `copying ${plan.source} to ${plan.destination} failed: ${why}${said ? `: ${said}` : ''}`, {
    hint: 'files already copied are kept; running the same qdo pull again copies only what is missing',
    data: { command: plan.argv, exitCode: code, stderr },
  });
}
