// qdo submit PROJECT/JOB (spec/submissions.md §Submitting; man/qdo-submit.1)
import type { CommandDef } from '../command.js';
import { bool, json, str, strs } from '../command.js';
import { keyValues, withResourceFlags } from '../plumbing/sched.js';

export const submitCommand: CommandDef = {
  command: 'submit <job>',
  describe: 'Submit a job from a template or a command (a new version if the name exists)',
  builder: (y) =>
    withResourceFlags(
      y
        .positional('job', { type: 'string', describe: 'PROJECT/JOB, or JOB inside a project folder' })
        .option('script', { type: 'string', describe: 'template: a resource of the project, or a file' })
        .option('set', { type: 'string', array: true, describe: 'template parameter KEY=VALUE (also QDO_PARAM_KEY in the job)' })
        .option('env', { type: 'string', array: true, describe: 'environment KEY=VALUE for the job' })
        .option('after', { type: 'string', array: true, describe: 'start after this job succeeded (REV; repeatable)' })
        .option('prologue', { type: 'string', describe: 'file sourced before the script' })
        .option('epilogue', { type: 'string', describe: 'file run after the script' })
        .option('retry-on', { type: 'string', describe: 'resubmit after these ends: node-fail,preempted[:N]' })
        .option('notify', { type: 'string', describe: 'shell command run when the job ends (QDO_* and QDO_STATE set)' })
        .option('scheduler', { type: 'string', describe: 'slurm, pbs, torque, local or a plugin (default: detected)' })
        .option('hold', { type: 'boolean', describe: 'submit held (release with qdo release)' })
        .option('dry-run', { type: 'boolean', describe: 'print the exact script for the scheduler; change nothing' })
        .option('json', { type: 'boolean', describe: 'machine-readable output' }),
    ),
  async run(args, { ctx, io }) {
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
      scheduler: str(args, 'scheduler'),
      hold: bool(args, 'hold'),
      dryRun: bool(args, 'dry-run'),
    });
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
