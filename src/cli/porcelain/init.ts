import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';

export const initCommand: CommandDef = {
  command: 'init [dir]',
  describe: 'Make DIR (default: the current folder) an allocation and register it',
  builder: (y) => y.positional('dir', { type: 'string', describe: 'folder to make an allocation' }).option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const { initAllocation } = await import('../../core/allocations.js');
    const r = await initAllocation(ctx, str(args, 'dir'));
    if (bool(args, 'json')) io.stdout(json({ version: 1, ...r }));
    else if (r.home) io.stdout(`${r.root} is the home allocation\n`);
    else if (r.created) io.stdout(`initialised allocation ${r.root}\n`);
    else if (r.registered) io.stdout(`registered existing allocation ${r.root}\n`);
    else io.stdout(`${r.root} is already an allocation\n`);
  },
};
