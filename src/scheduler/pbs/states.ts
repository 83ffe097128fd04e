// PBS Pro and TORQUE job states → qdo's normal states (spec/scheduler-pbs.md §States).
// Pure functions of one parsed record; the raw job_state letter is kept verbatim.
import type { JobState, NormalState } from '../types.js';
import type { PbsJob } from './pbs-job.js';

type Outcome = { state: NormalState; reason?: string; exitCode?: number | null; signal?: number | null };

// PBS Pro negative Exit_status values: PBS could not run the job or killed it
// (OPBS src/include/job.h:932-968; -24..-29 since OpenPBS 22.05, -31/-32 from the 2026
// reference guide via baw-server exit_status.rb).
const PBSPRO_NEGATIVE: Readonly<Record<number, readonly [NormalState, string]>> = {
  [-1]: ['failed', 'the job could not be started (before its files were staged)'],
  [-2]: ['failed', 'the job could not be started (after its files were staged)'],
  [-3]: ['failed', 'the job could not be started (PBS retried it)'],
  [-4]: ['node-fail', 'aborted while the execution host (MoM) initialised'],
  [-5]: ['node-fail', 'aborted while the execution host (MoM) restarted'],
  [-6]: ['node-fail', 'aborted while the execution host (MoM) initialised'],
  [-7]: ['node-fail', 'restart from checkpoint failed'],
  [-10]: ['failed', 'bad user or group on the execution host'],
  [-11]: ['failed', 'the job was rerun'],
  [-12]: ['failed', 'the job was checkpointed'],
  [-13]: ['failed', 'bad password'],
  [-14]: ['node-fail', 'rerun after a sister node failed'],
  [-15]: ['failed', 'requeued for restart'],
  [-16]: ['failed', 'a hook rejected the job (rerun)'],
  [-17]: ['failed', 'a hook rejected the job (delete)'],
  [-18]: ['failed', 'a hook requested a rerun'],
  [-19]: ['failed', 'a hook requested deletion'],
  [-20]: ['node-fail', 'lost the connection to the first execution host'],
  [-21]: ['failed', 'security setup failed'],
  [-22]: ['failed', 'a hook failed or timed out'],
  [-23]: ['failed', 'no Kerberos credentials'],
  [-24]: ['failed', 'killed: exceeded its ncpus (burst)'],
  [-25]: ['failed', 'killed: exceeded its ncpus (sum)'],
  [-26]: ['out-of-memory', 'killed: exceeded its vmem limit'],
  [-27]: ['out-of-memory', 'killed: exceeded its mem limit'],
  [-28]: ['failed', 'killed: exceeded its cput limit'],
  [-29]: ['timeout', 'killed: exceeded its walltime'],
  [-30]: ['failed', 'job-join error'],
  [-31]: ['out-of-memory', 'killed: exceeded its hpmem limit'],
  [-32]: ['failed', 'zombie job'],
};

// TORQUE's own negative exit_status values (TORQUE 6.1.2 admin guide, "Job exit status").
const TORQUE_NEGATIVE: Readonly<Record<number, readonly [NormalState, string]>> = {
  [-1]: ['failed', 'the job could not be started (before its files were staged)'],
  [-2]: ['failed', 'the job could not be started (after its files were staged)'],
  [-3]: ['failed', 'the job could not be started (TORQUE retried it)'],
  [-4]: ['node-fail', 'aborted while the execution host (MOM) initialised'],
  [-5]: ['node-fail', 'aborted while the execution host (MOM) restarted'],
  [-6]: ['node-fail', 'aborted while the execution host (MOM) initialised'],
  [-7]: ['node-fail', 'restart from checkpoint failed'],
  [-8]: ['failed', 'the job script could not be executed'],
  [-9]: ['failed', 'the job\'s output files could not be set up'],
  [-10]: ['out-of-memory', 'killed: exceeded its memory limit'],
  [-11]: ['timeout', 'killed: exceeded its walltime'],
  [-12]: ['failed', 'killed: exceeded its cput limit'],
  [-13]: ['failed', 'cgroup setup failed'],
  [-14]: ['failed', 'the prologue failed'],
};

const SIGNAL_NAMES: Readonly<Record<number, string>> = { 1: 'HUP', 2: 'INT', 6: 'ABRT', 9: 'KILL', 11: 'SEGV', 15: 'TERM', 24: 'XCPU' };

function signalText(n: number): string {
  return SIGNAL_NAMES[n] ? `SIG${SIGNAL_NAMES[n]}` : `signal ${n}`;
}

/** Used walltime reached the limit: a signal kill then is the walltime kill (old servers, TORQUE 265). */
function ranOutOfTime(job: PbsJob): boolean {
  return job.walltimeUsed !== null && job.walltimeLimit !== null && job.walltimeLimit > 0 && job.walltimeUsed >= job.walltimeLimit;
}

function fromComment(comment: string | null): Outcome | null {
  if (!comment) return null;
  // svr_jobfunc.c:4929-4980 appends " and exceeded resource <name>" to the last comment.
  const m = /exceeded resource (\w+)/.exec(comment);
  if (!m) return null;
  const res = m[1]!;
  if (res === 'walltime') return { state: 'timeout', reason: 'killed: exceeded its walltime' };
  if (/^(mem|vmem|pmem|hpmem)$/.test(res)) return { state: 'out-of-memory', reason: `killed: exceeded its ${res} limit` };
  return { state: 'failed', reason: `killed: exceeded its ${res} limit` };
}

/**
 * Outcome of a finished job from its exit status. `deleted` says the job was deleted
 * (qdel): PBS Pro substate 91 / " and terminated" comment; TORQUE leaves no such mark.
 */
function finished(job: PbsJob, table: Readonly<Record<number, readonly [NormalState, string]>>, deleted: boolean, flavor: 'pbspro' | 'torque'): Outcome {
  const x = job.exitStatus;
  const label = flavor === 'pbspro' ? 'Exit_status' : 'exit_status';
  if (x === null) {
    if (deleted) return { state: 'cancelled', reason: 'deleted before it ran', exitCode: null };
    if (job.substate === 92) return { state: 'completed', exitCode: null };
    if (job.substate === 93) return fromComment(job.comment) ?? { state: 'failed', reason: job.comment ?? undefined, exitCode: null };
    return { state: 'unknown', reason: `finished, but the scheduler reported no ${label}`, exitCode: null };
  }
  if (x < 0) {
    const known = table[x];
    if (known) return { state: known[0], reason: `${label} ${x}: ${known[1]}`, exitCode: null };
    return { state: 'failed', reason: `${label} ${x}: the scheduler could not run the job`, exitCode: null };
  }
  if (x === 0) return deleted ? { state: 'cancelled', exitCode: 0 } : { state: 'completed', exitCode: 0 };
  if (x < 256) {
    if (deleted) return { state: 'cancelled', reason: `deleted; the script exited with ${x}`, exitCode: x };
    return fromComment(job.comment) ? { ...fromComment(job.comment)!, exitCode: x } : { state: 'failed', exitCode: x };
  }
  // 256+N: the top process was killed by signal N (mom_start.c:673 `WTERMSIG + 0x100`).
  const sig = x - 256;
  const byComment = fromComment(job.comment);
  if (byComment) return { ...byComment, exitCode: null, signal: sig };
  if ((sig === 9 || sig === 15 || sig === 24) && ranOutOfTime(job)) {
    return { state: 'timeout', reason: `killed by ${signalText(sig)} at its walltime limit`, exitCode: null, signal: sig };
  }
  if (deleted || (flavor === 'torque' && (sig === 15 || sig === 9))) {
    return { state: 'cancelled', reason: `killed by ${signalText(sig)}${job.comment ? `: ${job.comment}` : ''}`, exitCode: null, signal: sig };
  }
  return { state: 'failed', reason: `killed by ${signalText(sig)}`, exitCode: null, signal: sig };
}

function heldOrWaiting(job: PbsJob): Outcome {
  const holds = (job.holdTypes ?? '').replace(/n/g, '');
  // A job waiting on a dependency is H with only a system hold (substate 22 on PBS Pro,
  // AII job 69302; TORQUE has no substate, so a `depend` attribute must be there).
  if (holds === 's' && (job.substate === 22 || (job.substate === null && job.depend !== null))) {
    return { state: 'pending', reason: job.depend ? `waiting for dependency ${job.depend}` : 'waiting for a dependency' };
  }
  return { state: 'held', reason: job.comment ?? (holds ? `hold types: ${holds}` : undefined) };
}

function build(job: PbsJob, o: Outcome, source: JobState['source']): JobState {
  const s: JobState = { id: job.id, state: o.state, raw: job.jobState, source };
  if (o.exitCode !== undefined) s.exitCode = o.exitCode;
  if (o.signal !== undefined) s.signal = o.signal;
  const reason = o.reason ?? job.comment ?? undefined;
  if (reason) s.reason = reason;
  return s;
}

/** PBS Pro / OpenPBS state letters (OPBS doc/man1/qstat.1B:238-258). */
export function pbsproJobState(job: PbsJob): JobState {
  const deleted = job.substate === 91 || /\band terminated\b/.test(job.comment ?? '');
  switch (job.jobState) {
    case 'Q':
      return build(job, { state: 'pending' }, 'queue');
    case 'W':
      return build(job, { state: 'pending', reason: job.comment ?? 'waiting for its start time' }, 'queue');
    case 'T':
      return build(job, { state: 'pending', reason: job.comment ?? 'in transit between queues' }, 'queue');
    case 'H':
      return build(job, heldOrWaiting(job), 'queue');
    case 'R':
    case 'B': // array parent with running subjobs
      return build(job, { state: 'running' }, 'queue');
    case 'E':
      return build(job, { state: 'running', reason: 'exiting' }, 'queue');
    case 'S':
    case 'U':
      return build(job, { state: 'suspended' }, 'queue');
    case 'M':
      return build(job, { state: 'unknown', reason: 'moved to another server' }, 'queue');
    case 'F': // finished (history)
    case 'X': // finished subjob
      return build(job, finished(job, PBSPRO_NEGATIVE, deleted, 'pbspro'), 'history');
    default:
      return build(job, { state: 'unknown', reason: `unrecognised job_state ${JSON.stringify(job.jobState)}` }, 'queue');
  }
}

/**
 * TORQUE state letters (TRQ doc/man1/qstat.1.in): C completed (kept keep_completed
 * seconds), E exiting, H held, Q queued, R running, T moving, W waiting, S suspended.
 * Slurm's TORQUE wrapper prints U for states it cannot map, and C without exit_status.
 */
export function torqueJobState(job: PbsJob): JobState {
  switch (job.jobState) {
    case 'Q':
      // The wrapper never prints H: a held Slurm job has priority 0 (slurm-torque-wrapper
      // fixture). Real TORQUE's Priority is the user's -p value, so only trust it there.
      if (job.slurmWrapper && job.attributes.Priority === '0') return build(job, { state: 'held', reason: 'held (Slurm priority 0)' }, 'queue');
      return build(job, { state: 'pending' }, 'queue');
    case 'W':
      return build(job, { state: 'pending', reason: job.comment ?? 'waiting for its start time' }, 'queue');
    case 'T':
      return build(job, { state: 'pending', reason: job.comment ?? 'being moved' }, 'queue');
    case 'H':
      return build(job, heldOrWaiting(job), 'queue');
    case 'R':
      return build(job, { state: 'running' }, 'queue');
    case 'E':
      return build(job, { state: 'running', reason: 'exiting' }, 'queue');
    case 'S':
      return build(job, { state: 'suspended' }, 'queue');
    case 'C':
      return build(job, finished(job, TORQUE_NEGATIVE, false, 'torque'), 'history');
    default:
      return build(job, { state: 'unknown', reason: `unrecognised job_state ${JSON.stringify(job.jobState)}` }, 'queue');
  }
}
