// How porcelain shows jobs: ages, states, one row per version. Pure.
import type { JobVersion } from '../core/jobs.js';
import { neverStarts } from '../model/states.js';
import type { Submission } from '../model/submission.js';

/** "42s", "5m", "3h", "2d" — the coarsest unit that is at least 1. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const COLORS: Record<string, string> = {
  completed: '32',
  failed: '31',
  timeout: '31',
  'out-of-memory': '31',
  'node-fail': '31',
  'not-submitted': '31',
  lost: '31',
  cancelled: '35',
  preempted: '35',
  running: '36',
  pending: '33',
  queued: '33',
  held: '33',
  submitting: '33',
};

export function stateCell(state: string, color: boolean): string {
  const c = COLORS[state.split(' ')[0]!];
  return color && c ? `\x1b[${c}m${state}\x1b[0m` : state;
}

export const STATUS_HEADERS = ['JOB', 'VER', 'STATE', 'EXIT', 'SCHEDULER', 'ID', 'SUBMITTED'];
/** What gives way on a narrow terminal: the job name, then the scheduler id and name. */
export const STATUS_SHRINK = [0, 5, 4];

/**
 * The STATE cell: the state, with what changes its meaning (spec/submissions.md §States):
 * `pending (never: dependency failed)`, `running (attempt 2)`.
 */
export function stateLabel(s: Submission): string {
  if (neverStarts(s)) return `${s.state} (never: dependency failed)`;
  if (typeof s.attempt === 'number' && s.attempt > 1) return `${s.state} (attempt ${s.attempt})`;
  return s.state;
}

/** The EXIT cell: the exit status, else the signal that ended the job (`SIGKILL`), else `-`. */
export function exitLabel(s: Submission): string {
  if (s.exit_code !== null) return String(s.exit_code);
  return typeof s.signal === 'string' ? `SIG${s.signal}` : '-';
}

export function statusRow(j: JobVersion, now: Date, showLatest: boolean): string[] {
  const s = j.sub;
  const name = `${j.project}/${j.name}${showLatest && !j.latest ? `@${j.version}` : ''}`;
  if (!s) return [name, String(j.version), 'unsubmitted', '-', '-', '-', '-'];
  const when = s.submitted ?? s.intent;
  return [name, String(j.version), stateLabel(s), exitLabel(s), s.scheduler, s.sched_id ?? '-', `${formatAge(now.getTime() - Date.parse(when))} ago`];
}

/** The machine-readable form of a job version (status --json, show --json). */
export function jobJson(j: JobVersion): Record<string, unknown> {
  const s = j.sub;
  return {
    job: `${j.project}/${j.name}`,
    project: j.project,
    name: j.name,
    id: j.id,
    job_version: j.version,
    latest: j.latest,
    state: s ? s.state : 'unsubmitted',
    state_source: s?.state_source ?? null,
    state_time: s?.state_time ?? null,
    exit_code: s?.exit_code ?? null,
    signal: s?.signal ?? null,
    reason: s?.reason ?? null,
    attempt: s?.attempt ?? null,
    scheduler: s?.scheduler ?? null,
    cluster: s?.cluster ?? null,
    sched_id: s?.sched_id ?? null,
    submitted: s?.submitted ?? null,
  };
}
