// qdo alloc list | remove PATH | move OLD NEW (man/qdo-alloc.1; spec/porcelain.md §qdo alloc;
// src/core/allocations.ts).
import type { CommandDef } from '../command.js';
import { bool, json } from '../command.js';
import { tableText } from '../table-out.js';
import { UsageError } from '../../errors.js';

export const allocCommand: CommandDef = {
  command: 'alloc <action> [paths..]',
  describe: 'Show and manage registered allocations (alloc list, alloc remove PATH, alloc move OLD NEW)',
  builder: (y) =>
    y
      .positional('action', { choices: ['list', 'remove', 'move'], describe: 'list, remove PATH, or move OLD NEW' })
      .positional('paths', { type: 'string', array: true, describe: 'PATH (remove), OLD NEW (move)' })
      .option('force', { type: 'boolean', describe: 'remove: even if it holds reachable projects; move: even if OLD still holds an allocation' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/allocations.js');
    const paths = ((args.paths as unknown[] | undefined) ?? []).map(String);
    const force = bool(args, 'force');
    if (args.action === 'remove') {
      if (paths.length !== 1) throw new UsageError('alloc remove needs exactly one PATH');
      const r = await core.removeAllocation(ctx, paths[0]!, { force });
      if (bool(args, 'json')) io.stdout(json({ version: 1, path: r.root, reachable: r.reachable, projects: r.projects, notes: r.notes }));
      else {
        io.stdout(`removed allocation ${r.root} from the list${r.projects.length ? ` (its ${r.projects.length} project(s) are no longer known: qdo init ${r.root} brings them back)` : ''}; no file was deleted\n`);
        for (const n of r.notes) io.stderr(`qdo: note: ${n}\n`);
      }
      return;
    }
    if (args.action === 'move') {
      if (paths.length !== 2) throw new UsageError('alloc move needs OLD and NEW');
      const r = await core.moveAllocation(ctx, paths[0]!, paths[1]!, { force });
      if (bool(args, 'json')) io.stdout(json({ version: 1, old: r.old, new: r.new, projects: r.projects, records: r.records, notes: r.notes }));
      else {
        io.stdout(`allocation ${r.old} is now ${r.new} (${r.projects.length} project(s))\n`);
        for (const n of r.notes) io.stderr(`qdo: note: ${n}\n`);
      }
      return;
    }
    if (paths.length > 0) throw new UsageError('alloc list takes no PATH');
    const allocs = await core.listAllocations(ctx);
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          allocations: allocs.map((a) => ({ path: a.root, home: a.home, reachable: a.layout !== null, shared: a.layout?.shared === true, problem: a.problem, projects: a.projects })),
        }),
      );
      return;
    }
    const rows = allocs.map((a) => [a.root + (a.home ? ' (home)' : ''), a.layout ? String(a.projects.length) : '-', a.layout ? (a.layout.shared ? 'ok, shared with its group' : 'ok') : `unreachable: ${a.problem}`]);
    io.stdout(tableText(io, ['ALLOCATION', 'PROJECTS', 'STATUS'], rows, { shrink: [0, 2] }));
    const gone = allocs.filter((a) => !a.layout);
    if (gone.length > 0) io.stderr(`hint: mount an unreachable allocation, or if it is gone for good: qdo alloc remove ${gone.length === 1 ? gone[0]!.root : 'PATH'}\n`);
  },
};
