import type { CommandDef } from '../command.js';
import { bool, json } from '../command.js';
import { tableText } from '../table-out.js';

export const allocCommand: CommandDef = {
  command: 'alloc <action>',
  describe: 'Show allocations (alloc list)',
  builder: (y) => y.positional('action', { choices: ['list'], describe: 'list' }).option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const { listAllocations } = await import('../../core/allocations.js');
    const allocs = await listAllocations(ctx);
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          allocations: allocs.map((a) => ({ path: a.root, home: a.home, reachable: a.layout !== null, problem: a.problem, projects: a.projects })),
        }),
      );
      return;
    }
    const rows = allocs.map((a) => [a.root + (a.home ? ' (home)' : ''), a.layout ? String(a.projects.length) : '-', a.layout ? 'ok' : `unreachable: ${a.problem}`]);
    io.stdout(tableText(io, ['ALLOCATION', 'PROJECTS', 'STATUS'], rows, { shrink: [0, 2] }));
  },
};
