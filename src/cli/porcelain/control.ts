// qdo cancel|hold|release REV…|PATTERN (spec/porcelain.md §qdo cancel|hold|release;
// man/qdo-cancel.1, qdo-hold.1, qdo-release.1).
import type { Argv } from 'yargs';
import type { CommandDef } from '../command.js';
import { bool, json, strs } from '../command.js';
import type { ControlAction } from '../../core/control.js';
import { jobJson } from '../job-format.js';

const DESCRIBE: Record<ControlAction, string> = {
  cancel: 'Cancel jobs (pending or running); jobs that already ended are left alone',
  hold: 'Keep pending jobs from starting until qdo release',
  release: 'Let held jobs start',
};

function controlCommand(action: ControlAction): CommandDef {
  return {
    command: `${action} [revs..]`,
    describe: DESCRIBE[action],
    builder: (y: Argv) =>
      y
        .positional('revs', { type: 'string', array: true, describe: 'PROJECT/JOB, a revision (JOB@2, JOB~1, id prefix), a PROJECT or a glob ("paper/*")' })
        .option('json', { type: 'boolean', describe: 'machine-readable output' }),
    async run(args, { ctx, io }) {
      const core = await import('../../core/control.js');
      const r = await core.control(ctx, action, strs(args, 'revs'));
      if (bool(args, 'json')) {
        io.stdout(json({ version: 1, action, jobs: r.jobs.map((c) => ({ ...jobJson(c.job), outcome: c.outcome, code: c.code, message: c.message })) }));
        return r.exitCode;
      }
      for (const c of r.jobs) {
        if (c.outcome === 'done' || c.outcome === 'skipped') io.stdout(`${c.message}\n`);
        else io.stderr(`qdo: ${c.message}\n`);
      }
      if (action === 'cancel' && r.jobs.some((c) => c.outcome === 'done') && io.isTTY) io.stdout('the new states show at the next refresh (qdo status --refresh asks now)\n');
      return r.exitCode;
    },
  };
}

export const cancelCommand = controlCommand('cancel');
export const holdCommand = controlCommand('hold');
export const releaseCommand = controlCommand('release');
