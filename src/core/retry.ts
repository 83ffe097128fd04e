// `qdo retry` (spec/porcelain.md §qdo retry; man qdo-retry(1)): a new version of each
// selected job, made from the selected version's manifest (its stored template re-rendered)
// with changed resources. The new version's parent is the name's current latest version.
import type { Context } from '../context.js';
import { ConflictError, NotFoundError, UsageError } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import { applyResourceChanges, parseResourceChanges, type ResourceChanges } from '../model/resource-change.js';
import type { Resources } from '../model/resources.js';
import { isTerminal } from '../model/states.js';
import { readManifest } from '../store/manifests.js';
import type { Runner } from '../scheduler/runner.js';
import { fullName, listLatest, selectJobs, type JobVersion } from './jobs.js';
import { applyPolicies, markOld, type PolicyReport } from './policies.js';
import { refreshJobs } from './refresh.js';
import type { Prepared } from './submit.js';

/** Ends `--failed` retries. Not `cancelled`: a cancel was meant, so only naming it retries it. */
export const RETRY_FAILED_STATES: ReadonlySet<string> = new Set(['failed', 'timeout', 'out-of-memory', 'node-fail', 'preempted']);

export interface RetryRequest {
  /** REV…|PATTERN as typed; empty with `failed` means every latest job in scope (like status). */
  targets: string[];
  failed?: boolean;
  /** Resource flags as typed, absolute or relative (`{time: "x2"}`). */
  flags: Record<string, string | undefined>;
  /** `--set K=V` over the old parameters. */
  params: Record<string, string>;
  dryRun?: boolean;
  runner?: Runner;
}

export interface RetryItem {
  /** The version retried (its state as last known). */
  from: JobVersion;
  fromState: string;
  /** The retried version's resources (to show what changed). */
  fromResources: Resources;
  project: string;
  name: string;
  id: string;
  version: number;
  parent: string | null;
  resources: Resources;
  scheduler: string;
  cluster: string;
  schedId: string | null;
  state: string;
  runDir: string;
  /** The exact scheduler script (shown by --dry-run). */
  script: string;
}

export interface RetryResult {
  retried: RetryItem[];
  /** Selected but not retried (with --failed: those that did not fail). */
  skipped: { job: JobVersion; state: string }[];
  dryRun: boolean;
  /** Policies applied to jobs this command's refresh saw end (never the ones retried here). */
  policy: PolicyReport;
}

function stateOf(j: JobVersion): string {
  return j.sub ? j.sub.state : 'unsubmitted';
}

function label(j: JobVersion): string {
  return `${fullName(j)}@${j.version}`;
}

export async function retry(ctx: Context, req: RetryRequest): Promise<RetryResult> {
  // Bad flags fail before anything is looked at.
  const changes: ResourceChanges = parseResourceChanges(req.flags);
  if (req.targets.length === 0 && !req.failed) {
    throw new NotFoundError('nothing-selected', 'retry: no job given', { hint: 'give PROJECT/JOB, a revision like JOB@2 or a pattern like "paper/*"; or --failed for every failed job here' });
  }
  const sel = req.targets.length === 0 ? await listLatest(ctx, []) : await selectJobs(ctx, req.targets, 'retry');
  const report = await refreshJobs(ctx, sel.jobs, { runner: req.runner, noPolicies: true });

  let chosen: JobVersion[];
  const skipped: RetryResult['skipped'] = [];
  if (req.failed) {
    chosen = sel.jobs.filter((j) => RETRY_FAILED_STATES.has(stateOf(j)));
    for (const j of sel.jobs) if (!chosen.includes(j)) skipped.push({ job: j, state: stateOf(j) });
  } else {
    chosen = sel.jobs;
    const live = chosen.filter((j) => j.sub && !isTerminal(j.sub.state));
    if (live.length > 0) {
      const j = live[0]!;
      throw new ConflictError('still-running', `${label(j)} is still ${stateOf(j)}; cancel it first${live.length > 1 ? ` (and ${live.length - 1} more: ${live.slice(1).map(label).join(', ')})` : ''}`, {
        hint: `qdo cancel ${label(j)}, then qdo retry again; or retry only the jobs that ended with --failed`,
      });
    }
  }
  const byName = new Map<string, JobVersion>();
  for (const j of chosen) {
    const other = byName.get(fullName(j));
    if (other) throw new UsageError(`retry: ${label(other)} and ${label(j)} are versions of the same job; retry one of them at a time`, { code: 'same-job-twice' });
    byName.set(fullName(j), j);
  }

  const policy = await applyPolicies(ctx, report.ended, { runner: req.runner, exclude: new Set(chosen.map((j) => j.id)) });

  // Everything is prepared (rendered, checked) before anything is submitted, so a bad
  // template or flag leaves no trace; each is then prepared again right before its own
  // submit, because the latest version (the parent) may have just changed.
  const { prepareFromManifest, submitPrepared } = await import('./submit.js');
  const manifests = new Map<string, Manifest>();
  const prep = async (j: JobVersion): Promise<Prepared> => {
    let m = manifests.get(j.id);
    if (!m) manifests.set(j.id, (m = await readManifest(j.layout, j.id)));
    return prepareFromManifest(ctx, { layout: j.layout, project: j.project, name: j.name, id: j.id, manifest: m }, {
      resources: applyResourceChanges(m.resources, changes),
      params: req.params,
      fields: { retry_of: j.id, auto_retry: undefined },
      runner: req.runner,
    });
  };
  const item = (j: JobVersion, p: Prepared, schedId: string | null, state: string): RetryItem => ({
    from: j,
    fromState: stateOf(j),
    fromResources: manifests.get(j.id)!.resources,
    project: j.project,
    name: j.name,
    id: p.id,
    version: p.manifest.version,
    parent: p.manifest.parent,
    resources: p.manifest.resources,
    scheduler: p.choice.kind,
    cluster: p.cluster,
    schedId,
    state,
    runDir: p.spec.runDir,
    script: p.script,
  });

  const retried: RetryItem[] = [];
  for (const j of chosen) {
    const p = await prep(j);
    if (req.dryRun) retried.push(item(j, p, null, 'dry-run'));
  }
  if (req.dryRun) return { retried, skipped, dryRun: true, policy };
  for (const j of chosen) {
    const p = await prep(j);
    const fromState = stateOf(j);
    const sub = await submitPrepared(ctx, p);
    if (j.sub) await markOld(j, { retried_by: p.id });
    retried.push({ ...item(j, p, sub.sched_id, sub.state), fromState });
  }
  return { retried, skipped, dryRun: false, policy };
}
