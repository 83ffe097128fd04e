// Output: spec/plumbing/cat-object.md
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';

export const catObjectCommand: CommandDef = {
  command: 'cat-object <id>',
  describe: 'Print an object\'s bytes (-p: JSON objects indented)',
  builder: (y) =>
    y
      .positional('id', { type: 'string', describe: 'full id or unique prefix (>= 4 hex digits)' })
      .option('p', { type: 'boolean', describe: 'pretty-print JSON objects' })
      .option('alloc', { type: 'string', describe: 'look only in this allocation' }),
  async run(args, { ctx, io }) {
    const { catObject } = await import('../../core/plumbing.js');
    io.stdout(await catObject(ctx, str(args, 'id')!, { pretty: bool(args, 'p'), alloc: str(args, 'alloc') }));
  },
};
