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

/** Where a state was learned, most to least live. */
export const STATE_SOURCES = ['queue', 'accounting', 'history', 'exit-record', 'none'] as const;
export type StateSource = (typeof STATE_SOURCES)[number];

/**
 * A job version's state as qdo records it: a scheduler state, or one of qdo's own before the
 * scheduler has the job (spec/submissions.md §States).
 *  - submitting: the intent is recorded; the scheduler's answer is not (yet).
 *  - not-submitted: the scheduler refused it, or recovery proved it never got it.
 */
export const QDO_STATES = ['submitting', 'not-submitted'] as const;
export type JobStateName = NormalState | (typeof QDO_STATES)[number];
export const ALL_STATES: readonly string[] = [...NORMAL_STATES, ...QDO_STATES];

export function isTerminal(s: string): boolean {
  return TERMINAL_STATES.has(s) || s === 'not-submitted';
}

/** Ended badly: what `retry --failed` retries and what makes `wait` exit non-zero. */
export const FAILED_STATES: ReadonlySet<string> = new Set(['failed', 'timeout', 'out-of-memory', 'node-fail', 'preempted', 'cancelled', 'not-submitted']);
