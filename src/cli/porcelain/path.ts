// qdo path REV [--task INDEX] (man/qdo-path.1): the run folder, for `cd "$(qdo path p/j)"`.
import type { CommandDef } from '../command.js';
import { str } from '../command.js';

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
    io.stdout(r.path + '\n');
  },
};
