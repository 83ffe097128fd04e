// Output: spec/plumbing/rev-parse.md
import type { CommandDef } from '../command.js';
import { strs } from '../command.js';

export const revParseCommand: CommandDef = {
  command: 'rev-parse <rev..>',
  describe: 'Print the manifest id each REV names',
  builder: (y) => y.positional('rev', { type: 'string', array: true, describe: 'PROJECT/JOB, JOB, JOB@N, JOB~N or an id prefix' }),
  async run(args, { ctx, io }) {
    const { resolveRev } = await import('../../core/revs.js');
    const { allAllocations } = await import('../../core/world.js');
    const allocs = await allAllocations(ctx);
    let out = '';
    for (const rev of strs(args, 'rev')) out += (await resolveRev(ctx, rev, allocs)).id + '\n';
    io.stdout(out);
  },
};
