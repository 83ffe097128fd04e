// qdo artifacts REV [GLOB] [--json] (man/qdo-artifacts.1; spec/porcelain.md §qdo artifacts)
import type { CommandDef } from '../command.js';
import { bool, json } from '../command.js';
import { formatBytes } from '../../output/table.js';
import { tableText } from '../table-out.js';
import { formatAge } from '../job-format.js';

export const artifactsCommand: CommandDef = {
  command: 'artifacts <rev> [glob]',
  describe: "List the files in a job version's run folder",
  builder: (y) =>
    y
      .positional('rev', { type: 'string', describe: 'PROJECT/JOB, a revision like JOB@2, or an id prefix' })
      .positional('glob', { type: 'string', describe: 'only files matching this pattern (default **; "*.csv" matches at any depth)' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const { listArtifacts } = await import('../../core/artifacts.js');
    const glob = args.glob === undefined ? undefined : String(args.glob);
    const r = await listArtifacts(ctx, String(args.rev), glob);
    const { fullName } = await import('../../core/jobs.js');
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          job: fullName(r.job),
          id: r.job.id,
          job_version: r.job.version,
          run_dir: r.runDir,
          glob: r.glob,
          files: r.files.map((f) => ({ path: f.path, size: f.size, mtime: f.mtime.toISOString(), kind: f.kind })),
        }),
      );
      return r.files.length === 0 ? 1 : 0;
    }
    if (r.files.length === 0) {
      io.stderr(`qdo: no file in ${r.runDir} matches "${r.glob}"\n`);
      return 1;
    }
    const now = ctx.now().getTime();
    const rows = r.files.map((f) => [f.kind, formatBytes(f.size), `${formatAge(now - f.mtime.getTime())} ago`, f.path]);
    // qdo's own files are marked dim on a colour terminal: the job's outputs are what one looks for.
    io.stdout(tableText(io, ['KIND', 'SIZE', 'MODIFIED', 'PATH'], rows, { shrink: [3], cell: (c, i) => (io.color && i === 0 && c === 'qdo' ? `\x1b[2m${c}\x1b[0m` : c) }));
    if (io.isTTY) {
      const total = r.files.reduce((n, f) => n + f.size, 0);
      io.stdout(`${r.files.length} file(s), ${formatBytes(total)}, in ${r.runDir}\n`);
    }
    return 0;
  },
};
