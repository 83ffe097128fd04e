// qdo wait REV…|PATTERN (spec/porcelain.md §qdo wait; man/qdo-wait.1)
import type { CommandDef } from '../command.js';
import { bool, json, str, strs } from '../command.js';
import type { JobVersion } from '../../core/jobs.js';
import { jobJson } from '../job-format.js';

function label(j: JobVersion): string {
  const s = j.sub!;
  const detail = [s.exit_code !== null ? `exit ${s.exit_code}` : null, s.reason].filter((x) => x !== null).join('; ');
  return `${j.project}/${j.name}@${j.version} ${s.state}${detail ? ` (${detail})` : ''}`;
}

export const waitCommand: CommandDef = {
  command: 'wait [revs..]',
  describe: 'Wait until jobs have ended; exit 0 only if all completed',
  builder: (y) =>
    y
      .positional('revs', { type: 'string', array: true, describe: 'PROJECT/JOB, a revision (JOB@2, JOB~1, id prefix), a PROJECT or a glob ("paper/*")' })
      .option('timeout', { type: 'string', describe: 'give up after this long (90s, 10m, 2h; a bare number is minutes): exit 5' })
      .option('quiet', { type: 'boolean', alias: 'q', describe: 'print nothing; the exit status says it all' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/wait.js');
    const timeoutText = str(args, 'timeout');
    const timeoutMs = timeoutText === undefined ? undefined : core.parseTimeout(timeoutText);
    const quiet = bool(args, 'quiet');
    const asJson = bool(args, 'json');
    // One line of progress on a terminal, rewritten in place; nothing when piped.
    const live = io.isTTY && !quiet && !asJson;
    let shown = '';
    const r = await core.wait(ctx, strs(args, 'revs'), {
      timeoutMs,
      onNote: (n) => void (quiet ? undefined : io.stderr(`${live && shown ? '\r\x1b[K' : ''}qdo: ${n}\n`)),
      onProgress: (p) => {
        if (!live) return;
        const line = `${p.done}/${p.total} done${p.failed ? `, ${p.failed} failed` : ''}`;
        if (line !== shown) io.stderr(`\r\x1b[K${line}`);
        shown = line;
      },
    });
    if (live && shown) io.stderr('\r\x1b[K');
    if (asJson) {
      io.stdout(
        json({
          version: 1,
          outcome: r.outcome,
          total: r.progress.total,
          completed: r.progress.completed,
          failed: r.failed.length,
          unfinished: r.unfinished.length,
          lost: r.lost.length,
          never_start: r.neverStart.length,
          jobs: r.jobs.map(jobJson),
        }),
      );
    } else if (!quiet) {
      const n = r.jobs.length;
      if (r.outcome === 'completed') io.stdout(n === 1 ? `${label(r.jobs[0]!)}\n` : `all ${n} jobs completed\n`);
      else {
        if (r.outcome === 'timeout') io.stdout(`timed out after ${timeoutText}: ${r.unfinished.length} of ${n} job(s) not ended: ${r.unfinished.map(label).join(', ')}\n`);
        if (r.neverStart.length > 0) io.stdout(`${r.neverStart.length} of ${n} job(s) can never start (a dependency failed; cancel them, or release them by hand):\n${r.neverStart.map((j) => `  ${label(j)}\n`).join('')}`);
        if (r.failed.length > 0) io.stdout(`${r.failed.length} of ${n} job(s) did not complete:\n${r.failed.map((j) => `  ${label(j)}\n`).join('')}`);
      }
    }
    return core.WAIT_EXIT[r.outcome];
  },
};
