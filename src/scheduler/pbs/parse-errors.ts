// What PBS Pro and TORQUE commands print on stderr when something goes wrong, sorted into
// the cases qdo acts on (spec/scheduler-pbs.md §Errors). Exit codes: commands exit with
// pbs_errno mod 256 — 153 Unknown Job Id (PBSE_UNKJOBID 15001), 35 Job has finished
// (PBSE_HISTJOBID 15139), 188 limits (PBSE_EXCQRESC 15036), 255 no connection.
// Messages are what count: several ids give several lines and only one exit code.
import { SchedulerError } from '../../errors.js';

export type PbsErrorKind =
  /** The server has no record of this id (never existed, or history purged/disabled). */
  | 'unknown-job'
  /** PBS Pro: the job finished and qstat was run without -x (history is on). */
  | 'job-finished'
  /** Server down, unreachable, timed out or dropped the connection: try again later. */
  | 'transient'
  /** A warning printed along with success ("qsub (Warning): ..."). */
  | 'warning'
  /** Anything else: the server refused; its message is what the user needs. */
  | 'permanent';

export interface PbsErrorLine {
  kind: PbsErrorKind;
  /** The job id named on the line, when there is one. */
  id?: string;
  /** The server's message, with the "qstat: "-style prefix removed. */
  message: string;
}

/** Messages that mean "the server could not be reached or answered partially". */
export const PBS_TRANSIENT: readonly RegExp[] = [
  /cannot connect to (the )?(default )?server/i,
  /Connection refused/,
  /Connection timed out/,
  /Connection reset/,
  /No route to host/,
  /Unknown Host/i,
  /Premature end of message/,
  /Communication failure/,
  /could not connect to MOM/i,
  /End of File/,
  /Server is busy/i,
  /timed out/i,
];

const PREFIX_RE = /^(qstat|qsub|qdel|qhold|qrls|qselect|pbs_\w+)(\s*\([^)]*\))?:\s*/;

/**
 * Classifies stderr line by line. Lines that only carry a system error text
 * ("Connection refused", printed before "qstat: cannot connect to server x") are merged
 * into the following line's message.
 */
export function classifyPbsStderr(stderr: string): PbsErrorLine[] {
  const out: PbsErrorLine[] = [];
  let carry = '';
  const lines = stderr.split('\n').map((l) => l.replace(/\r$/, ''));
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    // Perl warnings from Slurm's wrapper scripts are not the scheduler's answer.
    if (/^Use of uninitialized value .* line \d+/.test(line)) continue;
    const hasPrefix = PREFIX_RE.test(line);
    const message = line.replace(PREFIX_RE, '');
    // A usage text follows the real message ("qstat: conflicting options."); drop it.
    if (/^usage:/i.test(message)) break;
    if (!hasPrefix && PBS_TRANSIENT.some((re) => re.test(line)) && !/^usage/i.test(line)) {
      // "Connection refused" / "Unknown Host." / "No route to host" before the qstat line.
      carry = carry === '' ? line : `${carry}; ${line}`;
      continue;
    }
    const full = carry === '' ? message : `${message} (${carry})`;
    carry = '';
    let m: RegExpExecArray | null;
    if (/\(Warning\)/.test(line.slice(0, 40))) out.push({ kind: 'warning', message: full });
    else if ((m = /Unknown Job Id(?: Error)?\s+(?!Error\s*$)(\S+)/i.exec(message))) out.push({ kind: 'unknown-job', id: m[1]!, message: full });
    else if (/^Unknown Job Id\b/i.test(message)) out.push({ kind: 'unknown-job', message: full });
    else if ((m = /^(\S+) Job has finished/.exec(message))) out.push({ kind: 'job-finished', id: m[1]!, message: full });
    else if ((m = /^Job has finished\s+(\S+)/.exec(message))) out.push({ kind: 'job-finished', id: m[1]!, message: full });
    else if (/^Job has finished/.test(message)) out.push({ kind: 'job-finished', message: full });
    else if (PBS_TRANSIENT.some((re) => re.test(line))) out.push({ kind: 'transient', message: full });
    else out.push({ kind: 'permanent', message: full });
  }
  if (carry !== '') out.push({ kind: 'transient', message: carry });
  return out;
}

export function isTransientPbsError(lines: readonly PbsErrorLine[]): boolean {
  return lines.some((l) => l.kind === 'transient');
}

/**
 * The SchedulerError for a failed PBS command, from its classified stderr:
 * scheduler-unavailable (transient: try again), scheduler-rejected (the server said no;
 * its message is kept verbatim), or the runner's own error when stderr says nothing.
 */
export function pbsCommandError(
  argv: readonly string[],
  result: { stdout: string; stderr: string; exitCode: number | null },
  scheduler: string,
): SchedulerError {
  return errorFromLines(argv, result, classifyPbsStderr(result.stderr), scheduler);
}

/** As pbsCommandError, from lines already classified (e.g. from stdout and stderr). */
export function errorFromLines(
  argv: readonly string[],
  result: { stdout: string; stderr: string; exitCode: number | null },
  classified: readonly PbsErrorLine[],
  scheduler: string,
): SchedulerError {
  const lines = classified.filter((l) => l.kind !== 'warning');
  const cmd = argv[0] ?? 'qstat';
  const said = lines.map((l) => l.message).join('; ') || result.stdout.trim() || result.stderr.trim();
  const data = { scheduler, command: [...argv], exitCode: result.exitCode, stderr: result.stderr, stdout: result.stdout };
  if (isTransientPbsError(lines)) {
    return new SchedulerError('scheduler-unavailable', `${cmd}: the ${scheduler === 'torque' ? 'TORQUE' : 'PBS'} server did not answer: ${said}`, {
      hint: 'the server may be down or overloaded; try again later',
      data: { ...data, transient: true },
    });
  }
  const exit = result.exitCode === null ? '' : ` (exit ${result.exitCode})`;
  return new SchedulerError('scheduler-rejected', `${cmd} failed${exit}: ${said || 'no message'}`, {
    data: { ...data, transient: false },
  });
}
