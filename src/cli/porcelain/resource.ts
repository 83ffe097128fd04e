import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import { formatBytes } from '../../output/table.js';
import { tableText } from '../table-out.js';
import { bytesJson, jsonDocument } from '../../output/json.js';
import { UsageError } from '../../errors.js';

export const resourceCommand: CommandDef = {
  command: 'resource <action> [target] [file]',
  describe: 'Keep files for jobs in a project (resource add PROJECT FILE, resource list [PROJECT], resource show PROJECT/NAME)',
  builder: (y) =>
    y
      .positional('action', { choices: ['add', 'list', 'show'] })
      .positional('target', { type: 'string', describe: 'PROJECT (add, list) or PROJECT/NAME (show)' })
      .positional('file', { type: 'string', describe: 'file to add' })
      .option('as', { type: 'string', describe: 'resource name (default: the file name)' })
      .option('force', { type: 'boolean', describe: 'replace a resource that has other content' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/resources.js');
    const target = str(args, 'target');
    const file = str(args, 'file');
    switch (args.action) {
      case 'add': {
        if (target === undefined || file === undefined) throw new UsageError('resource add needs PROJECT and FILE');
        const r = await core.addResource(ctx, target, file, { as: str(args, 'as'), force: bool(args, 'force') });
        if (bool(args, 'json')) io.stdout(json({ version: 1, ...r }));
        else io.stdout(r.changed ? `added ${r.project}/${r.name} (${r.path})\n` : `${r.project}/${r.name} is unchanged\n`);
        return;
      }
      case 'list': {
        if (file !== undefined) throw new UsageError('resource list takes at most a PROJECT');
        const rows = await core.listResources(ctx, target);
        if (bool(args, 'json')) io.stdout(json({ version: 1, resources: rows.map((r) => ({ project: r.project, name: r.name, path: r.path, size: r.size })) }));
        else io.stdout(tableText(io, ['RESOURCE', 'SIZE', 'PATH'], rows.map((r) => [`${r.project}/${r.name}`, formatBytes(r.size), r.path]), { shrink: [2, 0] }));
        return;
      }
      default: {
        if (target === undefined || file !== undefined) throw new UsageError('resource show needs exactly PROJECT/NAME');
        const r = await core.readResource(ctx, target);
        if (bool(args, 'json')) io.stdout(jsonDocument({ resource: `${r.row.project}/${r.row.name}`, path: r.row.path, size: r.bytes.length, ...bytesJson(r.bytes) }));
        else io.stdout(r.bytes);
      }
    }
  },
};
