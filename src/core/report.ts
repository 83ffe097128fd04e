// What the status page shows (`qdo report --html`, `qdo serve`; man/qdo-report.1): every
// job across the allocations as `qdo status` sees it (states refreshed the same way), each
// with its recent versions, the sweeps' progress and the allocations. Plain data: the page
// itself is rendered by src/output/html-report.ts.
import { join } from 'node:path';
import type { Context } from '../context.js';
import { isTerminal } from '../model/states.js';
import type { Runner } from '../scheduler/runner.js';
import { STDERR_LOG, STDOUT_LOG } from '../scheduler/wrapper.js';
import { statOrNull } from '../util/fs.js';
import { historyOf, mapBounded, runDirOfJob, type JobVersion } from './jobs.js';
import { status } from './status.js';
import { allAllocations } from './world.js';
import type { JobEntry, ReportData, SweepProgress, VersionEntry } from '../model/report.js';

export type { JobEntry, ReportData, SweepProgress, VersionEntry };

/** Versions shown per job, newest first (older ones: qdo log). */
export const HISTORY_MAX = 10;

export interface ReportOptions {
  patterns?: string[];
  runner?: Runner;
  /** Read the versions before the latest (default true). */
  history?: boolean;
}

async function entry(j: JobVersion): Promise<VersionEntry> {
  const s = j.sub;
  const runDir = runDirOfJob(j);
  const [out, err] = await Promise.all([statOrNull(join(runDir, STDOUT_LOG)), statOrNull(join(runDir, STDERR_LOG))]);
  return {
    version: j.version,
    id: j.id,
    latest: j.latest,
    state: s ? s.state : 'unsubmitted',
    exitCode: s?.exit_code ?? null,
    reason: s?.reason ?? null,
    scheduler: s?.scheduler ?? null,
    schedId: s?.sched_id ?? null,
    submitted: s?.submitted ?? null,
    stateTime: s?.state_time ?? null,
    runDir,
    stdout: out?.isFile() ? join(runDir, STDOUT_LOG) : null,
    stderr: err?.isFile() ? join(runDir, STDERR_LOG) : null,
  };
}

export async function reportData(ctx: Context, o: ReportOptions = {}): Promise<ReportData> {
  // Every job, wherever the command runs ("**/*" rather than the current project's).
  const patterns = o.patterns && o.patterns.length ? o.patterns : ['**/*'];
  const allocs = await allAllocations(ctx);
  const r = await status(ctx, patterns, { runner: o.runner }).catch((e: unknown) => {
    if ((e as { code?: string }).code === 'no-match' && !(o.patterns && o.patterns.length)) return null; // no jobs at all
    throw e;
  });
  const latest = r?.jobs ?? [];
  const problems: string[] = [];
  const jobs = await mapBounded(latest, 16, async (j): Promise<JobEntry> => {
    let history: VersionEntry[] = [];
    let more = 0;
    if (o.history !== false) {
      try {
        const h = await historyOf(j);
        more = Math.max(0, h.length - HISTORY_MAX);
        history = await Promise.all(h.slice(0, HISTORY_MAX).map((v) => entry(v.job)));
      } catch (e) {
        problems.push(`${j.project}/${j.name}: history not read: ${(e as Error).message}`);
      }
    }
    const e = await entry(j);
    const sweep = (j.sub?.sweep as { id?: unknown } | undefined)?.id;
    return { ...e, job: `${j.project}/${j.name}`, project: j.project, name: j.name, sweep: typeof sweep === 'string' ? sweep : null, history: history.length ? history : [e], more };
  });
  const states: Record<string, number> = {};
  const sweeps = new Map<string, SweepProgress>();
  for (const j of jobs) {
    states[j.state] = (states[j.state] ?? 0) + 1;
    if (j.sweep) {
      let s = sweeps.get(j.sweep);
      if (!s) sweeps.set(j.sweep, (s = { id: j.sweep, total: 0, ended: 0, states: {} }));
      s.total++;
      if (isTerminal(j.state)) s.ended++;
      s.states[j.state] = (s.states[j.state] ?? 0) + 1;
    }
  }
  for (const g of r?.report.groups ?? []) if (g.problem) problems.push(`${g.jobs} job(s) of ${g.scheduler} (${g.cluster}) not refreshed: ${g.problem}`);
  for (const p of r?.policy.problems ?? []) problems.push(`${p.job.project}/${p.job.name}@${p.job.version}: ${p.message}`);
  return {
    generated: ctx.now().toISOString(),
    host: ctx.host,
    allocations: allocs.map((a) => ({ path: a.root, home: a.home, reachable: a.layout !== null, problem: a.problem, projects: a.projects.length })),
    jobs,
    sweeps: [...sweeps.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
    states,
    sources: (r?.report.groups ?? []).map((g) => ({ scheduler: g.scheduler, cluster: g.cluster, jobs: g.jobs, lastQuery: g.last, problem: g.problem })),
    problems,
  };
}
