// qdo sweep FILE (spec/sweeps.md; man/qdo-sweep.1; --json: spec/porcelain.md §qdo sweep)
import { resolve } from 'node:path';
import type { CommandDef } from '../command.js';
import { bool, str, strs } from '../command.js';
import { POOL_OPTION, scaleAfterSubmit, schedulerOption } from '../pool-flag.js';
import { widenThreadPool } from '../thread-pool.js';

export const sweepCommand: CommandDef = {
  command: 'sweep <file>',
  describe: 'Submit the job groups of a sweep file (YAML or JSON), packed into array jobs',
  builder: (y) =>
    y
      .positional('file', { type: 'string', describe: 'sweep file: .json, else YAML' })
      .option('scheduler', { type: 'string', describe: 'slurm, pbs, torque, local or a plugin (over the file and the defaults)' })
      .option('pool', POOL_OPTION)
      .option('array', { type: 'boolean', default: true, describe: 'pack each group into array jobs (--no-array: one submit per job)' })
      .option('workdir', { type: 'string', describe: 'where every job runs: run (default), project, or a folder (over the file)' })
      .option('env-name', { type: 'string', describe: 'a named environment from config for every job (over the file)' })
      .option('sched-arg', { type: 'string', array: true, describe: 'raw scheduler option for every job, appended to the file\'s (repeatable)' })
      .option('hold', { type: 'boolean', describe: 'submit held (release with qdo release)' })
      .option('dry-run', { type: 'boolean', describe: 'list every point and show the array script; change nothing' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    widenThreadPool();
    const { readSweepFile } = await import('../../core/sweep-file.js');
    const { runSweep } = await import('../../core/sweep.js');
    const { printSweep } = await import('../sweep-format.js');
    const { progressBar } = await import('../progress.js');
    const f = await readSweepFile(ctx, str(args, 'file')!);
    const bar = progressBar(io);
    try {
      const workdir = str(args, 'workdir');
      const envName = str(args, 'env-name');
      const extra = strs(args, 'sched-arg');
      const groups = f.groups.map((g) => ({
        ...g,
        // A flag's relative folder is relative to where qdo runs, not to the file.
        ...(workdir !== undefined ? { workdir: workdir === 'run' || workdir === 'project' ? workdir : resolve(ctx.cwd, workdir) } : {}),
        ...(envName !== undefined ? { envName } : {}),
        ...(extra.length ? { flagSchedArgs: extra } : {}),
      }));
      const r = await runSweep(ctx, {
        groups,
        scheduler: schedulerOption(args) ?? f.def.scheduler,
        noArray: args.array === false,
        hold: bool(args, 'hold'),
        dryRun: bool(args, 'dry-run'),
        onProgress: (p) => bar.update(p.phase === 'prepare' ? 'preparing' : 'submitting', p.done, p.total),
      });
      bar.done();
      printSweep(io, r, bool(args, 'json'));
      if (!r.dryRun) await scaleAfterSubmit({ ctx, io }, r.chunks.map((c) => c.scheduler));
    } finally {
      bar.done();
    }
  },
};
