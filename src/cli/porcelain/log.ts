// qdo log JOB (spec/porcelain.md §qdo log; man/qdo-log.1)
import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import { UsageError } from '../../errors.js';
import { jobJson, stateCell } from '../job-format.js';

export const logCommand: CommandDef = {
  command: 'log <job>',
  describe: "A job's versions, newest first, each with what changed from the one before",
  builder: (y) =>
    y
      .positional('job', { type: 'string', describe: 'PROJECT/JOB (or a revision: the history up to it)' })
      .option('max-count', { type: 'string', alias: 'n', describe: 'show at most N versions' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const n = str(args, 'max-count');
    let limit: number | undefined;
    if (n !== undefined) {
      if (!/^\d+$/.test(n) || Number(n) < 1) throw new UsageError(`--max-count (-n): expected a whole number >= 1, found ${JSON.stringify(n)}`, { code: 'bad-count' });
      limit = Number(n);
    }
    const core = await import('../../core/inspect.js');
    const r = await core.jobLog(ctx, str(args, 'job')!, { limit });
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          job: `${r.project}/${r.name}`,
          versions: r.entries.map((e) => ({
            ...jobJson(e.job),
            parent: e.manifest.parent,
            created: e.manifest.created,
            first: e.first,
            changed: e.changed,
            changes: e.summary,
          })),
          more: r.more,
        }),
      );
      return;
    }
    const out: string[] = [];
    for (const e of r.entries) {
      const s = e.job.sub;
      const head = `${core.versionLabel(e.job)} ${e.job.id}${e.job.latest ? ' (latest)' : ''}`;
      out.push(`${io.color ? `\x1b[33m${head}\x1b[0m` : head}\n`);
      out.push(`Created: ${e.manifest.created}\n`);
      out.push(`State:   ${s ? `${stateCell(s.state, io.color)}${s.exit_code !== null ? `, exit ${s.exit_code}` : ''}${s.sched_id ? ` (${s.scheduler} job ${s.sched_id})` : ''}` : 'unsubmitted'}\n`);
      const changes = e.first ? 'first version' : e.summary.length ? e.summary.join('; ') : 'none (the same job submitted again)';
      out.push(`Changes: ${changes}\n\n`);
    }
    if (r.more > 0) out.push(`… ${r.more} older version(s) not shown (without -n, all are)\n`);
    else if (out.length) out[out.length - 1] = out[out.length - 1]!.replace(/\n\n$/, '\n');
    io.stdout(out.join(''));
    for (const g of r.groups) if (g.problem) io.stderr(`qdo: states not refreshed: ${g.problem}\n`);
  },
};
