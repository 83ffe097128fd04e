// Output: spec/plumbing/cat-object.md
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import { bytesJson, jsonDocument } from '../../output/json.js';

export const catObjectCommand: CommandDef = {
  command: 'cat-object <id>',
  describe: 'Print an object\'s bytes (-p: JSON objects indented)',
  builder: (y) =>
    y
      .positional('id', { type: 'string', describe: 'full id or unique prefix (>= 4 hex digits)' })
      .option('p', { type: 'boolean', describe: 'pretty-print JSON objects' })
      .option('alloc', { type: 'string', describe: 'look only in this allocation' }),
  async run(args, { ctx, io }) {
    const { catObject, readObjectOf } = await import('../../core/plumbing.js');
    if (bool(args, 'json')) {
      const o = await readObjectOf(ctx, str(args, 'id')!, str(args, 'alloc'));
      // A JSON object (a manifest, a template record) is given parsed as well.
      io.stdout(jsonDocument({ id: o.id, size: o.bytes.length, ...bytesJson(o.bytes), object: o.json ? JSON.parse(o.bytes.toString('utf8')) : null }));
      return;
    }
    io.stdout(await catObject(ctx, str(args, 'id')!, { pretty: bool(args, 'p'), alloc: str(args, 'alloc') }));
  },
};
