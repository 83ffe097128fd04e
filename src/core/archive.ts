// Archives (spec/config.md §Archive; spec/porcelain.md §qdo archive): a project's finished
// run folders are copied, with rsync, to another allocation or to `host:path`, at the
// same allocation-relative path (`<target>/<project>/runs/<job>/<version>-<id[0:8]>/`),
// verified, and recorded in the version's submission record (`archived`). Local copies
// of archived versions can then be dropped (`qdo gc --archived`) and fetched back
// (`qdo pull REV`).
//
// Verification is rsync's own: the copy is run again with --dry-run (and --checksum when
// asked); the archive holds the run folder when that would send no file and make no
// folder, i.e. every regular file is there with the same size and modification time (or
// the same content). A run folder is only ever removed right after such a check.
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Context } from '../context.js';
import { ExitCode, NotFoundError, QdoError, UsageError } from '../errors.js';
import { archiveTargetProblem, archivedPath, isRemoteTarget, type ArchiveSetting, type ArchivedField } from '../model/archive.js';
import type { AllocationConfig } from '../model/config.js';
import { isTerminal } from '../model/states.js';
import type { Submission } from '../model/submission.js';
import { readConfig, readProjectConfig, projectConfigPath } from '../store/config.js';
import { changeSubmission } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import { fullName, historyOf, listLatest, runDirOfJob, selectJobs, type JobVersion } from './jobs.js';
import { parseRsyncOutput } from './pull.js';
import { allAllocations, homeAllocation, type Allocation } from './world.js';
import { statOrNull } from '../util/fs.js';

export interface ArchiveTarget extends ArchiveSetting {
  /** Where the setting came from, for messages: a config file, or `--to`. */
  from: string;
}

export interface ArchiveOptions {
  runner?: Runner;
  /** Verify contents (rsync --checksum) instead of size and modification time. */
  checksum?: boolean;
  dryRun?: boolean;
}

// ---- Settings ----

type ConfigReader = (file: string, read: () => Promise<AllocationConfig>) => Promise<AllocationConfig>;

/** Reads each config file once per command (several versions of one project ask the same). */
export function configCache(): ConfigReader {
  const seen = new Map<string, Promise<AllocationConfig>>();
  return (file, read) => {
    let p = seen.get(file);
    if (!p) seen.set(file, (p = read()));
    return p;
  };
}

/**
 * The archive of a job's project (spec/config.md §Archive): the project's config, then its
 * allocation's, then the home's; `false` in one of them stops the search. Null: none.
 */
export async function archiveSettingOf(ctx: Context, j: Pick<JobVersion, 'layout' | 'project'>, read: ConfigReader = configCache()): Promise<ArchiveTarget | null> {
  const l = j.layout;
  const home = await homeAllocation(ctx);
  const layers: [string, () => Promise<AllocationConfig>][] = [
    [projectConfigPath(l, j.project), () => readProjectConfig(l, j.project, ctx.user)],
    [l.config, () => readConfig(l, ctx.user)],
  ];
  if (home.root !== l.root) layers.push([home.config, () => readConfig(home, ctx.user)]);
  for (const [file, r] of layers) {
    const a = (await read(file, r)).archive;
    if (a === null) return null;
    if (a !== undefined) return { ...a, from: file };
  }
  return null;
}

/**
 * Checks a target before anything is copied: `host:path` is taken as it is (rsync and ssh
 * decide); a local path must be a registered, reachable allocation other than the job's
 * own, so that `qdo alloc move` knows of it.
 */
export function checkTarget(t: ArchiveTarget, j: JobVersion, allocs: Allocation[]): void {
  const problem = archiveTargetProblem(t.to);
  if (problem) throw new UsageError(`archive ${JSON.stringify(t.to)} (${t.from}): expected ${problem}`, { code: 'bad-archive' });
  if (isRemoteTarget(t.to)) return;
  const a = allocs.find((x) => x.root === t.to);
  if (!a) {
    throw new UsageError(`archive ${t.to} (${t.from}) is not a registered allocation`, { code: 'bad-archive', hint: `make it one with: qdo init ${t.to} (or name a remote folder as host:path)` });
  }
  if (!a.layout) throw new QdoError('archive-unreachable', ExitCode.scheduler, `archive ${t.to} cannot be read: ${a.problem}`, { hint: 'mount it and run qdo archive again' });
  if (a.root === j.layout.root) throw new UsageError(`archive ${t.to} (${t.from}) is the allocation of ${fullName(j)} itself`, { code: 'bad-archive' });
}

/** The run folder relative to its allocation root: the same path under the archive. */
export function relRunDir(j: JobVersion): string {
  return relative(j.layout.root, runDirOfJob(j));
}

// ---- rsync command lines (pure) ----

const OUT_FORMAT = '--out-format=qdo %i %l %n';

/** Copy (or, dry, compare) a run folder to the archive, making the folders on the way (`-R`: `root/./rel/`). */
export function copyArgv(root: string, rel: string, to: string, o: { dryRun?: boolean; checksum?: boolean } = {}): string[] {
  return ['rsync', '-a', '-R', OUT_FORMAT, ...(o.dryRun ? ['--dry-run'] : []), ...(o.checksum ? ['--checksum'] : []), '--', `${root}/./${rel}/`, `${to}/`];
}

/** Fetch an archived run folder's content into `dest`. */
export function fetchArgv(to: string, rel: string, dest: string, o: { dryRun?: boolean } = {}): string[] {
  return ['rsync', '-a', OUT_FORMAT, ...(o.dryRun ? ['--dry-run'] : []), '--', `${archivedPath(to, rel)}/`, `${dest}/`];
}

/**
 * What a verifying dry run would still do: files to send (`<f`, `>f`) and folders or links
 * to create (`c…`). Attribute-only lines (`.d..t…`: a folder's time) are not missing data.
 */
export function unverifiedItems(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^qdo (\S+) \d+ (.*)$/.exec(line);
    if (m && /^[<>c]/.test(m[1]!)) out.push(m[2]!);
  }
  return out;
}

// ---- Running rsync ----

function envOf(ctx: Context): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined) env[k] = v;
  return env;
}

async function rsync(ctx: Context, argv: string[], runner: Runner | undefined, what: string): Promise<string> {
  const run = runner ?? (await import('../scheduler/runner.js')).runCommand;
  try {
    // A copy takes as long as it takes; rsync's own errors are final (no retry).
    return (await run(argv, { timeoutMs: 0, retries: 0, transient: [], env: envOf(ctx) })).stdout;
  } catch (e) {
    throw rsyncFailure(e, what);
  }
}

function rsyncFailure(e: unknown, what: string): unknown {
  if (!(e instanceof QdoError)) return e;
  if (e.code === 'scheduler-command-missing') {
    return new QdoError('rsync-missing', ExitCode.scheduler, 'archives are copied with rsync, and rsync is not installed or not on PATH', {
      hint: 'install rsync (e.g. apt install rsync, dnf install rsync, or module load rsync)',
    });
  }
  const code = typeof e.data.exitCode === 'number' ? e.data.exitCode : null;
  const stderr = typeof e.data.stderr === 'string' ? e.data.stderr.trim() : '';
  const said = stderr.split('\n').filter((l) => l.trim() !== '').slice(0, 3).join('; ');
  const why = code === 23 ? 'some files could not be copied' : code === 255 || code === 12 ? 'the archive could not be reached' : `rsync exited with ${code ?? 'a signal'}`;
  return new QdoError('rsync-failed', ExitCode.scheduler, `${what} failed: ${why}${said ? `: ${said}` : ''}`, { data: { command: e.data.command, exitCode: code, stderr } });
}

/** Regular files under a folder and their total size (links and folders are not counted). */
export async function countFiles(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        files++;
        bytes += (await lstat(p)).size;
      }
    }
  };
  await walk(dir);
  return { files, bytes };
}

/** Whether the archive at `to` holds every file of the version's run folder (the dry run sends nothing). */
export async function verifyArchived(ctx: Context, j: JobVersion, to: string, o: ArchiveOptions = {}): Promise<string[]> {
  const out = await rsync(ctx, copyArgv(j.layout.root, relRunDir(j), to, { dryRun: true, checksum: o.checksum }), o.runner, `checking ${archivedPath(to, relRunDir(j))}`);
  return unverifiedItems(out);
}

// ---- Archiving versions ----

export interface ArchivedVersion {
  job: JobVersion;
  to: string;
  /** Where the copy is: `<to>/<project>/runs/<job>/<version>-<id8>`. */
  path: string;
  /** Files and bytes of the run folder. */
  files: number;
  bytes: number;
  /** Files rsync sent this time (already archived, unchanged: 0). With dryRun: would send. */
  sent: number;
}

export interface SkippedVersion {
  job: JobVersion;
  reason: string;
}

/** Why a version cannot be archived now, or null. */
async function notArchivable(j: JobVersion): Promise<string | null> {
  const s = j.sub;
  if (!s) return 'no submission record (made without qdo submit): nowhere to record the copy';
  if (s.state === 'not-submitted') return 'never submitted: it has no run folder';
  if (!isTerminal(s.state)) return `not over yet (${s.state})`;
  if (!(await statOrNull(runDirOfJob(j)))?.isDirectory()) {
    return s.archived !== undefined ? `no local run folder: already archived to ${(s.archived as ArchivedField).to} and dropped` : 'no run folder (removed by qdo gc?)';
  }
  return null;
}

/**
 * Copies one ended version's run folder to `t`, verifies the copy, and records it in the
 * version's record (`archived`). Dry: asks rsync what it would send, changes nothing.
 */
export async function archiveVersion(ctx: Context, j: JobVersion, t: ArchiveTarget, allocs: Allocation[], o: ArchiveOptions = {}): Promise<ArchivedVersion> {
  checkTarget(t, j, allocs);
  const rel = relRunDir(j);
  const path = archivedPath(t.to, rel);
  const { files, bytes } = await countFiles(runDirOfJob(j));
  const copied = parseRsyncOutput(await rsync(ctx, copyArgv(j.layout.root, rel, t.to, { dryRun: o.dryRun, checksum: o.checksum }), o.runner, `archiving ${fullName(j)}@${j.version} to ${path}`));
  if (o.dryRun) return { job: j, to: t.to, path, files, bytes, sent: copied.length };
  const left = await verifyArchived(ctx, j, t.to, o);
  if (left.length > 0) {
    throw new QdoError('archive-unverified', ExitCode.scheduler, `${fullName(j)}@${j.version} was copied to ${path}, but ${left.length} item(s) still differ there (${left.slice(0, 3).join(', ')}${left.length > 3 ? ', …' : ''})`, {
      hint: 'a file changed while it was copied, or the archive is short of space; run qdo archive again',
    });
  }
  const archived: ArchivedField = { to: t.to, time: ctx.now().toISOString(), files, bytes };
  const next = await changeSubmission(j.layout, j.id, (cur) => (cur ? ({ ...cur, archived } as Submission) : null));
  if (next) j.sub = next;
  return { job: j, to: t.to, path, files, bytes, sent: copied.length };
}

export interface ArchiveReport {
  archived: ArchivedVersion[];
  skipped: SkippedVersion[];
  failed: { job: JobVersion; error: QdoError }[];
}

/** Archives each version (one after another); a failure is reported and the rest go on. */
export async function archiveVersions(ctx: Context, jobs: JobVersion[], o: ArchiveOptions & { to?: string } = {}): Promise<ArchiveReport> {
  const allocs = await allAllocations(ctx);
  const read = configCache();
  const report: ArchiveReport = { archived: [], skipped: [], failed: [] };
  for (const j of jobs) {
    const why = await notArchivable(j);
    if (why) {
      report.skipped.push({ job: j, reason: why });
      continue;
    }
    try {
      const t = o.to !== undefined ? { to: o.to, when: 'manual' as const, from: '--to' } : await archiveSettingOf(ctx, j, read);
      if (!t) {
        report.skipped.push({ job: j, reason: `project ${j.project} has no archive (set "archive" in its config, or give --to)` });
        continue;
      }
      report.archived.push(await archiveVersion(ctx, j, t, allocs, o));
    } catch (e) {
      if (!(e instanceof QdoError) || e.exitCode === ExitCode.usage) throw e; // a bad setting or --to: nothing to go on with
      report.failed.push({ job: j, error: e });
    }
  }
  return report;
}

export interface ArchiveRequest extends ArchiveOptions {
  /** REV…|PATTERN…, as for qdo cancel; none: the latest versions qdo status would list. */
  args: string[];
  allVersions?: boolean;
  to?: string;
}

/** `qdo archive [REV…|PATTERN…] [--all-versions] [--to TARGET]`. */
export async function archive(ctx: Context, req: ArchiveRequest): Promise<ArchiveReport> {
  if (req.to !== undefined) {
    const p = archiveTargetProblem(req.to);
    if (p) throw new UsageError(`--to ${JSON.stringify(req.to)}: expected ${p}`, { code: 'bad-archive' });
  }
  const jobs = await selectVersions(ctx, req.args, req.allVersions === true, 'archive');
  return archiveVersions(ctx, jobs, req);
}

/** The selected versions, and with allVersions every older version of each too (newest first per job). */
async function selectVersions(ctx: Context, args: string[], allVersions: boolean, what: string): Promise<JobVersion[]> {
  const sel = args.length === 0 ? await listLatest(ctx, []) : await selectJobs(ctx, args, what);
  if (!allVersions) return sel.jobs;
  const out = new Map<string, JobVersion>();
  for (const j of sel.jobs) for (const { job } of await historyOf(j, j.latest ? j.id : undefined)) out.set(job.id, job);
  return [...out.values()];
}

/**
 * The archive step of the policies (spec/config.md §Archive): each version a refresh saw
 * end is archived if its project's archive says `"when": "end"`. Never throws for one job:
 * problems are returned (shown as warnings; `qdo archive` does it again).
 */
export async function archiveEnded(ctx: Context, ended: JobVersion[], o: { runner?: Runner } = {}): Promise<{ archived: JobVersion[]; problems: { job: JobVersion; message: string }[] }> {
  const out = { archived: [] as JobVersion[], problems: [] as { job: JobVersion; message: string }[] };
  const read = configCache();
  let allocs: Allocation[] | null = null;
  for (const j of ended) {
    try {
      const t = await archiveSettingOf(ctx, j, read);
      if (!t || t.when !== 'end' || (await notArchivable(j)) !== null) continue;
      allocs ??= await allAllocations(ctx);
      await archiveVersion(ctx, j, t, allocs, { runner: o.runner });
      out.archived.push(j);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      out.problems.push({ job: j, message: `archive: ${e.message}${e.hint ? ` (${e.hint})` : ''}` });
    }
  }
  return out;
}

// ---- Dropping local copies (qdo gc --archived) ----

export interface DroppedRun {
  job: JobVersion;
  path: string;
  to: string;
  files: number;
  bytes: number;
}

export interface DropReport {
  dropped: DroppedRun[];
  kept: SkippedVersion[];
}

/**
 * `qdo gc --archived [PATTERN…]`: removes the local run folder of every version (all
 * versions of the selected jobs) whose record says it is archived, after checking again,
 * right before removing it, that the archive holds every file (verifyArchived). The record
 * gets `collected` first (as gc does), so an interrupted drop is finished by the next one.
 */
export async function dropArchived(ctx: Context, patterns: string[], o: ArchiveOptions & { exclude?: ReadonlySet<string> } = {}): Promise<DropReport> {
  const sel = await listLatest(ctx, patterns);
  const report: DropReport = { dropped: [], kept: [] };
  for (const latest of sel.jobs) {
    let history: { job: JobVersion }[];
    try {
      history = await historyOf(latest);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      report.kept.push({ job: latest, reason: `history unreadable: ${e.message}` });
      continue;
    }
    for (const { job: j } of history) {
      const ar = j.sub?.archived as ArchivedField | undefined;
      const dir = runDirOfJob(j);
      if (!ar || !j.sub || !isTerminal(j.sub.state) || o.exclude?.has(j.id) || !(await statOrNull(dir))?.isDirectory()) continue;
      let left: string[];
      try {
        left = await verifyArchived(ctx, j, ar.to, o);
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        report.kept.push({ job: j, reason: `not verified: ${e.message}` });
        continue;
      }
      if (left.length > 0) {
        report.kept.push({ job: j, reason: `the archive ${ar.to} lacks ${left.length} item(s) of it (${left.slice(0, 3).join(', ')}${left.length > 3 ? ', …' : ''}): run qdo archive again` });
        continue;
      }
      const { files, bytes } = await countFiles(dir);
      if (!o.dryRun) {
        const time = ctx.now().toISOString();
        const next = await changeSubmission(j.layout, j.id, (cur) => (cur ? ({ ...cur, collected: time } as Submission) : null));
        if (next) j.sub = next;
        await rm(dir, { recursive: true, force: true });
      }
      report.dropped.push({ job: j, path: dir, to: ar.to, files, bytes });
    }
  }
  return report;
}

// ---- Fetching back (qdo pull REV without PROJECT) ----

export interface RestoredRun {
  job: JobVersion;
  from: string;
  path: string;
  files: { path: string; size: number }[];
  bytes: number;
}

export interface RestoreReport {
  restored: RestoredRun[];
  skipped: SkippedVersion[];
  dryRun: boolean;
}

/**
 * Fetches archived versions back into their own run folders: rsync from the archive copy,
 * never deleting anything locally (files already there and unchanged are not fetched).
 * The record's `collected` goes: the folder is back.
 */
export async function restoreArchived(ctx: Context, source: string, o: ArchiveOptions & { allVersions?: boolean } = {}): Promise<RestoreReport> {
  const jobs = await selectVersions(ctx, [source], o.allVersions === true, 'pull');
  const report: RestoreReport = { restored: [], skipped: [], dryRun: o.dryRun === true };
  for (const j of jobs) {
    const ar = j.sub?.archived as ArchivedField | undefined;
    if (!ar) {
      report.skipped.push({ job: j, reason: j.sub ? 'not archived' : 'no submission record' });
      continue;
    }
    const dest = runDirOfJob(j);
    const rel = relRunDir(j);
    const from = archivedPath(ar.to, rel);
    if (!isRemoteTarget(ar.to) && !(await statOrNull(from))?.isDirectory()) {
      throw new NotFoundError('no-archived-copy', `${fullName(j)}@${j.version} is recorded as archived to ${ar.to}, but ${from} does not exist`, {
        hint: (await statOrNull(ar.to)) ? 'it was removed from the archive' : `is ${ar.to} mounted? (qdo alloc list)`,
      });
    }
    if (!o.dryRun) await mkdir(dest, { recursive: true });
    const files = parseRsyncOutput(await rsync(ctx, fetchArgv(ar.to, rel, dest, { dryRun: o.dryRun }), o.runner, `fetching ${fullName(j)}@${j.version} from ${from}`));
    if (!o.dryRun && j.sub?.collected !== undefined) {
      const next = await changeSubmission(j.layout, j.id, (cur) => {
        if (!cur || cur.collected === undefined) return null;
        const { collected: _, ...rest } = cur;
        return rest as Submission;
      });
      if (next) j.sub = next;
    }
    report.restored.push({ job: j, from, path: dest, files, bytes: files.reduce((n, f) => n + f.size, 0) });
  }
  return report;
}
