// qdo status [PATTERN…] (alias ls; spec/submissions.md §Refresh; man/qdo-status.1)
import type { CommandDef } from '../command.js';
import { ExitCode } from '../../errors.js';
import { bool, str, strs } from '../command.js';
import { writeJsonTo } from '../../output/json.js';
import { writeTable } from '../table-out.js';
import { formatAge, jobJson, stateCell, STATUS_HEADERS, STATUS_SHRINK, statusRow } from '../job-format.js';
import { DEFAULT_SINCE, hiddenJson, hiddenNote, SINCE_DESCRIBE, sinceOf } from '../since.js';

export const statusCommand: CommandDef = {
  command: ['status [patterns..]', 'ls [patterns..]'],
  describe: 'Where every job stands: one table across allocations, or the current project',
  builder: (y) =>
    y
      .positional('patterns', { type: 'string', array: true, describe: 'PROJECT, PROJECT/JOB or glob ("paper/*", "train-*")' })
      .option('all-versions', { type: 'boolean', alias: 'a', describe: 'show superseded versions too' })
      .option('refresh', { type: 'boolean', describe: 'ask the scheduler now, even within the status interval' })
      .option('since', { type: 'string', describe: SINCE_DESCRIBE })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/status.js');
    const all = bool(args, 'all-versions');
    const patterns = strs(args, 'patterns');
    const json = bool(args, 'json');
    const now = ctx.now();
    // The overview (no pattern) leaves out jobs that ended long ago; a pattern, --json or
    // --since all lists every job it selects (spec/porcelain.md §qdo status).
    const sinceArg = str(args, 'since') ?? (patterns.length === 0 && !json ? DEFAULT_SINCE : 'all');
    const since = sinceOf(sinceArg, now);
    const r = await core.status(ctx, patterns, { allVersions: all, refresh: bool(args, 'refresh'), since });
    for (const p of r.policy.problems) io.stderr(`qdo: ${p.job.project}/${p.job.name}@${p.job.version}: ${p.message}\n`);
    for (const x of r.policy.archived ?? []) io.stderr(`qdo: ${x.project}/${x.name}@${x.version} ended ${x.sub?.state}; archived to ${(x.sub?.archived as { to?: string } | undefined)?.to}\n`);
    for (const x of r.policy.retried) io.stderr(`qdo: ${x.from.project}/${x.from.name}@${x.from.version} ended ${x.from.sub?.state}; retried as @${x.to.version} (retry policy)\n`);
    // Damage hides nothing else: the readable jobs are listed, each unreadable one named (exit 7).
    for (const p of r.problems) io.stderr(`qdo: ${p.subject}: ${p.error.message}\n`);
    if (r.problems.length > 0) io.stderr(`hint: ${r.problems[0]!.error.hint ?? 'qdo fsck shows what is damaged; qdo fsck --repair fixes what it can'}\n`);
    // A scheduler that was asked and failed is not a clean answer (spec/porcelain.md §qdo status).
    const failed = r.report.groups.find((g) => g.error !== undefined)?.error;
    const code = r.problems.length > 0 ? ExitCode.repository : failed ? failed.exitCode : 0;
    if (bool(args, 'json')) {
      // Written in pieces, each job's object made as it is written (10^5 jobs: 55 MB).
      const doc = {
        version: 1,
        jobs: r.jobs,
        sources: r.report.groups.map((g) => ({ scheduler: g.scheduler, cluster: g.cluster, jobs: g.jobs, queried: g.queried, last_query: g.last, problem: g.problem })),
        ...(r.problems.length ? { problems: r.problems.map((p) => ({ subject: p.subject, code: p.error.code, message: p.error.message })) } : {}),
        ...(r.hidden && since !== undefined ? { hidden: hiddenJson(r.hidden, since) } : {}),
      };
      writeJsonTo(io.stdout, doc, { jobs: jobJson });
      return code;
    }
    const left = r.hidden && r.hidden.count > 0 && since !== undefined ? hiddenNote(r.hidden, since, str(args, 'since') === undefined) : null;
    if (r.jobs.length === 0) {
      if (left !== null) io.stderr(left);
      else if (r.problems.length === 0) io.stdout('no jobs yet (submit one with: qdo submit PROJECT/JOB --script FILE)\n');
      return code;
    }
    const rows = r.jobs.map((j) => statusRow(j, now, all));
    writeTable(io, STATUS_HEADERS, rows, { shrink: STATUS_SHRINK, cell: (c, i) => (i === 2 ? stateCell(c, io.color) : c) });
    for (const g of r.report.groups) {
      const age = g.last ? `${formatAge(now.getTime() - Date.parse(g.last))} ago` : 'never';
      if (g.problem) io.stderr(`qdo: ${g.jobs} job(s) not refreshed: ${g.problem}\n`);
      else if (io.isTTY) io.stdout(`states from ${g.scheduler} (${g.cluster}) asked ${age}${g.queried ? '' : '; --refresh to ask now'}\n`);
    }
    if (left !== null) io.stderr(left);
    return code;
  },
};
