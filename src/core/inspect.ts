// Looking at job versions: `qdo show` (one version: manifest, state and where it was learned,
// paths), `qdo log` (a job's versions, newest first, each with what changed) and `qdo diff`
// (two versions field by field, scripts as unified diffs). Spec: spec/porcelain.md.
// Nothing here writes except the state refresh, which is refresh.ts's (cheap, rate-limited).
import { collectedTimes } from '../store/collected.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import type { ArtifactDelta } from './artifacts.js';
import { NotFoundError, QdoError, UsageError } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import type { Layout } from '../store/layout.js';
import { readManifest } from '../store/manifests.js';
import { readObject } from '../store/objects.js';
import { readRef, readRefs } from '../store/refs.js';
import { readSubmission } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import { STDERR_LOG, STDOUT_LOG } from '../scheduler/wrapper.js';
import { didYouMean } from '../util/closest.js';
import { unifiedDiff } from '../util/line-diff.js';
import { historyOf, isPattern, runDirOfJob, type JobVersion } from './jobs.js';
import { changedFields, compareManifests, deltaSummary, type ManifestDelta } from './manifest-delta.js';
import { refreshJobs, type GroupReport } from './refresh.js';
import { listAttempts } from './refresh-records.js';
import { resolveRev, type Resolved } from './revs.js';
import { allAllocations, projectIndex, type Allocation } from './world.js';
import { exists } from '../util/fs.js';

export interface OneVersion {
  job: JobVersion;
  manifest: Manifest;
  /** The id the job's ref points at now (null if the ref is gone). */
  latestId: string | null;
}

/** `project/name@version`: how a version is named in output. */
export function versionLabel(j: { project: string; name: string; version: number }): string {
  return `${j.project}/${j.name}@${j.version}`;
}

async function allJobNames(allocs: Allocation[]): Promise<string[]> {
  const names: string[] = [];
  for (const loc of projectIndex(allocs).values()) for (const n of (await readRefs(loc.layout, loc.project)).keys()) names.push(`${loc.project}/${n}`);
  return names;
}

/**
 * Exactly one version, for the commands that look at one (show, log, diff). A pattern or a
 * project name is refused with a hint instead of silently picking one of many.
 */
export async function resolveOne(ctx: Context, text: string, what: string, allocsIn?: Allocation[]): Promise<OneVersion> {
  if (isPattern(text)) {
    throw new UsageError(`${what} takes one revision, found the pattern "${text}"`, {
      code: 'not-a-revision',
      hint: `give PROJECT/JOB, JOB@N, JOB~N or an id prefix; list what the pattern matches with: qdo status '${text}'`,
    });
  }
  const allocs = allocsIn ?? (await allAllocations(ctx));
  let r: Resolved;
  try {
    r = await resolveRev(ctx, text, allocs);
  } catch (e) {
    if (!(e instanceof QdoError)) throw e;
    const loc = projectIndex(allocs).get(text);
    if (loc) {
      const names = [...(await readRefs(loc.layout, loc.project)).keys()].sort();
      throw new UsageError(`${what}: "${text}" is a project; give one of its jobs as PROJECT/JOB`, {
        code: 'not-a-job',
        hint: names.length ? `its jobs: ${names.slice(0, 5).map((n) => `${text}/${n}`).join(', ')}${names.length > 5 ? ', …' : ''}` : `${text} has no jobs yet`,
      });
    }
    if (e.code === 'unknown-job') throw new NotFoundError('unknown-job', e.message, { hint: didYouMean(text, await allJobNames(allocs)) ?? e.hint ?? 'list jobs with: qdo status' });
    throw e;
  }
  // The ref as resolveRev read it (one read: the version and "latest" agree), else read now.
  const latestId = r.refId ?? (await readRef(r.layout, r.project, r.name));
  const sub = await readSubmission(r.layout, r.id);
  return {
    job: { layout: r.layout, project: r.project, name: r.name, id: r.id, version: r.manifest.version, latest: latestId === r.id, sub },
    manifest: r.manifest,
    latestId,
  };
}

// ---- show ----

export interface LogFiles {
  /** Array task index, or null for a job that is not an array. */
  task: string | null;
  stdout: string;
  stdoutExists: boolean;
  stderr: string;
  stderrExists: boolean;
  /** Every run of the task its folder holds, oldest first (spec/submissions.md §Attempts). */
  attempts: AttemptInfo[];
}

/** One attempt of a task: its records and where its logs are. */
export interface AttemptInfo {
  attempt: number;
  /** The latest attempt: its files have the plain names. */
  latest: boolean;
  host: string | null;
  started: string | null;
  ended: string | null;
  exitCode: number | null;
  /** The trapped signal that stopped it (end record), if any. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface JobPaths {
  runDir: string;
  runDirExists: boolean;
  /** For a run folder that is not there: when gc removed it (the record's `collected`, else the latest collected list naming the version), or null. */
  runDirCollected: string | null;
  /** The script as given to the scheduler: `<run folder>/job.<scheduler>.sh`. */
  script: string;
  scriptExists: boolean;
  /** One entry for a plain job; one per task folder found for an array job. */
  logs: LogFiles[];
  array: boolean;
}

export interface ShowResult extends OneVersion {
  paths: JobPaths;
  groups: GroupReport[];
  /** A run of a pool: which worker and host run or ran it (spec/pools.md §States). */
  pool?: import('./pool/run-info.js').PoolRunInfo | null;
}


async function logFiles(dir: string, task: string | null): Promise<LogFiles> {
  const stdout = join(dir, STDOUT_LOG);
  const stderr = join(dir, STDERR_LOG);
  const attempts = (await listAttempts(dir)).map(
    (a): AttemptInfo => ({
      attempt: a.attempt,
      latest: a.latest,
      host: a.start?.host ?? null,
      started: a.start?.time ?? null,
      ended: a.end?.time ?? null,
      exitCode: a.end?.exit_code ?? null,
      signal: a.end?.signal ?? null,
      stdout: join(dir, a.files.stdout),
      stderr: join(dir, a.files.stderr),
    }),
  );
  return { task, stdout, stdoutExists: await exists(stdout), stderr, stderrExists: await exists(stderr), attempts };
}

/** Where a version's files are (spec/layout.md §Project folders; scheduler-common.md §Logs). */
export async function jobPaths(j: JobVersion, m: Manifest): Promise<JobPaths> {
  const runDir = runDirOfJob(j);
  const kind = j.sub?.scheduler ?? m.scheduler;
  const script = join(runDir, `job.${kind}.sh`);
  const array = m.resources.array !== undefined;
  let logs: LogFiles[];
  if (!array) logs = [await logFiles(runDir, null)];
  else {
    // Array tasks keep records and logs in <run folder>/<index>.
    let names: string[] = [];
    try {
      names = (await readdir(runDir, { withFileTypes: true })).filter((d) => d.isDirectory() && /^\d+$/.test(d.name)).map((d) => d.name);
    } catch {
      names = [];
    }
    names.sort((a, b) => Number(a) - Number(b));
    logs = [];
    for (const n of names) logs.push(await logFiles(join(runDir, n), n));
  }
  const runDirExists = await exists(runDir);
  const runDirCollected = runDirExists ? null : (typeof j.sub?.collected === 'string' ? j.sub.collected : (await collectedTimes(j.layout, new Set([j.id]))).get(j.id) ?? null);
  return { runDir, runDirExists, runDirCollected, script, scriptExists: await exists(script), logs, array };
}

export interface InspectOptions {
  /** Never ask the scheduler (exit records only). */
  offline?: boolean;
  runner?: Runner;
}

/** One version, its state refreshed first (cheap: refresh.ts keeps to the status interval). */
export async function showJob(ctx: Context, rev: string, o: InspectOptions = {}): Promise<ShowResult> {
  const one = await resolveOne(ctx, rev, 'show');
  const report = await refreshJobs(ctx, [one.job], { offline: o.offline, runner: o.runner });
  const pool = one.job.sub?.scheduler.startsWith('pool:') ? await (await import('./pool/run-info.js')).poolRunInfo(ctx, one.job.sub) : undefined;
  return { ...one, paths: await jobPaths(one.job, one.manifest), groups: report.groups, ...(pool !== undefined ? { pool } : {}) };
}

// ---- log ----

export interface LogEntry {
  job: JobVersion;
  manifest: Manifest;
  /** Version 1 (no parent): nothing to compare with. */
  first: boolean;
  /** Fields that differ from the parent (DELTA_FIELDS names). */
  changed: string[];
  /** What changed, one short phrase per change (manifest-delta.ts deltaSummary). */
  summary: string[];
}

export interface LogResult {
  project: string;
  name: string;
  entries: LogEntry[];
  /** Versions in the history beyond those shown (-n). */
  more: number;
  groups: GroupReport[];
}

/** The history ending at REV (the latest version for PROJECT/JOB), newest first. */
export async function jobLog(ctx: Context, rev: string, o: InspectOptions & { limit?: number } = {}): Promise<LogResult> {
  const one = await resolveOne(ctx, rev, 'log');
  // With -n N only N+1 manifests are read (the last one shown is compared with its parent);
  // how many older versions exist follows from version numbers (manifest.md: parent's + 1).
  const hist = await historyOf(one.job, one.latestId ?? '', o.limit !== undefined ? o.limit + 1 : Infinity, { manifest: one.manifest, sub: one.job.sub });
  const shown = o.limit !== undefined ? hist.slice(0, o.limit) : hist;
  const report = await refreshJobs(
    ctx,
    shown.map((h) => h.job),
    { offline: o.offline, runner: o.runner },
  );
  const entries = shown.map((h, i): LogEntry => {
    const parent = hist[i + 1]?.manifest;
    if (h.manifest.parent === null || !parent) return { job: h.job, manifest: h.manifest, first: h.manifest.parent === null, changed: [], summary: [] };
    const d = compareManifests(parent, h.manifest);
    return { job: h.job, manifest: h.manifest, first: false, changed: changedFields(d), summary: deltaSummary(d) };
  });
  const last = shown[shown.length - 1];
  const more = hist.length > shown.length && last ? last.manifest.version - 1 : 0;
  return { project: one.job.project, name: one.job.name, entries, more, groups: report.groups };
}

// ---- diff ----

export interface DiffSide {
  job: JobVersion;
  manifest: Manifest;
  label: string;
}

export interface DiffResult {
  a: DiffSide;
  b: DiffSide;
  delta: ManifestDelta;
  /** Fields that differ (DELTA_FIELDS names); empty when the versions do the same thing. */
  changed: string[];
  /** Unified diffs of the object texts; '' when equal. */
  script: string;
  prologue: string;
  epilogue: string;
  /** With `--artifacts`: the files of the two run folders, by name and size. */
  artifacts?: ArtifactDelta;
}

async function objectText(l: Layout, id: string | null): Promise<string> {
  return id === null ? '' : (await readObject(l, id)).toString('utf8');
}

async function textDiff(a: DiffSide, b: DiffSide, field: 'script' | 'prologue' | 'epilogue'): Promise<string> {
  const ia = a.manifest[field] as string | null;
  const ib = b.manifest[field] as string | null;
  if (ia === ib) return '';
  return unifiedDiff(await objectText(a.job.layout, ia), await objectText(b.job.layout, ib), {
    labelA: ia === null ? '/dev/null' : `${a.label}:${field}`,
    labelB: ib === null ? '/dev/null' : `${b.label}:${field}`,
  });
}

/** Two versions compared; with one REV, that version against its parent. */
export async function diffJobs(ctx: Context, revA: string, revB?: string, o: { artifacts?: boolean } = {}): Promise<DiffResult> {
  const allocs = await allAllocations(ctx);
  const first = await resolveOne(ctx, revA, 'diff', allocs);
  let a: OneVersion;
  let b: OneVersion;
  if (revB === undefined) {
    const m = first.manifest;
    if (m.parent === null) {
      throw new NotFoundError('no-parent', `diff: ${versionLabel(first.job)} is the first version of ${first.job.project}/${first.job.name}; there is no parent to compare it with`, {
        hint: 'give two revisions: qdo diff REV REV',
      });
    }
    const pm = await readManifest(first.job.layout, m.parent);
    const psub = await readSubmission(first.job.layout, m.parent);
    a = { job: { ...first.job, id: m.parent, version: pm.version, latest: first.latestId === m.parent, sub: psub }, manifest: pm, latestId: first.latestId };
    b = first;
  } else {
    a = first;
    b = await resolveOne(ctx, revB, 'diff', allocs);
  }
  const sa: DiffSide = { job: a.job, manifest: a.manifest, label: versionLabel(a.job) };
  const sb: DiffSide = { job: b.job, manifest: b.manifest, label: versionLabel(b.job) };
  if (sa.label === sb.label && a.job.id !== b.job.id) {
    // Same name and number, different ids: versions forked by a sync. Tell them apart.
    sa.label += `(${a.job.id.slice(0, 8)})`;
    sb.label += `(${b.job.id.slice(0, 8)})`;
  }
  const delta = compareManifests(a.manifest, b.manifest);
  const changed = changedFields(delta);
  let artifacts: ArtifactDelta | undefined;
  if (o.artifacts) {
    const { artifactsOf, compareArtifacts } = await import('./artifacts.js');
    artifacts = compareArtifacts((await artifactsOf(a.job)).files, (await artifactsOf(b.job)).files);
    if (artifacts.added.length + artifacts.removed.length + artifacts.changed.length > 0) changed.push('artifacts');
  }
  return {
    a: sa,
    b: sb,
    delta,
    changed,
    ...(artifacts ? { artifacts } : {}),
    script: await textDiff(sa, sb, 'script'),
    prologue: await textDiff(sa, sb, 'prologue'),
    epilogue: await textDiff(sa, sb, 'epilogue'),
  };
}
