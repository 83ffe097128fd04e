// Output: spec/plumbing/update-ref.md
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import { UsageError } from '../../errors.js';

export const updateRefCommand: CommandDef = {
  command: 'update-ref <name> [new] [old]',
  describe: 'Point PROJECT/JOB at manifest NEW, if it still points at OLD (compare-and-swap)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: 'PROJECT/JOB' })
      .positional('new', { type: 'string', describe: 'full manifest id' })
      .positional('old', { type: 'string', describe: 'expected current id; 64 zeros = must not exist' })
      .option('d', { type: 'boolean', describe: 'delete the ref: update-ref -d NAME [OLD]' }),
  async run(args, { ctx, io: _io }) {
    const { updateRefCommand: update } = await import('../../core/plumbing.js');
    const name = str(args, 'name')!;
    if (bool(args, 'd')) {
      if (str(args, 'old') !== undefined) throw new UsageError('update-ref -d takes NAME [OLD]');
      await update(ctx, { name, next: null, old: str(args, 'new') });
      return;
    }
    const next = str(args, 'new');
    if (next === undefined) throw new UsageError('update-ref needs NAME and NEW (or -d NAME)');
    await update(ctx, { name, next, old: str(args, 'old') });
  },
};
