// qdo pull SOURCE PROJECT [GLOB], and qdo pull REV|PATTERN (no PROJECT: fetch archived run
// folders back) (man/qdo-pull.1; spec/porcelain.md §qdo pull; src/core/pull.ts, src/core/archive.ts)
import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import { formatBytes } from '../../output/table.js';
import { UsageError } from '../../errors.js';

export const pullCommand: CommandDef = {
  command: 'pull <source> [project] [glob]',
  describe: 'Copy files (a run folder, a folder, host:path) into a project with rsync; without PROJECT, fetch archived run folders back',
  builder: (y) =>
    y
      .positional('source', { type: 'string', describe: 'a job revision, a project, a folder, or host:path (without PROJECT: REV or PATTERN)' })
      .positional('project', { type: 'string', describe: 'the project to copy into (to its pulled/ folder)' })
      .positional('glob', { type: 'string', describe: 'only files matching this pattern ("*.csv" matches at any depth)' })
      .option('to', { type: 'string', describe: 'copy into this folder instead of PROJECT/pulled/NAME' })
      .option('all-versions', { alias: 'a', type: 'boolean', describe: 'without PROJECT: every archived version of the selected jobs, not only the latest' })
      .option('dry-run', { type: 'boolean', describe: 'show what would be copied; copy nothing' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const { fullName } = await import('../../core/jobs.js');
    const project = str(args, 'project');
    if (project === undefined) {
      if (str(args, 'to') !== undefined) throw new UsageError('--to goes with a PROJECT; without one, archived run folders go back to their own place');
      const { restoreArchived } = await import('../../core/archive.js');
      const r = await restoreArchived(ctx, String(args.source), { dryRun: bool(args, 'dry-run'), allVersions: bool(args, 'all-versions') });
      if (bool(args, 'json')) {
        io.stdout(
          json({
            version: 1,
            dry_run: r.dryRun,
            restored: r.restored.map((x) => ({ job: fullName(x.job), id: x.job.id, job_version: x.job.version, from: x.from, path: x.path, files: x.files, bytes: x.bytes })),
            skipped: r.skipped.map((x) => ({ job: fullName(x.job), id: x.job.id, job_version: x.job.version, reason: x.reason })),
          }),
        );
        return;
      }
      for (const x of r.restored) {
        io.stdout(`${r.dryRun ? 'would fetch' : 'fetched'} ${fullName(x.job)}@${x.job.version}: ${x.files.length} file(s) (${formatBytes(x.bytes)}) from ${x.from} into ${x.path}\n`);
      }
      for (const x of r.skipped) io.stdout(`skipped ${fullName(x.job)}@${x.job.version}: ${x.reason}\n`);
      return;
    }
    if (bool(args, 'all-versions')) throw new UsageError('--all-versions goes with pull REV|PATTERN alone (fetching archived run folders back)');
    const { pull } = await import('../../core/pull.js');
    const r = await pull(ctx, {
      source: String(args.source),
      project,
      glob: args.glob === undefined ? undefined : String(args.glob),
      to: str(args, 'to'),
      dryRun: bool(args, 'dry-run'),
    });
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          source: String(args.source),
          kind: r.plan.kind,
          from: r.plan.source,
          from_archive: r.plan.fromArchive,
          job: r.plan.job ? fullName(r.plan.job) : null,
          id: r.plan.job ? r.plan.job.id : null,
          destination: r.plan.destination,
          dry_run: r.dryRun,
          files: r.files,
          bytes: r.bytes,
        }),
      );
      return;
    }
    if (r.dryRun) for (const f of r.files) io.stdout(`${f.path}\n`);
    const n = `${r.files.length} file(s) (${formatBytes(r.bytes)})`;
    if (r.files.length === 0) io.stdout(`nothing to copy: ${r.plan.destination} has every file of ${r.plan.source}${args.glob === undefined ? '' : ` matching "${String(args.glob)}"`}\n`);
    else io.stdout(`${r.dryRun ? 'would copy' : 'copied'} ${n} from ${r.plan.source}${r.plan.fromArchive ? ' (the archive)' : ''} to ${r.plan.destination}\n`);
  },
};
