// qdo path REV [--task INDEX] (man/qdo-path.1): the run folder, for `cd "$(qdo path p/j)"`.
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import { jsonDocument } from '../../output/json.js';

export const pathCommand: CommandDef = {
  command: 'path <rev>',
  describe: "Print a job version's run folder",
  builder: (y) =>
    y
      .positional('rev', { type: 'string', describe: 'PROJECT/JOB, a revision like JOB@2, or an id prefix' })
      .option('task', { type: 'string', describe: "an array task's folder (its index)" }),
  async run(args, { ctx, io }) {
    const { pathOf } = await import('../../core/run-folder.js');
    const r = await pathOf(ctx, String(args.rev), str(args, 'task'));
    if (bool(args, 'json')) io.stdout(jsonDocument({ job: `${r.job.project}/${r.job.name}`, id: r.job.id, job_version: r.job.version, task: str(args, 'task') ?? null, path: r.path }));
    else io.stdout(r.path + '\n');
  },
};
