// What happens after a job ends (spec/porcelain.md §qdo retry §Retry policies;
// spec/scheduler-common.md §Notify): a manifest's retry policy (`submit --retry-on`) and
// the notify fallback. Called with the jobs a refresh saw end (RefreshReport.ended) by
// every command that refreshes: status, wait, watch, retry. Only those jobs' manifests are read.
//
// Idempotence: an automatic retry is claimed in the ended version's submission record
// (`retried_by`, written under a short lock) before it is submitted, and the new version
// moves the name's ref by compare-and-swap from the ended version's id. So of two qdo
// processes that saw the same end only one submits; a version that is no longer the
// latest (the user resubmitted or retried it) is never retried automatically.
import { appendFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, QdoError, RepositoryError } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import type { Submission } from '../model/submission.js';
import { readManifest } from '../store/manifests.js';
import { readRef } from '../store/refs.js';
import { changeSubmission, readSubmission } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import { NOTIFY_MARKER, NOTIFY_TIMEOUT_SEC, STDERR_LOG } from '../scheduler/wrapper.js';
import { fullName, runDirOfJob, type JobVersion } from './jobs.js';
import { exists } from '../util/fs.js';


export interface PolicyReport {
  /** Automatic retries submitted: the ended version and its new version. */
  retried: { from: JobVersion; to: JobVersion }[];
  /** Ended versions whose notify command qdo ran itself (the wrapper could not). */
  notified: JobVersion[];
  /** What could not be done, per job (shown as warnings; never fails the command). */
  problems: { job: JobVersion; message: string }[];
  /** Ended versions copied to their project's archive (core/archive.ts archiveEnded). */
  archived?: JobVersion[];
}

export interface PolicyOptions {
  runner?: Runner;
  /** Versions the command itself is about to retry (qdo retry): no automatic retry for them. */
  exclude?: ReadonlySet<string>;
}

/** Count of consecutive automatic retries that led to this version (manifest `auto_retry`). */
export function autoRetryCount(m: Manifest): number {
  return typeof m.auto_retry === 'number' && Number.isSafeInteger(m.auto_retry) && m.auto_retry > 0 ? m.auto_retry : 0;
}

/** The policy of a manifest, if it has a well-formed one. */
export function retryPolicyOf(m: Manifest): { on: string[]; max: number } | null {
  const r = m.retry as { on?: unknown; max?: unknown } | undefined;
  if (!r || !Array.isArray(r.on) || typeof r.max !== 'number') return null;
  return { on: r.on.filter((s): s is string => typeof s === 'string'), max: r.max };
}

export async function applyPolicies(ctx: Context, ended: JobVersion[], o: PolicyOptions = {}): Promise<PolicyReport> {
  const report: PolicyReport = { retried: [], notified: [], problems: [] };
  for (const j of ended) {
    if (!j.sub || j.sub.state === 'not-submitted') continue;
    let m: Manifest;
    try {
      m = await readManifest(j.layout, j.id);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      report.problems.push({ job: j, message: e.message });
      continue;
    }
    try {
      if (typeof m.notify === 'string' && (await notifyFallback(ctx, j, m, o.runner))) report.notified.push(j);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      report.problems.push({ job: j, message: `notify: ${e.message}` });
    }
    if (o.exclude?.has(j.id)) continue;
    try {
      const to = await autoRetry(ctx, j, m, o.runner);
      if (to) report.retried.push({ from: j, to });
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      report.problems.push({ job: j, message: `automatic retry: ${e.message}` });
    }
  }
  // Archiving is its own step (spec/config.md §Archive), after retries and notifications.
  // rsync runs through the real runner (the given one is the scheduler's, maybe a fake).
  const { archiveEnded } = await import('./archive.js');
  const a = await archiveEnded(ctx, ended);
  report.archived = a.archived;
  report.problems.push(...a.problems);
  return report;
}

/**
 * Refuses to act for a version another user submitted (spec/trust.md §Jobs of others): its
 * notify command would run, and an automatic retry would submit its script, as whoever runs
 * `qdo status`. The submitter is the owner of the manifest object (written once, by the
 * submit; its bytes are checked against its id when read). The record is no witness:
 * every refresh rewrites it, whoever runs it.
 */
async function checkOwnJob(ctx: Context, j: JobVersion): Promise<void> {
  const { objectPath } = await import('../store/objects.js');
  const { ownerOf, ownerName } = await import('../store/trust.js');
  const owner = await ownerOf(objectPath(j.layout, j.id));
  if (owner === ctx.user.uid) return;
  const by = owner === null ? 'someone unknown (its manifest file is missing)' : ownerName(owner);
  throw new RepositoryError('not-your-job', `not run: submitted by ${by}, not by you; only the submitter's qdo does this (spec/trust.md §Jobs of others)`);
}

/** Retries `j` if its policy says so, it is still the latest version and nobody did already. */
async function autoRetry(ctx: Context, j: JobVersion, m: Manifest, runner?: Runner): Promise<JobVersion | null> {
  const policy = retryPolicyOf(m);
  const sub = j.sub!;
  if (!policy || !policy.on.includes(sub.state) || sub.retried_by !== undefined) return null;
  const count = autoRetryCount(m);
  if (count >= policy.max) return null;
  await checkOwnJob(ctx, j);
  if ((await readRef(j.layout, j.project, j.name)) !== j.id) return null; // superseded: the user moved on
  const { prepareFromManifest, submitPrepared } = await import('./submit.js');
  const p = await prepareFromManifest(ctx, { layout: j.layout, project: j.project, name: j.name, id: j.id, manifest: m }, {
    resources: m.resources,
    fields: { retry_of: j.id, auto_retry: count + 1 },
    runner,
  });
  // Claim the retry in the ended version's record under a short lock (never held across the
  // scheduler call): of two qdo processes that saw the same end, the second finds
  // `retried_by` set. Two retries made in the same millisecond would have the same id, so
  // the claim, not the ref's compare-and-swap alone, is what keeps them from colliding.
  if ((await readRef(j.layout, j.project, j.name)) !== j.id || p.manifest.parent !== j.id) return null;
  let claimed = false;
  await changeSubmission(j.layout, j.id, (cur) => {
    if (!cur || cur.retried_by !== undefined) return null;
    claimed = true;
    return { ...cur, retried_by: p.id };
  });
  if (!claimed) return null;
  let done: Submission;
  try {
    done = await submitPrepared(ctx, p);
  } catch (e) {
    // Not retried after all (the name moved, or the scheduler refused): drop the claim.
    await changeSubmission(j.layout, j.id, (cur) => {
      if (cur?.retried_by !== p.id) return null;
      const { retried_by: _, ...rest } = cur;
      return rest as Submission;
    });
    if (e instanceof ConflictError && e.code === 'job-moved') return null;
    throw e;
  }
  j.sub = (await readSubmission(j.layout, j.id)) ?? j.sub;
  j.latest = false;
  return { layout: j.layout, project: j.project, name: j.name, id: p.id, version: p.manifest.version, latest: true, sub: done };
}

/** Adds fields to an ended version's record (terminal: nobody else rewrites it). */
export async function markOld(j: JobVersion, fields: Partial<Submission>): Promise<void> {
  const next = await changeSubmission(j.layout, j.id, (cur) => (cur ? ({ ...cur, ...fields } as Submission) : null));
  if (next) j.sub = next;
  j.latest = false;
}


/** True if a wrapper of this version wrote its notify marker (any task, for arrays). */
async function wrapperNotified(j: JobVersion): Promise<boolean> {
  const dir = runDirOfJob(j);
  if (await exists(join(dir, NOTIFY_MARKER))) return true;
  if (j.sub?.array === undefined) return false;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory() && (await exists(join(dir, e.name, NOTIFY_MARKER)))) return true;
  return false;
}

/**
 * Runs the notify command of a version whose wrapper could not (killed hard, out of memory,
 * node failure, cancelled before it started): once, recorded as `notified` in its
 * submission record BEFORE running, so two refreshes never both run it.
 */
async function notifyFallback(ctx: Context, j: JobVersion, m: Manifest, runner?: Runner): Promise<boolean> {
  const sub = j.sub!;
  if (sub.notified !== undefined || (await wrapperNotified(j))) return false;
  // Before the claim: the submitter's own qdo may still run it.
  await checkOwnJob(ctx, j);
  const time = ctx.now().toISOString();
  // Claimed under the record's lock: of two refreshes that saw the same end, one runs it.
  let claimed = false;
  const next = await changeSubmission(j.layout, j.id, (cur) => {
    if (!cur || cur.notified !== undefined) return null;
    claimed = true;
    return { ...cur, notified: time } as Submission;
  });
  if (next) j.sub = next;
  if (!claimed) return false;

  const dir = runDirOfJob(j);
  const { projectDir } = await import('./world.js');
  const { jobEnv } = await import('./sched.js');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, jobEnv(m.params, m.env), {
    QDO_JOB_ID: sub.sched_id ?? '',
    QDO_JOB_NAME: j.name,
    QDO_ARRAY_INDEX: '',
    QDO_NCPUS: String(m.resources.cpus ?? 1),
    QDO_SUBMIT_DIR: projectDir(j.layout, j.project),
    QDO_RUN_DIR: dir,
    QDO_TASK_DIR: dir,
    QDO_STATE: sub.state,
    QDO_EXIT_CODE: sub.exit_code === null ? '' : String(sub.exit_code),
    QDO_SIGNAL: '',
  });
  const run = runner ?? (await import('../scheduler/runner.js')).runCommand;
  await mkdir(dir, { recursive: true });
  const log = join(dir, STDERR_LOG);
  await appendFile(log, `qdo: ${fullName(j)}@${j.version} ended ${sub.state} without running its notify command; qdo runs it now (${time})\n`);
  try {
    const r = await run(['bash', '-c', m.notify as string], {
      cwd: env.QDO_SUBMIT_DIR,
      env,
      timeoutMs: NOTIFY_TIMEOUT_SEC * 1000,
      retries: 0,
      okExitCodes: Array.from({ length: 256 }, (_, i) => i),
    });
    await appendFile(log, r.stdout + r.stderr + (r.exitCode === 0 ? '' : `qdo: the notify command exited with ${r.exitCode}\n`));
  } catch (e) {
    if (!(e instanceof QdoError)) throw e;
    await appendFile(log, `qdo: the notify command failed: ${e.message}\n`);
  }
  return true;
}
