// `qdo status` (spec/submissions.md §Refresh): the jobs matching the patterns, their states
// refreshed as cheaply as refresh.ts allows.
import type { Context } from '../context.js';
import { NotFoundError, QdoError } from '../errors.js';
import type { Runner } from '../scheduler/runner.js';
import { DEFAULT_RERUN_WINDOW } from '../model/config.js';
import { isTerminal } from '../model/states.js';
import { readConfig } from '../store/config.js';
import { countHidden, historyOf, listLatest, type HiddenJobs, type JobVersion } from './jobs.js';
import { allAllocations, type Allocation } from './world.js';
import { refreshJobs, type RefreshReport } from './refresh.js';
import type { PolicyReport } from './policies.js';

export interface StatusOptions {
  allVersions?: boolean;
  refresh?: boolean;
  offline?: boolean;
  runner?: Runner;
  /**
   * Leave out the jobs whose latest version ended before this time (ms since the epoch),
   * counting them instead: status's overview (spec/porcelain.md §qdo status, --since).
   */
  since?: number;
}

export interface StatusResult {
  jobs: JobVersion[];
  /** Jobs or projects that could not be read; the others are listed (spec/porcelain.md §qdo status). */
  problems: { subject: string; error: import('../errors.js').QdoError }[];
  report: RefreshReport;
  /** Retry policies and notify fallbacks applied to the jobs that ended (policies.ts). */
  policy: PolicyReport;
  /** With `since`: the jobs left out, by state. */
  hidden?: HiddenJobs;
}

export async function status(ctx: Context, patterns: string[], o: StatusOptions = {}): Promise<StatusResult> {
  const cut = o.since !== undefined ? await sinceCutoff(ctx, o.since) : undefined;
  // --refresh trusts no cached folder: every ended job's record file is looked at.
  const sel = await listLatest(ctx, patterns, { tolerant: true, endedCache: true, perFile: o.refresh, allocs: cut?.allocs, hideEndedBefore: cut?.before });
  // A pattern whose jobs were all left out (--since) matched: they are counted, not missing.
  if (patterns.length > 0 && sel.jobs.length === 0 && sel.problems.length === 0 && (sel.hidden?.count ?? 0) === 0) {
    throw new NotFoundError('no-match', `no job matches ${patterns.map((p) => JSON.stringify(p)).join(' or ')}`, { hint: 'list every job with: qdo status (outside a project folder)' });
  }
  let jobs = sel.jobs;
  const problems = [...sel.problems];
  if (o.allVersions) {
    const all: JobVersion[] = [];
    for (const j of jobs) {
      try {
        for (const h of await historyOf(j)) all.push(h.job);
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        all.push(j); // the latest is known from its record; its history is damaged
        problems.push({ subject: `${j.project}/${j.name}`, error: e });
      }
    }
    jobs = all;
  }
  const home = sel.allocs.find((a) => a.home)?.layout ?? undefined;
  const report = await refreshJobs(ctx, jobs, { force: o.refresh, offline: o.offline, runner: o.runner, home });
  const policy = report.policy;
  // An automatic retry is the job's latest version now: show it (and, with --all-versions, both).
  for (const r of policy.retried) {
    const i = jobs.indexOf(r.from);
    if (i >= 0) jobs.splice(i, o.allVersions ? 0 : 1, r.to);
  }
  const hidden = sel.hidden;
  if (o.since !== undefined && hidden) jobs = leaveOutEnded(jobs, o.since, hidden);
  return { jobs, report, policy, problems, ...(hidden ? { hidden } : {}) };
}

/**
 * For `--since` (status, watch): the time before which listLatest may leave an ended job
 * out as it lists (hideEndedBefore), and the allocations it read to know. A job that ended
 * before rerun_window began is final (refresh would not look at it), so it is left out
 * from the ended-jobs cache's line heads alone; one that ended later must be refreshed
 * first (a requeue re-opens it) and is left out after, by leaveOutEnded.
 */
export async function sinceCutoff(ctx: Context, since: number): Promise<{ allocs: Allocation[]; before: number }> {
  const allocs = await allAllocations(ctx);
  const home = allocs.find((a) => a.home)?.layout;
  const window = (home ? (await readConfig(home, ctx.user)).rerun_window : undefined) ?? DEFAULT_RERUN_WINDOW;
  return { allocs, before: Math.min(since, ctx.now().getTime() - window * 1000) };
}

/** The refreshed jobs but those whose latest version ended before `since` (with all their versions), counted in `hidden`. */
export function leaveOutEnded(jobs: JobVersion[], since: number, hidden: HiddenJobs): JobVersion[] {
  const gone = new Set<string>();
  for (const j of jobs) {
    const st = j.sub;
    if (!j.latest || st === null || !isTerminal(st.state) || !(Date.parse(st.state_time) < since)) continue;
    gone.add(j.project + '/' + j.name);
    countHidden(hidden, st.state);
  }
  return gone.size > 0 ? jobs.filter((j) => !gone.has(j.project + '/' + j.name)) : jobs;
}
