// What `qsub` prints on success (spec/scheduler-pbs.md §Submit): one line with the job id,
// `<seq>.<server>` ("4256957.pbs02"), `<seq>[].<server>` for an array ("10[].Nile-extn"),
// or a bare number from Slurm's TORQUE wrapper ("8"). Site qsub wrappers sometimes print
// banners first, so the id is the last line that looks like one.
import { SchedulerError } from '../../errors.js';

const JOB_ID_RE = /^(\d+)(\[\d*\])?(\.[A-Za-z0-9][A-Za-z0-9.\-_]*)?$/;

export function isPbsJobId(s: string): boolean {
  return JOB_ID_RE.test(s);
}

/** The job id in qsub's stdout; throws scheduler-bad-output when there is none. */
export function parseQsubOutput(stdout: string, scheduler = 'pbspro'): string {
  const lines = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (JOB_ID_RE.test(lines[i]!)) return lines[i]!;
  }
  throw new SchedulerError('scheduler-bad-output', `qsub succeeded but printed no job id: ${JSON.stringify(stdout.trim().slice(0, 200))}`, {
    hint: 'the job may have been submitted; `qdo` will look for it by its tag',
    data: { scheduler, stdout },
  });
}
