// The plan of one submit (spec/submissions.md §Submitting), as plain data: what to write, in
// which order, what the scheduler is asked, and what each step's undo is. Pure: no disk, no
// scheduler, no clock (times come in), so the order and the undo rules are unit-tested
// (test/core/submit-plan.test.ts). submit-apply.ts carries a plan out.
import type { Manifest } from '../model/manifest.js';
import { SUBMISSION_SCHEMA, type Submission } from '../model/submission.js';
import type { ProcessIdentity } from '../util/proc.js';

/** One step; the executor does them in order and undoes the done ones on a refusal. */
export type SubmitStep =
  /** 2. the content the version needs (template, script, prologue, epilogue): no undo (unreachable objects are pruned by gc). */
  | { do: 'store-objects'; objects: Buffer[] }
  /**
   * 3. the intent: a new record in state `submitting`, before the manifest exists, so every
   * manifest qdo makes has a record (one without was made by plumbing); undo: the record
   * becomes `not-submitted`, the evidence that the version was never accepted.
   */
  | { do: 'record-intent'; record: Submission }
  /** 3. the manifest: no undo, as objects. */
  | { do: 'store-manifest'; manifest: Manifest; id: string }
  /** 4. the ref, compare-and-swap from the parent read when preparing; undo: back to the parent. */
  | { do: 'move-ref'; project: string; name: string; next: string; expect: string | null }
  /** 5. the job script in the run folder; undo: remove the run folder. */
  | { do: 'write-script'; runDir: string; path: string; text: string }
  /** 5. the scheduler call, tagged with the manifest id. */
  | { do: 'submit'; scriptPath: string; cwd: string; hold: boolean; tag: string }
  /** 6. the scheduler's answer into the record. */
  | { do: 'record-answer'; id: string; hold: boolean };

export type StepKind = SubmitStep['do'];

export interface SubmitPlan {
  id: string;
  steps: SubmitStep[];
}

/** What a plan is made from: a prepared version (submit.ts) and who submits it when. */
export interface PlanInput {
  manifest: Manifest;
  id: string;
  cluster: string;
  /** Scheduler ids the job waits on. */
  deps: string[];
  objects: Iterable<Buffer>;
  runDir: string;
  submitDir: string;
  script: string;
  schedulerKind: string;
}

export interface Submitter {
  host: string;
  self: ProcessIdentity;
  /** The time of the intent (ISO). */
  now: string;
}

/** The intent record of a version (state `submitting`; spec/submissions.md §Schema). */
export function intentRecord(who: Submitter, p: { manifest: Manifest; id: string; cluster: string; deps: string[] }): Submission {
  return {
    schema: SUBMISSION_SCHEMA,
    id: p.id,
    project: p.manifest.project,
    name: p.manifest.name,
    version: p.manifest.version,
    scheduler: p.manifest.scheduler,
    cluster: p.cluster,
    host: who.host,
    pid: who.self.pid,
    ...(who.self.start !== null ? { pid_start: who.self.start } : {}),
    intent: who.now,
    submitted: null,
    sched_id: null,
    after: p.deps,
    state: 'submitting',
    state_source: 'qdo',
    state_time: who.now,
    exit_code: null,
    reason: null,
    ...(p.manifest.resources.array !== undefined ? { array: p.manifest.resources.array } : {}),
    // A sweep's points (and their retries) carry its id, so `sweep:<id>` selects them from records alone.
    ...(p.manifest.sweep !== undefined ? { sweep: p.manifest.sweep } : {}),
  };
}

/** The steps of §Submitting 2–6, in that order. */
export function planSubmit(who: Submitter, p: PlanInput, o: { hold?: boolean } = {}): SubmitPlan {
  const scriptPath = `${p.runDir}/job.${p.schedulerKind}.sh`;
  return {
    id: p.id,
    steps: [
      { do: 'store-objects', objects: [...p.objects] },
      { do: 'record-intent', record: intentRecord(who, p) },
      { do: 'store-manifest', manifest: p.manifest, id: p.id },
      { do: 'move-ref', project: p.manifest.project, name: p.manifest.name, next: p.id, expect: p.manifest.parent },
      { do: 'write-script', runDir: p.runDir, path: scriptPath, text: p.script },
      { do: 'submit', scriptPath, cwd: p.submitDir, hold: o.hold === true, tag: p.id },
      { do: 'record-answer', id: p.id, hold: o.hold === true },
    ],
  };
}

/** How a plan stopped short: a failure before the scheduler call, a refusal by it, or an answer that leaves it unknown. */
export type Stop = 'failed' | 'refused' | 'ambiguous';

export type UndoStep =
  | { do: 'remove-run-folder'; runDir: string }
  | { do: 'move-ref-back'; project: string; name: string; to: string | null; from: string }
  | { do: 'mark-never-submitted'; id: string };

/**
 * What to take back after the steps `done` when the plan stopped (§Submitting): a failure or
 * refusal removes the run folder, moves the ref back and marks the record `not-submitted`
 * (in reverse order), leaving a version no ref reaches that gc --prune removes; an ambiguous
 * answer takes nothing back, because the job may run.
 */
export function undoPlan(done: SubmitStep[], stop: Stop): UndoStep[] {
  if (stop === 'ambiguous') return [];
  const out: UndoStep[] = [];
  for (const s of [...done].reverse()) {
    if (s.do === 'write-script') out.push({ do: 'remove-run-folder', runDir: s.runDir });
    else if (s.do === 'move-ref') out.push({ do: 'move-ref-back', project: s.project, name: s.name, to: s.expect, from: s.next });
    else if (s.do === 'record-intent') out.push({ do: 'mark-never-submitted', id: s.record.id });
  }
  return out;
}

/**
 * The scheduler's answer as a change of the record (spec/submissions.md §Writes): it is the
 * truth about this submission and replaces whatever a concurrent refresh guessed meanwhile
 * (e.g. not-submitted), unless one already found the job (same id) and learned more since.
 */
export function answerRecord(cur: Submission | null, intent: Submission, fields: Partial<Submission>): Submission | null {
  if (cur && cur.sched_id === fields.sched_id && cur.state !== 'not-submitted') return null;
  return { ...(cur ?? intent), ...fields } as Submission;
}

/** The fields of an answered record. */
export function answerFields(schedId: string, now: string, hold: boolean, waiting: Submission['state'] = 'pending'): Partial<Submission> {
  return { sched_id: schedId, submitted: now, state: hold ? 'held' : waiting, state_source: 'qdo', state_time: now, reason: null };
}

/** A version the scheduler never took (refused, or its submit stopped before the call): marked so, and never looked for again. */
export function neverSubmitted(cur: Submission | null, intent: Submission, reason: string): Submission {
  return { ...(cur ?? intent), state: 'not-submitted', state_source: 'qdo', state_time: intent.intent, reason: reason.slice(0, 500) };
}
