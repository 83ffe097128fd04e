// Output: spec/plumbing/show-ref.md
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import { jsonDocument } from '../../output/json.js';

export const showRefCommand: CommandDef = {
  command: 'show-ref [pattern]',
  describe: 'List refs as "<id> <project>/<job>" lines',
  builder: (y) => y.positional('pattern', { type: 'string', describe: 'a name (and everything under it) or a glob: * within a segment, ** across' }),
  async run(args, { ctx, io }) {
    const { showRefs } = await import('../../core/plumbing.js');
    const { rows, unreachable } = await showRefs(ctx, str(args, 'pattern'));
    const { unreachableWarning } = await import('../../core/world.js');
    for (const a of unreachable) io.stderr(unreachableWarning(a, 'its refs are not listed'));
    if (bool(args, 'json')) io.stdout(jsonDocument({ refs: rows.map((r) => ({ ref: r.ref, id: r.id })), unreachable: unreachable.map((a) => ({ allocation: a.root, problem: a.problem })) }));
    else io.stdout(rows.map((r) => `${r.id} ${r.ref}\n`).join(''));
    return rows.length === 0 ? 1 : 0;
  },
};
