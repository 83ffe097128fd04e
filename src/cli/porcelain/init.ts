import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';

export const initCommand: CommandDef = {
  command: 'init [dir]',
  describe: 'Make DIR (default: the current folder) an allocation and register it',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', describe: 'folder to make an allocation' })
      .option('shared-group', { type: 'boolean', describe: 'share it with its group: accept group write access (spec/trust.md)' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const { initAllocation } = await import('../../core/allocations.js');
    const r = await initAllocation(ctx, str(args, 'dir'), { sharedGroup: bool(args, 'shared-group') });
    const shared = r.shared && !r.home ? ' (shared with its group)' : '';
    if (bool(args, 'json')) io.stdout(json({ version: 1, ...r }));
    else if (r.home) io.stdout(`${r.root} is the home allocation\n`);
    else if (r.created) io.stdout(`initialised allocation ${r.root}${shared}\n`);
    else if (r.registered) io.stdout(`registered existing allocation ${r.root}${shared}\n`);
    else io.stdout(`${r.root} is already an allocation${shared}\n`);
  },
};
