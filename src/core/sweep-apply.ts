// Carrying out a sweep's chunks (spec/sweeps.md §Intent): under the allocation's sweep lock,
// the check (sweep-plan.ts judgeChunk), the intents and the refs; released; one scheduler
// call (packed) or one per job; the answers recorded. A refusal takes the chunk back; an
// ambiguous answer leaves its intents for recovery to settle by the chunk's tag.
import { mkdirSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, QdoError, SchedulerError } from '../errors.js';
import { encodeManifest, type Manifest } from '../model/manifest.js';
import { CHUNK_ANSWER_SCHEMA } from '../model/chunk-answer.js';
import type { Submission } from '../model/submission.js';
import type { ArrayJobRef, SweepRef } from '../model/sweep.js';
import { writeFilesAtomic } from '../store/atomic.js';
import { writeIntents } from '../store/intents.js';
import type { Layout } from '../store/layout.js';
import { readManifest } from '../store/manifests.js';
import { readRefs, updateRef, updateRefs } from '../store/refs.js';
import { changeSubmission, readSubmission } from '../store/submissions.js';
import { removeChunk, withSweepLock, writeChunkAnswer, writeChunkScript } from '../store/sweeps.js';
import type { Backend } from '../scheduler/types.js';
import { newSubmission } from './submit.js';
import { neverSubmitted } from './submit-plan.js';
import { answered, judgeChunk, renderAlone, renderChunk, stillSubmitting, type Chunk, type Group, type Plan } from './sweep-plan.js';
import type { SweepRequest } from './sweep.js';

// ---- Submitting (spec/sweeps.md §Intent) ----

export async function submitChunk(ctx: Context, g: Group, c: Chunk, deps: string[], req: SweepRequest, all: Chunk[], tick: () => void): Promise<void> {
  const l = g.loc.layout;
  for (const p of c.plans) p.prepared!.deps = deps;
  c.script = renderChunk(g, c, deps);

  // Intents and refs of the whole chunk under the one sweep lock; never across the scheduler call.
  await withSweepLock(l, async () => {
    const refs = await readRefs(l, g.loc.project);
    const sweep = (c.plans[0]!.prepared!.manifest.sweep as SweepRef).id;
    // The sweeps of the versions the refs moved to meanwhile (read now, judged purely).
    const sweeps = new Map<string, Manifest>();
    for (const p of c.plans) {
      const now = refs.get(p.name) ?? null;
      if (now !== null && now !== p.parentId) sweeps.set(now, await readManifest(l, now));
    }
    const j = judgeChunk(c.plans, sweep, (name) => refs.get(name) ?? null, (id) => (sweeps.get(id)?.sweep as SweepRef | undefined)?.id);
    if (j.moved) {
      throw new ConflictError('job-moved', `${g.loc.project}/${j.moved.name} got a new version while the sweep was being prepared; nothing of chunk ${c.number} was submitted`, {
        hint: 'run the command again: the points already submitted are skipped',
      });
    }
    for (const p of j.done) {
      const now = refs.get(p.name)!;
      p.skip = true;
      p.existing = { id: now, manifest: sweeps.get(now)!, sub: await readSubmission(l, now) };
    }
    if (j.keep.length !== c.plans.length) {
      c.plans = j.keep;
      if (c.packed && j.keep.length > 0) c.script = renderChunk(g, c, deps);
    }
    const moved = new Set<Plan>();
    try {
      // Intents first, the whole chunk's files together (store/intents.ts: objects, records,
      // then manifests, each step's fsyncs shared); then the refs, in one batch.
      const subs = c.plans.map((p, i): Submission => ({ ...newSubmission(ctx, p.prepared!), ...(c.packed ? { array_job: { base: null, index: i, chunk: c.number, tag: c.tag } satisfies ArrayJobRef } : {}) }));
      const intents = c.plans.map((p, i) => {
        const m = encodeManifest(p.prepared!.manifest);
        if (m.id !== p.prepared!.id) throw new Error(`manifest id mismatch ${m.id} != ${p.prepared!.id}`);
        return { objects: p.prepared!.objects, manifest: m, record: subs[i]! };
      });
      await writeIntents(l, intents, (i) => {
        c.plans[i]!.sub = subs[i]!;
      });
      await updateRefs(l, g.loc.project, c.plans.map((p) => ({ name: p.name, next: p.prepared!.id, expect: p.prepared!.manifest.parent })));
      for (const p of c.plans) moved.add(p);
    } catch (e) {
      await undo(l, g, c.plans, `not submitted: ${(e as Error).message}`, moved);
      if (e instanceof ConflictError) {
        throw new ConflictError('job-moved', `a job of chunk ${c.number} got a new version meanwhile; nothing of that chunk was submitted`, { hint: 'run the command again: the points already submitted are skipped', cause: e });
      }
      throw e;
    }
  });
  if (c.plans.length === 0) return;

  if (c.packed) await submitPacked(ctx, g, c, req, all, tick);
  else await submitOneByOne(ctx, g, c, req, all, tick);
}

/**
 * Each point's run folder and its script (written together: util/atomic-file.ts
 * writeFilesAtomic). Durable when the script is what the scheduler is given. A packed
 * point's is the record of how it would run alone (spec/sweeps.md): nothing runs it (the
 * array script holds each element's script) and its manifest says all it says, so it is
 * not fsynced, nor its folder (2 of the ~6.5 fsyncs a point cost).
 */
async function writeRunFolders(plans: Plan[], durable: boolean): Promise<void> {
  for (const p of plans) mkdirSync(p.prepared!.spec.runDir, { recursive: true });
  await writeFilesAtomic(
    plans.map((p) => ({ target: join(p.prepared!.spec.runDir, `job.${p.prepared!.backend.kind}.sh`), data: renderAlone(p.prepared!, p.prepared!.deps), mode: 0o755 })),
    { durable },
  );
}

async function submitPacked(ctx: Context, g: Group, c: Chunk, req: SweepRequest, all: Chunk[], tick: () => void): Promise<void> {
  const l = g.loc.layout;
  const backend = c.plans[0]!.prepared!.backend;
  await writeRunFolders(c.plans, false);
  const scriptPath = await writeChunkScript(l, c.tag, backend.kind, c.script);
  let base: string;
  try {
    base = await backend.submit(scriptPath, { cwd: c.plans[0]!.prepared!.spec.submitDir, hold: req.hold });
  } catch (e) {
    const found = await lookUpAmbiguous(e, backend, c.tag);
    if (found === 'unknown') {
      await Promise.all(c.plans.map((p) => changeSubmission(l, p.sub!.id, stillSubmitting({ reason: `submit ambiguous: ${(e as Error).message}`, state_time: ctx.now().toISOString() }))));
      throw new SchedulerError('submit-ambiguous', `${(e as Error).message}; the ${c.plans.length} points of chunk ${c.number} are recorded as "submitting" and qdo will look for their array job again on the next status`, { cause: e });
    }
    if (found === null) {
      await undo(l, g, c.plans, `the scheduler refused its chunk: ${(e as Error).message}`);
      await removeChunk(l, c.tag);
      throw refused(e, c, all);
    }
    base = found;
  }
  c.base = base;
  const now = ctx.now().toISOString();
  const state = req.hold ? 'held' : (backend.waitingState ?? 'pending');
  const first = c.plans[0]!.sub!;
  // One answer for the chunk, in its folder, not one in each point's record: the points'
  // records read as answered by it (spec/sweeps.md §Answer). Rewriting 10^4 records was a
  // third of a 10^4-point sweep (bench/README.md).
  await writeChunkAnswer(l, { schema: CHUNK_ANSWER_SCHEMA, tag: c.tag, scheduler: first.scheduler, cluster: first.cluster, base, elements: c.plans.map((_, i) => backend.elementId!(base, i)), submitted: now, state });
  for (const [i, p] of c.plans.entries()) {
    p.schedForDeps = base; // afterok on the array covers all its elements
    const read = await readSubmission(l, p.sub!.id);
    // A record that does not read as answered (gone meanwhile, or changed so that the answer
    // does not apply) gets the answer written into it, as before chunk answers.
    p.sub =
      read !== null && read.sched_id !== null
        ? read
        : (await changeSubmission(l, p.sub!.id, answered(p.sub!, { sched_id: backend.elementId!(base, i), submitted: now, state, state_source: 'qdo', state_time: now, reason: null, array_job: { ...(p.sub!.array_job as ArrayJobRef), base } })))!;
    tick();
  }
}

async function submitOneByOne(ctx: Context, g: Group, c: Chunk, req: SweepRequest, all: Chunk[], tick: () => void): Promise<void> {
  const l = g.loc.layout;
  await writeRunFolders(c.plans, true);
  for (const [i, p] of c.plans.entries()) {
    const pr = p.prepared!;
    const scriptPath = join(pr.spec.runDir, `job.${pr.backend.kind}.sh`);
    let sched: string;
    try {
      sched = await pr.backend.submit(scriptPath, { cwd: pr.spec.submitDir, hold: req.hold });
    } catch (e) {
      const rest = c.plans.slice(i + 1);
      const found = await lookUpAmbiguous(e, pr.backend, pr.id);
      if (found === 'unknown') {
        await changeSubmission(l, p.sub!.id, stillSubmitting({ reason: `submit ambiguous: ${(e as Error).message}`, state_time: ctx.now().toISOString() }));
        await undo(l, g, rest, `not submitted: the point before it got an ambiguous answer`);
        throw new SchedulerError('submit-ambiguous', `${(e as Error).message}; ${g.loc.project}/${p.name} is recorded as "submitting" (qdo looks for it again on the next status); the ${rest.length} points after it were not submitted`, { cause: e });
      }
      if (found === null) {
        await undo(l, g, c.plans.slice(i), `the scheduler refused it or a point before it in its chunk: ${(e as Error).message}`);
        throw refused(e, c, all, i);
      }
      sched = found;
    }
    const now = ctx.now().toISOString();
    p.schedForDeps = sched;
    p.sub = (await changeSubmission(l, p.sub!.id, answered(p.sub!, { sched_id: sched, submitted: now, state: req.hold ? 'held' : (pr.backend.waitingState ?? 'pending'), state_source: 'qdo', state_time: now, reason: null })))!;
    tick();
  }
}

/** After a failed submit: the job's id if an ambiguous answer is resolved by its tag, 'unknown' if it cannot be, null for a refusal. */
async function lookUpAmbiguous(e: unknown, backend: Backend, tag: string): Promise<string | null | 'unknown'> {
  if (!(e instanceof QdoError) || e.code !== 'scheduler-submit-ambiguous') return null;
  if (!backend.findByTag) return 'unknown';
  return (await backend.findByTag(tag).catch(() => null)) ?? 'unknown';
}

function refused(e: unknown, c: Chunk, all: Chunk[], within = 0): unknown {
  if (!(e instanceof QdoError)) return e;
  const before = all.filter((x) => x.number < c.number);
  const kept = before.reduce((n, x) => n + x.plans.length, 0) + within;
  const msg = `chunk ${c.number} of ${all.length} was refused (${e.message}); ${c.plans.length - within} point(s) of it were not submitted${kept ? `, the ${kept} before stay submitted` : ''}`;
  return new QdoError(e.code, e.exitCode, msg, { hint: e.hint ?? 'fix the cause and run the same command again: only what is missing is submitted', cause: e, data: { ...e.data, chunk: c.number } });
}

/** Takes back recorded intents: refs back to their parents, records and run folders removed (as submit's undo). */
async function undo(l: Layout, g: Group, plans: Plan[], why: string, moved?: Set<Plan>): Promise<void> {
  for (const p of [...plans].reverse()) {
    const pr = p.prepared!;
    await rm(pr.spec.runDir, { recursive: true, force: true }).catch(() => undefined);
    await rmdir(dirname(pr.spec.runDir)).catch(() => undefined); // the job's runs folder, if this was its only version
    // Moved on meanwhile (or never moved): the version stays where it is, marked below.
    if (!moved || moved.has(p)) await updateRef(l, { project: g.loc.project, name: p.name, next: pr.manifest.parent, expect: pr.id }).catch(() => undefined);
    // Marked not-submitted, never deleted: the evidence that the version was never accepted (gc --prune removes it).
    const sub = p.sub;
    if (sub) await changeSubmission(l, sub.id, (cur) => (cur === null || cur.state === 'submitting' ? neverSubmitted(cur, sub, why) : null)).catch(() => undefined);
    p.sub = undefined;
  }
}

