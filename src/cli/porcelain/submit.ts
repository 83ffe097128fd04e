// qdo submit PROJECT/JOB (spec/submissions.md §Submitting; man/qdo-submit.1)
import type { CommandDef } from '../command.js';
import { bool, json, str, strs } from '../command.js';
import type { Args } from '../command.js';
import type { CliEnv } from '../io.js';
import { UsageError } from '../../errors.js';
import { keyValues, withResourceFlags } from '../plumbing/sched.js';
import { POOL_OPTION, scaleAfterSubmit, schedulerOption } from '../pool-flag.js';
import { widenThreadPool } from '../thread-pool.js';

/** `qdo submit NAME-TEMPLATE --grid …`: one sweep group (spec/sweeps.md). */
async function runGridSweep(args: Args, { ctx, io }: CliEnv, noArray: boolean): Promise<void> {
  widenThreadPool();
  const { runSweep } = await import('../../core/sweep.js');
  const { parseParamList } = await import('../../model/sweep-points.js');
  const { printSweep } = await import('../sweep-format.js');
  const { progressBar } = await import('../progress.js');
  const job = str(args, 'job')!;
  const bar = progressBar(io);
  try {
    const r = await runSweep(ctx, {
      groups: [
        {
          field: '--grid',
          id: job,
          job,
          script: str(args, 'script'),
          command: strs(args, '--'),
          set: keyValues(args, 'set'),
          grids: strs(args, 'grid').map((g) => parseParamList(g, 'grid')),
          zips: strs(args, 'zip').map((z) => parseParamList(z, 'zip')),
          flags: args as Record<string, string | undefined>,
          env: keyValues(args, 'env'),
          after: strs(args, 'after'),
          afterGroups: [],
          prologue: str(args, 'prologue'),
          epilogue: str(args, 'epilogue'),
          retryOn: str(args, 'retry-on'),
          notify: str(args, 'notify'),
          workdir: str(args, 'workdir'),
          envName: str(args, 'env-name'),
          schedArgs: strs(args, 'sched-arg'),
        },
      ],
      scheduler: schedulerOption(args),
      noArray,
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
}

export const submitCommand: CommandDef = {
  command: 'submit <job>',
  describe: 'Submit a job from a template or a command (a new version if the name exists)',
  builder: (y) =>
    withResourceFlags(
      y
        .positional('job', { type: 'string', describe: 'PROJECT/JOB, or JOB inside a project folder' })
        .option('script', { type: 'string', describe: 'template: a resource of the project, or a file' })
        .option('set', { type: 'string', array: true, describe: 'template parameter KEY=VALUE (also QDO_PARAM_KEY in the job)' })
        .option('grid', { type: 'string', array: true, describe: 'sweep: one job per value, KEY=V1,V2,… (repeatable: all combinations; the job name is a template); --no-array: one submit per job' })
        .option('zip', { type: 'string', array: true, describe: 'sweep: lists advancing together, KEY=V1,V2,… (same lengths; combined with --grid)' })
        .option('env', { type: 'string', array: true, describe: 'environment KEY=VALUE for the job' })
        .option('after', { type: 'string', array: true, describe: 'start after this job succeeded (REV; repeatable)' })
        .option('prologue', { type: 'string', describe: 'file sourced before the script' })
        .option('epilogue', { type: 'string', describe: 'file run after the script' })
        .option('retry-on', { type: 'string', describe: 'resubmit after these ends: node-fail,preempted[:N]' })
        .option('notify', { type: 'string', describe: 'shell command run when the job ends (QDO_* and QDO_STATE set)' })
        .option('scheduler', { type: 'string', describe: 'slurm, pbs, torque, local or a plugin (default: detected)' })
        .option('pool', POOL_OPTION)
        .option('workdir', { type: 'string', describe: 'where the job runs: run (its run folder, default), project, or a folder' })
        .option('env-name', { type: 'string', describe: 'a named environment from config (modules, venv/conda, env, container); none: without' })
        .option('sched-arg', { type: 'string', array: true, describe: 'raw scheduler option passed verbatim, e.g. --sched-arg=--qos=debug (repeatable)' })
        .option('hold', { type: 'boolean', describe: 'submit held (release with qdo release)' })
        .option('check', { type: 'boolean', describe: 'ask the scheduler whether it would accept the job (sbatch --test-only); record nothing' })
        .option('dry-run', { type: 'boolean', describe: 'print the exact script for the scheduler; change nothing' })
        .option('json', { type: 'boolean', describe: 'machine-readable output' }),
    ),
  async run(args, { ctx, io }) {
    // yargs reads --no-array as "array: false" (boolean negation of the resource flag --array).
    const noArray = args.array === false || (Array.isArray(args.array) && args.array.includes(false));
    if (noArray) args = { ...args, array: Array.isArray(args.array) ? args.array.filter((x) => x !== false) : undefined };
    if (Array.isArray(args.array) && args.array.length <= 1) args.array = args.array[0];
    if (strs(args, 'grid').length || strs(args, 'zip').length) {
      if (bool(args, 'check')) throw new UsageError('--check asks about one job; for a sweep, --dry-run shows the array scripts', { code: 'bad-flag' });
      return runGridSweep(args, { ctx, io }, noArray);
    }
    if (noArray) throw new UsageError('--no-array applies to sweeps (--grid, --zip)', { code: 'bad-flag' });
    const core = await import('../../core/submit.js');
    const r = await core.submit(ctx, {
      job: str(args, 'job')!,
      script: str(args, 'script'),
      command: strs(args, '--'),
      params: keyValues(args, 'set'),
      flags: args as Record<string, string | undefined>,
      env: keyValues(args, 'env'),
      after: strs(args, 'after'),
      prologue: str(args, 'prologue'),
      epilogue: str(args, 'epilogue'),
      retryOn: str(args, 'retry-on'),
      notify: str(args, 'notify'),
      scheduler: schedulerOption(args),
      hold: bool(args, 'hold'),
      dryRun: bool(args, 'dry-run'),
      workdir: str(args, 'workdir'),
      envName: str(args, 'env-name'),
      schedArgs: strs(args, 'sched-arg'),
      check: bool(args, 'check'),
    });
    if (r.check) {
      const label = `${r.project}/${r.name}@${r.version}`;
      if (bool(args, 'json')) {
        io.stdout(json({ version: 1, job: `${r.project}/${r.name}`, job_version: r.version, scheduler: r.scheduler, accepted: r.check.accepted, message: r.check.message }));
      } else if (r.check.accepted) {
        io.stdout(`${label} would be accepted by ${r.scheduler}: ${r.check.message}\n`);
      } else {
        io.stderr(`qdo: ${r.scheduler} would refuse ${label}: ${r.check.message}\n`);
      }
      // A refusal is a negative answer (spec/exit-codes.md): exit 1.
      return r.check.accepted ? 0 : 1;
    }
    if (!r.dryRun) await scaleAfterSubmit({ ctx, io }, [r.scheduler]);
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          job: `${r.project}/${r.name}`,
          project: r.project,
          name: r.name,
          id: r.id,
          job_version: r.version,
          parent: r.parent,
          scheduler: r.scheduler,
          cluster: r.cluster,
          sched_id: r.schedId,
          state: r.state,
          run_dir: r.runDir,
          dry_run: r.dryRun,
          ...(r.dryRun ? { script: r.script } : {}),
        }),
      );
    } else if (r.dryRun) {
      io.stdout(r.script);
    } else {
      io.stdout(`${r.project}/${r.name}@${r.version} ${r.state}: ${r.scheduler} job ${r.schedId}${r.parent ? ` (supersedes @${r.version - 1})` : ''}\n`);
    }
  },
};
