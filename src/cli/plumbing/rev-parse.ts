// Output: spec/plumbing/rev-parse.md
import type { CommandDef } from '../command.js';
import { bool, strs } from '../command.js';
import { jsonDocument } from '../../output/json.js';

export const revParseCommand: CommandDef = {
  command: 'rev-parse <rev..>',
  describe: 'Print the manifest id each REV names',
  builder: (y) => y.positional('rev', { type: 'string', array: true, describe: 'PROJECT/JOB, JOB, JOB@N, JOB~N or an id prefix' }),
  async run(args, { ctx, io }) {
    const { resolveRev } = await import('../../core/revs.js');
    const { allAllocations } = await import('../../core/world.js');
    const allocs = await allAllocations(ctx);
    const revs: { rev: string; id: string; job: string; job_version: number }[] = [];
    for (const rev of strs(args, 'rev')) {
      const r = await resolveRev(ctx, rev, allocs);
      revs.push({ rev, id: r.id, job: `${r.project}/${r.name}`, job_version: r.manifest.version });
    }
    io.stdout(bool(args, 'json') ? jsonDocument({ revs }) : revs.map((r) => r.id + '\n').join(''));
  },
};
