// Output: spec/plumbing/hash-object.md
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import { jsonDocument } from '../../output/json.js';
import { NotFoundError, UsageError, errnoCode } from '../../errors.js';

export const hashObjectCommand: CommandDef = {
  command: 'hash-object [file]',
  describe: 'Print the object id of FILE or stdin; -w also stores it',
  builder: (y) =>
    y
      .positional('file', { type: 'string' })
      .option('w', { type: 'boolean', describe: 'write the object into the allocation' })
      .option('stdin', { type: 'boolean', describe: 'read the content from standard input' })
      .option('alloc', { type: 'string', describe: 'allocation to write to (default: the one around the current folder)' }),
  async run(args, { ctx, io }) {
    const { hashObject } = await import('../../core/plumbing.js');
    const file = str(args, 'file');
    if (bool(args, 'stdin') === (file !== undefined)) throw new UsageError('give exactly one of FILE or --stdin');
    let bytes: Buffer;
    if (file === undefined) bytes = await io.readStdin();
    else {
      const p = resolve(ctx.cwd, file);
      try {
        bytes = await readFile(p);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') throw new NotFoundError('no-such-file', `no file ${p}`);
        throw new UsageError(`cannot read ${p}: ${errnoCode(e) ?? String(e)}`);
      }
    }
    const id = await hashObject(ctx, bytes, { write: bool(args, 'w'), alloc: str(args, 'alloc') });
    io.stdout(bool(args, 'json') ? jsonDocument({ id, size: bytes.length, written: bool(args, 'w') }) : id + '\n');
  },
};
