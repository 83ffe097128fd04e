// Job states in one vocabulary for every scheduler (spec/scheduler-common.md §States).
// Defined here, below both scheduler and store, because submission records keep them.

export const NORMAL_STATES = [
  'pending',
  // In a pool's queue, waiting for a worker to claim it (spec/pools.md §States).
  'queued',
  'held',
  'running',
  'suspended',
  'completed',
  'failed',
  'cancelled',
  'timeout',
  'node-fail',
  'out-of-memory',
  'preempted',
  'unknown',
] as const;
export type NormalState = (typeof NORMAL_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'timeout', 'node-fail', 'out-of-memory', 'preempted']);

/**
 * Where a state was learned, most to least live: the scheduler's queue, its accounting
 * (Slurm sacct, or `sacct -c` job completion records: `jobcomp`), its history (PBS `qstat
 * -x`, TORQUE C records), the job's own end or start record, nothing.
 */
export const STATE_SOURCES = ['queue', 'accounting', 'jobcomp', 'history', 'exit-record', 'start-record', 'none'] as const;
export type StateSource = (typeof STATE_SOURCES)[number];

/**
 * A job version's state as qdo records it: a scheduler state, or one of qdo's own
 * (spec/submissions.md §States).
 *  - submitting: the intent is recorded; the scheduler's answer is not (yet).
 *  - not-submitted: the scheduler refused it, or recovery proved it never got it.
 *  - lost: the scheduler no longer knows the job and nothing says how it ended (no end
 *    record, no accounting) for longer than `lost_after`; the reason holds the evidence.
 */
export const QDO_STATES = ['submitting', 'not-submitted', 'lost'] as const;
export type JobStateName = NormalState | (typeof QDO_STATES)[number];
export const ALL_STATES: readonly string[] = [...NORMAL_STATES, ...QDO_STATES];

/**
 * Terminal: no scheduler is asked about it again. A terminal job may still be re-opened by
 * its own records (a rerun after a requeue, the end record of a lost job: §Refresh).
 */
export function isTerminal(s: string): boolean {
  return TERMINAL_STATES.has(s) || s === 'not-submitted' || s === 'lost';
}

/** Ended badly: what `retry --failed` retries and what makes `wait` exit non-zero. */
export const FAILED_STATES: ReadonlySet<string> = new Set(['failed', 'timeout', 'out-of-memory', 'node-fail', 'preempted', 'cancelled', 'not-submitted', 'lost']);

/** The scheduler's reason for a job that will never start (Slurm: a dependency that failed). */
export const NEVER_STARTS_RE = /DependencyNeverSatisfied/;

/**
 * A job that is pending but can never start without someone acting: Slurm keeps a job whose
 * afterok dependency failed PENDING with reason DependencyNeverSatisfied (unless the site
 * sets kill_invalid_depend). `qdo wait` stops waiting for it (exit 9).
 */
export function neverStarts(s: { state: string; reason: string | null }): boolean {
  return (s.state === 'pending' || s.state === 'held') && s.reason !== null && NEVER_STARTS_RE.test(s.reason);
}

// Signal numbers as Linux has them (signal(7)); schedulers report numbers, people read names.
const SIGNAL_NAMES: Readonly<Record<number, string>> = {
  1: 'HUP', 2: 'INT', 3: 'QUIT', 4: 'ILL', 5: 'TRAP', 6: 'ABRT', 7: 'BUS', 8: 'FPE', 9: 'KILL', 10: 'USR1', 11: 'SEGV',
  12: 'USR2', 13: 'PIPE', 14: 'ALRM', 15: 'TERM', 16: 'STKFLT', 17: 'CHLD', 18: 'CONT', 19: 'STOP', 20: 'TSTP',
  21: 'TTIN', 22: 'TTOU', 23: 'URG', 24: 'XCPU', 25: 'XFSZ', 26: 'VTALRM', 27: 'PROF', 28: 'WINCH', 29: 'IO', 30: 'PWR', 31: 'SYS',
};

/** "KILL" for 9; an unnamed number as itself ("41"). Records keep the name (submissions.md §Schema). */
export function signalName(n: number): string {
  return SIGNAL_NAMES[n] ?? String(n);
}
