// qdo resource add | list | show (man/qdo-resource.1; spec/porcelain.md §qdo resource;
// src/core/resources.ts).
import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import { formatBytes } from '../../output/table.js';
import { tableText } from '../table-out.js';
import { bytesJson } from '../../output/json.js';
import { UsageError } from '../../errors.js';

export const resourceCommand: CommandDef = {
  command: 'resource <action> [target] [file]',
  describe: 'Keep files for jobs (resource add PROJECT FILE | add --shared FILE, resource list [PROJECT], resource show [PROJECT:]NAME)',
  builder: (y) =>
    y
      .positional('action', { choices: ['add', 'list', 'show'] })
      .positional('target', { type: 'string', describe: 'PROJECT (add, list), [PROJECT:]NAME (show), FILE (add --shared)' })
      .positional('file', { type: 'string', describe: 'file to add' })
      .option('as', { type: 'string', describe: 'resource name (default: the file name)' })
      .option('force', { type: 'boolean', describe: 'replace a resource that has other content' })
      .option('shared', { type: 'boolean', describe: "add to the allocation's shared resources (every project there sees them)" })
      .option('alloc', { type: 'string', describe: 'the allocation for --shared, or for show NAME outside a project' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/resources.js');
    const target = str(args, 'target');
    const file = str(args, 'file');
    const alloc = str(args, 'alloc');
    const shared = bool(args, 'shared');
    if (shared && args.action !== 'add') throw new UsageError('--shared is an option of resource add');
    if (alloc !== undefined && !shared && args.action !== 'show') throw new UsageError('--alloc goes with resource add --shared or resource show NAME');
    switch (args.action) {
      case 'add': {
        const opts = { as: str(args, 'as'), force: bool(args, 'force') };
        if (shared ? target === undefined || file !== undefined : target === undefined || file === undefined) {
          throw new UsageError(shared ? 'resource add --shared needs exactly FILE' : 'resource add needs PROJECT and FILE (or --shared FILE)');
        }
        const r = shared ? await core.addResource(ctx, { shared: true, alloc }, target!, opts) : await core.addResource(ctx, { project: target }, file!, opts);
        if (bool(args, 'json')) io.stdout(json({ version: 1, project: r.project, allocation: r.alloc, name: r.name, path: r.path, changed: r.changed }));
        else {
          const what = r.project === null ? `shared resource ${r.name} of ${r.alloc}` : `${r.project}:${r.name}`;
          io.stdout(r.changed ? `added ${what} (${r.path})\n` : `${what} is unchanged\n`);
        }
        return;
      }
      case 'list': {
        if (file !== undefined) throw new UsageError('resource list takes at most a PROJECT');
        const l = await core.listResources(ctx, target);
        const { unreachableWarning } = await import('../../core/world.js');
        for (const a of l.unreachable) io.stderr(unreachableWarning(a, 'its resources are not listed'));
        if (bool(args, 'json')) {
          io.stdout(
            json({
              version: 1,
              project: l.view,
              resources: l.rows.map((r) => ({
                project: r.project,
                name: r.name,
                path: r.path,
                size: r.size,
                origin: r.origin,
                allocation: r.alloc,
                used: r.shadowedBy === null,
                shadowed_by: r.shadowedBy?.path ?? null,
              })),
            }),
          );
          return;
        }
        const from = (r: (typeof l.rows)[number]) => {
          const o = l.view === null ? (r.project === null ? 'allocation' : 'project') : r.origin === 'parent' ? `parent ${r.project}` : r.origin;
          const s = r.shadowedBy;
          return s ? `${o}, shadowed by ${s.origin === 'parent' ? `parent ${s.project}` : s.origin}` : o;
        };
        const name = (r: (typeof l.rows)[number]) => (l.view === null && r.project !== null ? `${r.project}:${r.name}` : r.name);
        if (l.view !== null) io.stdout(`resources project ${l.view} sees (first one found is used):\n`);
        if (l.rows.length === 0) io.stdout(l.view === null ? 'no resources yet (add one with: qdo resource add PROJECT FILE)\n' : `none (add one with: qdo resource add ${l.view} FILE)\n`);
        else io.stdout(tableText(io, ['RESOURCE', 'FROM', 'SIZE', 'PATH'], l.rows.map((r) => [name(r), from(r), formatBytes(r.size), r.path]), { shrink: [3, 1, 0] }));
        return;
      }
      default: {
        if (target === undefined || file !== undefined) throw new UsageError('resource show needs exactly [PROJECT:]NAME');
        const { resource: r, bytes } = await core.readResource(ctx, target, { alloc });
        if (bool(args, 'json')) {
          const one = (x: typeof r | (typeof r.shadows)[number]) => ({ path: x.path, size: x.size, origin: x.root.origin, project: x.root.project, allocation: x.root.alloc });
          io.stdout(json({ version: 1, view: r.view, name: r.name, ...one(r), shadows: r.shadows.map(one), ...bytesJson(bytes) }));
          return;
        }
        // Where it came from, for a person looking at it; a pipe gets the bytes alone.
        if (io.isTTY) io.stderr(`qdo: ${r.name}${r.view ? ` as ${r.view} sees it` : ''}: ${core.describeOrigin(r.root)} (${r.path})${r.shadows.length ? `; shadows ${r.shadows.map((s) => s.path).join(', ')}` : ''}\n`);
        io.stdout(bytes);
      }
    }
  },
};
