// Output: spec/plumbing/fsck.md
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import { jsonDocument } from '../../output/json.js';

export const fsckCommand: CommandDef = {
  command: 'fsck',
  describe: 'Check allocations for damage; --repair fixes what can be fixed',
  builder: (y) =>
    y
      .option('repair', { type: 'boolean', describe: 'clean leftovers (temp files, stale locks, interrupted submits), rebuild damaged refs from the manifests' })
      .option('alloc', { type: 'string', describe: 'check only this allocation' }),
  async run(args, { ctx, io }) {
    const { fsck } = await import('../../core/fsck.js');
    const r = await fsck(ctx, { repair: bool(args, 'repair'), alloc: str(args, 'alloc') });
    if (bool(args, 'json')) {
      io.stdout(jsonDocument({ allocations: r.allocations, repair: bool(args, 'repair'), findings: r.findings.map((f) => ({ severity: f.severity, code: f.code, subject: f.subject, detail: f.detail, fixed: f.fixed })) }));
    } else {
      let out = '';
      for (const f of r.findings) out += `${f.fixed ? 'fixed' : f.severity} ${f.code} ${f.subject}: ${f.detail}\n`;
      io.stdout(out);
    }
    // Leftovers (warnings) are no failure; damage that remains is (spec/plumbing/fsck.md).
    return r.findings.some((f) => !f.fixed && f.severity === 'error') ? 1 : 0;
  },
};
