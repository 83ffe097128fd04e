// `qdo status` (spec/submissions.md §Refresh): the jobs matching the patterns, their states
// refreshed as cheaply as refresh.ts allows.
import type { Context } from '../context.js';
import { NotFoundError, QdoError } from '../errors.js';
import type { Runner } from '../scheduler/runner.js';
import { historyOf, listLatest, type JobVersion } from './jobs.js';
import { refreshJobs, type RefreshReport } from './refresh.js';
import type { PolicyReport } from './policies.js';

export interface StatusOptions {
  allVersions?: boolean;
  refresh?: boolean;
  offline?: boolean;
  runner?: Runner;
}

export interface StatusResult {
  jobs: JobVersion[];
  /** Jobs or projects that could not be read; the others are listed (spec/porcelain.md §qdo status). */
  problems: { subject: string; error: import('../errors.js').QdoError }[];
  report: RefreshReport;
  /** Retry policies and notify fallbacks applied to the jobs that ended (policies.ts). */
  policy: PolicyReport;
}

export async function status(ctx: Context, patterns: string[], o: StatusOptions = {}): Promise<StatusResult> {
  // --refresh trusts no cached folder: every ended job's record file is looked at.
  const sel = await listLatest(ctx, patterns, { tolerant: true, endedCache: true, perFile: o.refresh });
  if (patterns.length > 0 && sel.jobs.length === 0 && sel.problems.length === 0) {
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
  return { jobs, report, policy, problems };
}
