// `qdo gc [PATTERN…] [--keep N] [--prune] [--dry-run]` (spec/porcelain.md §qdo gc).
//
// Two independent sweeps, both planned in full before anything is removed (so a planning
// error changes nothing):
//  1. Run folders of superseded versions beyond the newest N of each selected job, but only
//     of versions known to be over (terminal record, refreshed first): a superseded version
//     may still be running. Manifests, refs and records stay, so history is intact; the
//     record gets `collected` (when) so show/logs can say where the folder went.
//  2. With --prune, per allocation: objects unreachable from the roots (every ref, every
//     record of a version not yet over or of a job that still exists, every object younger
//     than PRUNE_GRACE_MS), the records of the unreachable versions, and their run folders.
// No lock is held over the walk; instead every candidate is re-checked right before it is
// removed (spec/porcelain.md §qdo gc, "Concurrency").
import { lstatSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Context } from '../context.js';
import { NotFoundError, QdoError, RepositoryError, UsageError, errnoCode } from '../errors.js';
import { looksLikeManifest, parseManifest, type Manifest } from '../model/manifest.js';
import { isObjectId, objectId } from '../model/object-id.js';
import { isTerminal } from '../model/states.js';
import type { Submission } from '../model/submission.js';
import { isTempName } from '../store/atomic.js';
import type { Layout } from '../store/layout.js';
import { readList } from '../store/lists.js';
import { listObjectFiles, objectFileInfo, objectPath, readObjectFile, removeEmptyShards, removeObject } from '../store/objects.js';
import { readManifest } from '../store/manifests.js';
import { projectsWithRefs, readRefs } from '../store/refs.js';
import { changeSubmission, changeSubmissions, listSubmissionIds, readSubmission, removeSubmissionFile, submissionFileInfo, removeEmptySubmissionShards } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import { fullName, listLatest, mapBounded, runDirOfJob, type JobVersion } from './jobs.js';
import { readEndRecord, refreshJobs, stateFromEndRecord } from './refresh.js';
import { runDirOf } from './runs.js';
import { projectsList } from './world.js';
import { TreeRemover } from '../util/fs.js';

/** The latest version and the one before it: enough to compare a resubmission with its predecessor. */
export const DEFAULT_KEEP = 2;
/**
 * Unreachable objects younger than this are kept: `qdo submit` writes its objects, then the
 * manifest and the record, and only then moves the ref; until then they are unreachable.
 */
export const PRUNE_GRACE_MS = 60 * 60_000;
/** Jobs looked at, or run folders collected, at once. */
const IN_FLIGHT = 16;

export interface GcOptions {
  /** Versions of each job whose run folders are kept, the latest included (>= 1). */
  keep?: number;
  prune?: boolean;
  dryRun?: boolean;
  runner?: Runner;
}

export interface CollectedRun {
  job: string;
  version: number;
  id: string;
  path: string;
  bytes: number;
  /** superseded: beyond --keep; unreachable: its manifest is pruned. */
  why: 'superseded' | 'unreachable';
}

export interface KeptRun {
  job: string;
  version: number;
  id: string;
  path: string;
  state: string;
  reason: string;
}

export interface PrunedObject {
  allocation: string;
  id: string;
  kind: 'manifest' | 'content';
  bytes: number;
}

export interface PrunedRecord {
  allocation: string;
  id: string;
  bytes: number;
}

export interface GcResult {
  dryRun: boolean;
  keep: number;
  prune: boolean;
  runDirs: CollectedRun[];
  kept: KeptRun[];
  objects: PrunedObject[];
  records: PrunedRecord[];
  bytes: number;
  /** Jobs or allocations that could not be handled (the rest were). */
  problems: string[];
}

export async function gc(ctx: Context, patterns: string[], o: GcOptions = {}): Promise<GcResult> {
  const keep = o.keep ?? DEFAULT_KEEP;
  if (!Number.isSafeInteger(keep) || keep < 1) {
    throw new UsageError(`--keep ${keep}: expected a whole number >= 1 (the latest version's run folder is never collected)`, { code: 'bad-keep' });
  }
  const dryRun = o.dryRun === true;
  // One unreadable job hides no other: it is a problem (exit 1), and --prune, which needs
  // every ref's target, finds the damage again and prunes nothing there (exit 7).
  // The latest versions' records as status reads them (ended ones from the ended-jobs cache,
  // one stat each): gc needs only their ids and names, and at 10^4 jobs each read was an open.
  const sel = await listLatest(ctx, patterns, { tolerant: true, endedCache: true });
  if (patterns.length > 0 && sel.jobs.length === 0 && sel.problems.length === 0) {
    throw new NotFoundError('no-match', `gc: no job matches ${patterns.map((p) => JSON.stringify(p)).join(' or ')}`, { hint: 'list every job with: qdo status (outside a project folder)' });
  }
  const result: GcResult = { dryRun, keep, prune: o.prune === true, runDirs: [], kept: [], objects: [], records: [], bytes: 0, problems: sel.problems.map((p) => `${p.subject}: unreadable, nothing collected: ${p.error.message}`) };

  // 1. Plan: superseded run folders.
  const collect: { job: JobVersion; path: string }[] = [];
  const unsure: { job: JobVersion; path: string }[] = [];
  // Jobs are looked at several at a time (each walk is a chain of small reads), the results
  // taken in the jobs' order.
  const looked = await mapBounded(sel.jobs, IN_FLIGHT, async (latest) => {
    try {
      return await supersededRuns(latest, keep);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      return `${fullName(latest)}: history unreadable, nothing collected: ${e.message}`;
    }
  });
  for (const l of looked) {
    if (typeof l === 'string') {
      result.problems.push(l);
      continue;
    }
    for (const { job, path } of l) {
      if (job.sub === null) {
        result.kept.push(keptOf(job, path, 'unsubmitted', 'no submission record (made without qdo submit): its state is unknown'));
      } else if (isTerminal(job.sub.state)) collect.push({ job, path });
      else unsure.push({ job, path });
    }
  }
  // A superseded version may still be running: learn what can be learned first. A dry run
  // writes nothing, so it reads end records itself and never asks the scheduler.
  if (unsure.length > 0) {
    if (dryRun) {
      for (const u of unsure) {
        const rec = u.job.sub!.array !== undefined ? null : await readEndRecord(u.path);
        const ended = rec && stateFromEndRecord(rec);
        if (ended) collect.push(u);
        else result.kept.push(keptOf(u.job, u.path, u.job.sub!.state, 'not over yet (a dry run does not ask the scheduler)'));
      }
    } else {
      await refreshJobs(ctx, unsure.map((u) => u.job), { runner: o.runner });
      for (const u of unsure) {
        if (isTerminal(u.job.sub!.state)) collect.push(u);
        else result.kept.push(keptOf(u.job, u.path, u.job.sub!.state, 'not over yet: collected by a gc after it ends'));
      }
    }
  }
  collect.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // A real gc learns each folder's size as it removes it (collectRunDirs).
  const sizes = dryRun ? await mapBounded(collect, IN_FLIGHT, (c) => diskBytes(c.path)) : collect.map(() => 0);
  collect.forEach((c, i) => result.runDirs.push({ job: fullName(c.job), version: c.job.version, id: c.job.id, path: c.path, bytes: sizes[i]!, why: 'superseded' }));

  // 2. Plan: unreachable objects, per allocation. Records still `submitting` whose
  // submitter is gone are settled first (submissions.md §Recovery), whether or not a ref
  // reaches them: a version superseded while it was being submitted is shown by no status.
  const plans: PrunePlan[] = [];
  if (o.prune) {
    for (const a of sel.allocs) {
      if (!a.layout) continue;
      if (!dryRun) await settleStuck(ctx, a.layout, o.runner);
      const plan = await planPrune(ctx, a.layout);
      plans.push(plan);
      result.runDirs.push(...plan.runDirs);
    }
  }

  // 3. Act.
  if (!dryRun) {
    const done: CollectedRun[] = [];
    const planned = new Map(result.runDirs.map((x) => [x.path, x]));
    const stuck: { i: number; error: NodeJS.ErrnoException }[] = [];
    const collected = await collectRunDirs(ctx, collect, stuck);
    // A folder that could not be removed (permissions, a file held by the file system): its
    // record is marked, so the next gc removes what is left once that is fixed.
    for (const { i, error } of stuck.sort((a, b) => a.i - b.i)) {
      const c = collect[i]!;
      result.problems.push(`${fullName(c.job)}@${c.job.version}: run folder ${c.path} could not be removed (${error.code ?? error.message}); a gc after that is fixed removes it`);
    }
    collect.forEach((c, i) => {
      if (collected[i] === null) return;
      const d = planned.get(c.path)!;
      d.bytes = collected[i]!;
      done.push(d);
    });
    const objects: PrunedObject[] = [];
    const records: PrunedRecord[] = [];
    for (const plan of plans) {
      const r = await executePrune(ctx, plan);
      done.push(...r.runDirs);
      objects.push(...r.objects);
      records.push(...r.records);
    }
    result.runDirs = done;
    result.objects = objects;
    result.records = records;
  } else {
    for (const plan of plans) {
      result.objects.push(...plan.objects.map((c) => c.out));
      result.records.push(...plan.records.map((c) => c.out));
    }
  }
  result.bytes = [...result.runDirs, ...result.objects, ...result.records].reduce((s, x) => s + x.bytes, 0);
  return result;
}

/**
 * The versions of a job beyond the newest `keep` whose run folders are there (else they never
 * ran, or were collected before), with their records. Walks the parent chain (manifests), and
 * reads a record only for a folder that is there: a second gc reads one manifest per version.
 */
async function supersededRuns(latest: JobVersion, keep: number): Promise<{ job: JobVersion; path: string }[]> {
  const l = latest.layout;
  const found: { job: JobVersion; path: string }[] = [];
  const seen = new Set<string>();
  for (let id: string | null = latest.id, k = 0; id !== null && !seen.has(id); k++) {
    seen.add(id);
    const m = await readManifest(l, id);
    if (k >= keep) {
      const job: JobVersion = { layout: l, project: latest.project, name: latest.name, id, version: m.version, latest: false, sub: null };
      const path = runDirOfJob(job);
      if (await exists(path)) found.push({ job: { ...job, sub: await readSubmission(l, id) }, path });
    }
    id = m.parent;
  }
  return found;
}

/** Looks up, by their tags, the records of an allocation still `submitting` whose submitter is gone. */
async function settleStuck(ctx: Context, l: Layout, runner?: Runner): Promise<void> {
  const { isAbandoned } = await import('./refresh.js');
  const stuck: JobVersion[] = [];
  for (const id of await listSubmissionIds(l)) {
    const sub = await readSubmission(l, id).catch(() => null);
    if (sub?.state === 'submitting' && isAbandoned(ctx, sub)) stuck.push({ layout: l, project: sub.project, name: sub.name, id, version: sub.version, latest: false, sub });
  }
  if (stuck.length > 0) await refreshJobs(ctx, stuck, { runner, noPolicies: true });
}

function keptOf(j: JobVersion, path: string, state: string, reason: string): KeptRun {
  return { job: fullName(j), version: j.version, id: j.id, path, state, reason };
}

/**
 * Marks the records, then removes their folders: a crash in between leaves folders the next
 * gc removes. The records are marked in batches (store: changeSubmissions), each still under
 * its shard folder's lock and decided from what is on disk then — the record is the truth,
 * not what this process read minutes ago — and durable before any of that batch's folders
 * goes. Returns, per folder, the bytes removed, or null if it was not collected (a folder
 * that could not be removed is also in `stuck`, with why).
 */
async function collectRunDirs(ctx: Context, runs: { job: JobVersion; path: string }[], stuck: { i: number; error: NodeJS.ErrnoException }[]): Promise<(number | null)[]> {
  const byLayout = new Map<Layout, number[]>();
  runs.forEach((r, i) => byLayout.set(r.job.layout, [...(byLayout.get(r.job.layout) ?? []), i]));
  const when = ctx.now().toISOString();
  const out = new Array<number | null>(runs.length).fill(null);
  // No lock is held while a folder goes: each batch's folders are removed once its marks
  // are durable, while the next batches are marked. A run folder is a few small files,
  // removed with synchronous calls (a promise per file cost several times the system
  // calls) in worker threads (each unlink and rmdir mostly waits in the kernel). Sized as
  // removed.
  const remover = new TreeRemover();
  const removals: Promise<void>[] = [];
  // Each removal's failure is caught at once (a rejection nobody awaits yet would end the
  // process) and thrown once every batch is done; a folder that cannot be removed is a
  // problem of its own (the others go).
  const failures: unknown[] = [];
  try {
    for (const [l, idx] of byLayout) {
      await changeSubmissions(
        l,
        idx.map((i) => runs[i]!.job.id),
        (_id, cur) => (cur && isTerminal(cur.state) && cur.collected === undefined ? { ...cur, collected: when } : null),
        (batch) => {
          const go = batch.filter((b) => b.rec !== null && isTerminal(b.rec.state)).map((b) => idx[b.i]!);
          if (go.length === 0) return;
          removals.push(
            remover.remove(go.map((i) => runs[i]!.path)).then(
              (answers) =>
                go.forEach((i, k) => {
                  const a = answers[k]!;
                  if (typeof a === 'number') out[i] = a;
                  else stuck.push({ i, error: a });
                }),
              (e: unknown) => void failures.push(e),
            ),
          );
        },
      );
    }
  } finally {
    await Promise.all(removals);
    await remover.close();
  }
  if (failures.length > 0) throw failures[0];
  return out;
}

// ---- pruning ---------------------------------------------------------------------------

interface ObjInfo {
  path: string;
  bytes: number;
  mtimeMs: number;
}

interface PrunePlan {
  layout: Layout;
  /** Everything reachable when planned (grown by the re-check before removal). */
  reachable: Set<string>;
  present: Map<string, ObjInfo>;
  /** Unreachable manifests newest version first, then content objects. */
  objects: { id: string; info: ObjInfo; out: PrunedObject }[];
  records: { id: string; out: PrunedRecord }[];
  runDirs: CollectedRun[];
}

async function planPrune(ctx: Context, l: Layout): Promise<PrunePlan> {
  const now = ctx.now().getTime();
  const present = new Map<string, ObjInfo>();
  for await (const e of listObjectFiles(l)) {
    if (e.id === null || isTempName(e.name)) continue; // fsck's business
    const st = await objectFileInfo(l, e.id);
    if (st) present.set(e.id, { path: e.path, bytes: st.size, mtimeMs: st.mtimeMs });
  }
  const reachable = new Set<string>();
  const reachableRunDirs = new Set<string>();
  const roots = await rootsOf(l);
  for (const [id, info] of present) if (now - info.mtimeMs < PRUNE_GRACE_MS) roots.push({ id, manifest: false });
  await walk(l, roots, reachable, reachableRunDirs);

  const plan: PrunePlan = { layout: l, reachable, present, objects: [], records: [], runDirs: [] };
  const manifests: { id: string; m: Manifest; info: ObjInfo }[] = [];
  for (const [id, info] of present) {
    if (reachable.has(id)) continue;
    const bytes = await readObjectFile(info.path).catch(() => null);
    if (bytes === null) continue;
    let m: Manifest | null = null;
    if (looksLikeManifest(bytes)) {
      try {
        m = parseManifest(bytes, info.path);
      } catch {
        m = null; // an invalid manifest is still unreachable bytes
      }
    }
    if (m) manifests.push({ id, m, info });
    else plan.objects.push({ id, info, out: { allocation: l.root, id, kind: 'content', bytes: info.bytes } });
  }
  // Children before parents, so an interrupted prune never leaves a manifest without its parent.
  manifests.sort((a, b) => b.m.version - a.m.version || (a.id < b.id ? -1 : 1));
  const content = plan.objects;
  plan.objects = manifests.map(({ id, info }) => ({ id, info, out: { allocation: l.root, id, kind: 'manifest' as const, bytes: info.bytes } }));
  plan.objects.push(...content.sort((a, b) => (a.id < b.id ? -1 : 1)));

  for (const { id, m } of manifests) {
    const st = await submissionFileInfo(l, id);
    if (st) plan.records.push({ id, out: { allocation: l.root, id, bytes: st.size } });
    const dir = runDirOf(l, m, id);
    // Two versions whose ids share 8 digits would share a folder: keep it if a live one does.
    if (!reachableRunDirs.has(dir) && st && (await exists(dir))) {
      plan.runDirs.push({ job: `${m.project}/${m.name}`, version: m.version, id, path: dir, bytes: await diskBytes(dir), why: 'unreachable' });
    }
  }
  return plan;
}

/**
 * Every ref of the allocation; every record of a version not yet over (or unreadable); and
 * every record of a version that ran under a job name that still has a ref: a side branch
 * left by a sync (fsck's rebuild rule picks one head) or by moving a ref back holds real
 * results, so only a deleted job's versions and never-submitted attempts are pruned.
 */
async function rootsOf(l: Layout): Promise<Root[]> {
  const roots: Root[] = [];
  const names = new Set<string>();
  const projects = new Set(await projectsWithRefs(l));
  for (const p of await readList(projectsList(l))) projects.add(p);
  for (const p of [...projects].sort()) {
    let refs;
    try {
      refs = await readRefs(l, p);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      // Without every ref, reachability is unknown: prune nothing here.
      throw new RepositoryError(e.code, `gc --prune: cannot read the refs of project ${p} in ${l.root}, so nothing was pruned: ${e.message}`, { hint: 'repair them first: qdo fsck --repair' });
    }
    for (const id of refs.values()) roots.push({ id, manifest: true });
    for (const n of refs.keys()) names.add(`${p}/${n}`);
  }
  for (const id of await listSubmissionIds(l)) {
    let sub: Submission | null;
    try {
      sub = await readSubmission(l, id);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      roots.push({ id, manifest: false }); // unreadable: assume the job may be alive
      continue;
    }
    if (!sub) continue;
    // A record's manifest may not be written yet (submissions.md §Submitting: the record comes first).
    if (!isTerminal(sub.state) || (sub.state !== 'not-submitted' && names.has(`${sub.project}/${sub.name}`))) roots.push({ id, manifest: false });
  }
  return roots;
}

/** Where a walk starts; `manifest`: a ref target, which must be there (else reachability is unknown). */
interface Root {
  id: string;
  manifest: boolean;
}

/**
 * Marks everything reachable from `from`. A manifest refers to every object whose id appears
 * as a string anywhere in it (script, prologue, epilogue, template.object, parent, after, and
 * fields added later), so no future field can make gc drop what it needs.
 */
async function walk(l: Layout, from: Root[], reachable: Set<string>, runDirs: Set<string>): Promise<void> {
  // Ref targets and parents are manifests: one that is missing may have named anything, so
  // reachability is unknown (a missing content object names nothing: fsck reports it).
  const stack = from.filter((r) => !reachable.has(r.id));
  for (const x of stack) reachable.add(x.id);
  while (stack.length > 0) {
    const { id, manifest } = stack.pop()!;
    // Read even if the listing did not have it: a submit may have written it since.
    const bytes = await readObjectFile(objectPath(l, id));
    if (bytes === null) {
      if (manifest) {
        throw new RepositoryError('missing-object', `gc --prune: ${objectPath(l, id)} is missing but a ref, a record or a parent names it, so what it named is unknown and nothing was pruned in ${l.root}`, { hint: 'see qdo fsck (dangling-ref, missing-parent); repair or remove the ref first' });
      }
      continue;
    }
    if (!looksLikeManifest(bytes)) continue;
    if (objectId(bytes) !== id) {
      // A damaged manifest may have lost a reference: what it named cannot be known.
      throw new RepositoryError('hash-mismatch', `gc --prune: ${objectPath(l, id)} does not hash to its name, so nothing was pruned in ${l.root}`, { hint: 'see qdo fsck' });
    }
    let v: unknown;
    try {
      v = JSON.parse(bytes.toString('utf8'));
    } catch {
      continue;
    }
    const m = v as Partial<Manifest>;
    if (typeof m.project === 'string' && typeof m.name === 'string' && typeof m.version === 'number') {
      runDirs.add(runDirOf(l, { project: m.project, name: m.name, version: m.version }, id));
    }
    const parent = (v as { parent?: unknown }).parent;
    for (const ref of idsIn(v)) {
      if (reachable.has(ref)) continue;
      reachable.add(ref);
      stack.push({ id: ref, manifest: ref === parent });
    }
  }
}

export function idsIn(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') {
    if (isObjectId(v)) out.push(v);
  } else if (Array.isArray(v)) for (const x of v) idsIn(x, out);
  else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) idsIn(x, out);
  return out;
}

async function executePrune(ctx: Context, plan: PrunePlan): Promise<{ runDirs: CollectedRun[]; objects: PrunedObject[]; records: PrunedRecord[] }> {
  const l = plan.layout;
  // The re-check: refs and live records as they are now. A ref moved since the walk (a
  // submit, an update-ref back to an old id) makes its target and everything it names
  // reachable again before anything is removed.
  const fresh = (await rootsOf(l)).filter((r) => !plan.reachable.has(r.id));
  await walk(l, fresh, plan.reachable, new Set());
  const gone = (id: string) => !plan.reachable.has(id);
  const out = { runDirs: [] as CollectedRun[], objects: [] as PrunedObject[], records: [] as PrunedRecord[] };

  for (const r of plan.runDirs) {
    if (!gone(r.id)) continue;
    const sub = await readSubmission(l, r.id).catch(() => null);
    if (!sub || !isTerminal(sub.state)) continue;
    await rm(r.path, { recursive: true, force: true });
    await rmdir(dirname(r.path)).catch(() => undefined); // the job's runs/<job>, if now empty
    out.runDirs.push(r);
  }
  for (const r of plan.records) {
    if (!gone(r.id)) continue;
    // Under the record's lock: a record that came alive meanwhile (a requeue, a sync) stays.
    let removed = false;
    try {
      await changeSubmission(l, r.id, (cur) => {
        if (cur && !isTerminal(cur.state)) return null;
        removed = cur !== null;
        return 'delete';
      });
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      await removeSubmissionFile(l, r.id); // unreadable and unreachable: as before
      removed = true;
    }
    if (removed) out.records.push(r.out);
  }
  const now = ctx.now().getTime();
  for (const c of plan.objects) {
    if (!gone(c.id)) continue;
    // Writing an object that exists refreshes its time (store/objects.ts), so a submit that
    // is reusing this object right now shows up here as a young object.
    const st = await objectFileInfo(l, c.id);
    if (!st || now - st.mtimeMs < PRUNE_GRACE_MS) continue;
    if (await removeObject(l, c.id)) out.objects.push(c.out);
  }
  await removeEmptyShards(l.objects); // store: objects.ts
  await removeEmptySubmissionShards(l);
  return out;
}

// ---- files -----------------------------------------------------------------------------

async function lstatOrNull(p: string) {
  // Synchronous: gc looks at tens of thousands of run folders, and a promise per lstat costs
  // several times the system call (a stat of a small tree is never slow enough to matter).
  try {
    return lstatSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw e;
  }
}

async function exists(p: string): Promise<boolean> {
  return (await lstatOrNull(p)) !== null;
}

/** Bytes of the files in a folder tree (symbolic links are not followed). */
export async function diskBytes(p: string): Promise<number> {
  const st = await lstatOrNull(p);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let sum = 0;
  for (const n of await readdir(p).catch(() => [] as string[])) sum += await diskBytes(join(p, n));
  return sum;
}
