// qdo pull SOURCE PROJECT [GLOB] (man/qdo-pull.1; spec/porcelain.md §qdo pull; src/core/pull.ts)
import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import { formatBytes } from '../../output/table.js';

export const pullCommand: CommandDef = {
  command: 'pull <source> <project> [glob]',
  describe: 'Copy files (a run folder, a folder, host:path) into a project with rsync',
  builder: (y) =>
    y
      .positional('source', { type: 'string', describe: 'a job revision, a project, a folder, or host:path' })
      .positional('project', { type: 'string', describe: 'the project to copy into (to its pulled/ folder)' })
      .positional('glob', { type: 'string', describe: 'only files matching this pattern ("*.csv" matches at any depth)' })
      .option('to', { type: 'string', describe: 'copy into this folder instead of PROJECT/pulled/NAME' })
      .option('dry-run', { type: 'boolean', describe: 'show what would be copied; copy nothing' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const { pull } = await import('../../core/pull.js');
    const r = await pull(ctx, {
      source: String(args.source),
      project: String(args.project),
      glob: args.glob === undefined ? undefined : String(args.glob),
      to: str(args, 'to'),
      dryRun: bool(args, 'dry-run'),
    });
    const { fullName } = await import('../../core/jobs.js');
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          source: String(args.source),
          kind: r.plan.kind,
          from: r.plan.source,
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
    else io.stdout(`${r.dryRun ? 'would copy' : 'copied'} ${n} from ${r.plan.source} to ${r.plan.destination}\n`);
  },
};
