// Carries out a submit plan (submit-plan.ts) step by step, and on a failure or a refusal its
// undo. The decisions (order, what undoes what, how an answer changes the record) are the
// plan's; this file only does them. No lock is held across the scheduler call.
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, QdoError, SchedulerError } from '../errors.js';
import type { Submission } from '../model/submission.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Layout } from '../store/layout.js';
import { writeManifest } from '../store/manifests.js';
import { writeObject } from '../store/objects.js';
import { updateRef } from '../store/refs.js';
import { changeSubmission, createSubmission } from '../store/submissions.js';
import type { Backend } from '../scheduler/types.js';
import { answerFields, answerRecord, neverSubmitted, undoPlan, type Stop, type SubmitPlan, type SubmitStep } from './submit-plan.js';

/** True for the scheduler's "it may or may not have taken the job" (timeout, lost reply, unparsable answer). */
export function isAmbiguous(e: unknown): boolean {
  return e instanceof QdoError && e.code === 'scheduler-submit-ambiguous';
}

/** Applies `plan`; returns the record as the scheduler's answer left it. */
export async function applySubmitPlan(ctx: Context, l: Layout, backend: Backend, plan: SubmitPlan): Promise<Submission> {
  const done: SubmitStep[] = [];
  let intent: Submission | undefined;
  let schedId: string | null = null;
  for (const step of plan.steps) {
    try {
      switch (step.do) {
        case 'store-objects':
          for (const b of step.objects) await writeObject(l, b);
          break;
        case 'store-manifest': {
          const written = await writeManifest(l, step.manifest);
          if (written !== step.id) throw new Error(`manifest id mismatch ${written} != ${step.id}`);
          break;
        }
        case 'record-intent':
          await createSubmission(l, step.record);
          intent = step.record;
          break;
        case 'move-ref':
          try {
            await updateRef(l, { project: step.project, name: step.name, next: step.next, expect: step.expect });
          } catch (e) {
            if (e instanceof ConflictError) {
              throw new ConflictError('job-moved', `${step.project}/${step.name} got a new version while this one was being prepared; nothing was submitted`, { hint: 'run the command again', cause: e });
            }
            throw e;
          }
          break;
        case 'write-script':
          await mkdir(step.runDir, { recursive: true });
          await writeFileAtomic(step.path, step.text, { mode: 0o755 });
          break;
        case 'submit':
          schedId = await submitOrLookUp(ctx, l, backend, step, plan.id);
          break;
        case 'record-answer': {
          const fields = answerFields(schedId!, ctx.now().toISOString(), step.hold, backend.waitingState);
          return (await changeSubmission(l, step.id, (cur) => answerRecord(cur, intent!, fields)))!;
        }
      }
    } catch (e) {
      // After the scheduler took the job (recording its answer failed), nothing is taken
      // back either: the record stays `submitting` and recovery finds the job by its tag.
      const taken = done.some((d) => d.do === 'submit');
      const stop: Stop = taken || isAmbiguous(e) || (e instanceof QdoError && e.code === 'submit-ambiguous') ? 'ambiguous' : step.do === 'submit' ? 'refused' : 'failed';
      await undo(l, done, stop, intent, stop === 'refused' ? `the scheduler refused it: ${(e as Error).message}` : `not submitted: ${(e as Error).message}`);
      throw e;
    }
    done.push(step);
  }
  throw new Error('submit plan without a record-answer step');
}

/** The scheduler call; an ambiguous answer is looked up by the tag at once, and if still unknown the intent stays. */
async function submitOrLookUp(ctx: Context, l: Layout, backend: Backend, step: Extract<SubmitStep, { do: 'submit' }>, id: string): Promise<string> {
  try {
    return await backend.submit(step.scriptPath, { cwd: step.cwd, hold: step.hold });
  } catch (e) {
    if (!isAmbiguous(e)) throw e;
    const found = backend.findByTag ? await backend.findByTag(step.tag).catch(() => null) : null;
    if (found !== null) return found;
    // Unknown whether the scheduler has it: leave the intent; recovery looks again (§Recovery),
    // counting the grace period from now.
    await changeSubmission(l, id, (cur) => (cur?.state === 'submitting' ? { ...cur, reason: `submit ambiguous: ${(e as Error).message}`, state_time: ctx.now().toISOString() } : null));
    throw new SchedulerError('submit-ambiguous', `${(e as Error).message}; the job is recorded as "submitting" and qdo will look for it again on the next status`, { cause: e });
  }
}

/**
 * Takes back what the done steps wrote (undoPlan): run folder, ref, and the record marked
 * `not-submitted` (why) — kept as the evidence that the version was never accepted.
 */
async function undo(l: Layout, done: SubmitStep[], stop: Stop, intent: Submission | undefined, why: string): Promise<void> {
  for (const u of undoPlan(done, stop)) {
    if (u.do === 'remove-run-folder') {
      await rm(u.runDir, { recursive: true, force: true }).catch(() => undefined);
      await rmdir(dirname(u.runDir)).catch(() => undefined); // the job's runs folder, if this was its only version
    } else if (u.do === 'move-ref-back') {
      // Moved on meanwhile (another submit): the version stays where it is, marked below.
      await updateRef(l, { project: u.project, name: u.name, next: u.to, expect: u.from }).catch(() => undefined);
    } else if (intent) {
      // Left `submitting` (e.g. its lock busy), recovery settles it as not-submitted.
      await changeSubmission(l, u.id, (cur) => (cur === null || cur.state === 'submitting' ? neverSubmitted(cur, intent, why) : null)).catch(() => undefined);
    }
  }
}
