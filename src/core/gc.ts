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
import { writeCollectedList } from '../store/collected.js';
import { changeSubmission, listSubmissionIds, readSubmission, removeSubmissionFile, submissionFileInfo, removeEmptySubmissionShards } from '../store/submissions.js';
import type { Runner } from '../scheduler/runner.js';
import { fullName, listLatest, mapBounded, runDirOfJob, type JobVersion } from './jobs.js';
import { queuedAgain, readEndRecord, refreshJobs, rerunWindowMs, stateFromEndRecord } from './refresh.js';
import { rerunMark } from './refresh-records.js';
import { jobRunsDir, runDirOf } from './runs.js';
import { projectsList } from './world.js';
import { namesIn, TreeRemover } from '../util/fs.js';

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

  // 1. Superseded run folders. A real gc removes them as they are found: each job's
  // terminal versions go to the collector (lists written, folders removed in worker threads)
  // while the next jobs are looked at.
  const collector = dryRun ? null : new Collector(ctx);
  const collect: { job: JobVersion; path: string }[] = [];
  const unsure: { job: JobVersion; path: string }[] = [];
  // A version that ended within rerun_window may be running again (a requeue): it goes
  // through refresh first, as status would look at it (one stat of its rerun marker).
  const window = await rerunWindowMs(ctx);
  const settled = (s: Submission) => isTerminal(s.state) && !(window > 0 && ctx.now().getTime() - Date.parse(s.state_time) <= window);
  const take = (c: { job: JobVersion; path: string }) => {
    collect.push(c);
    collector?.add(c);
  };
  // An ended version is taken unless the scheduler has it queued again, or cannot be asked
  // while rerun_window lasts (queuedAgain); the same for a dry run and a real one.
  const takeUnlessQueued = (u: { job: JobVersion; path: string }, again: Awaited<ReturnType<typeof queuedAgain>> | null) => {
    const st = u.job.sub!.state;
    if (again?.queued.has(u.job)) result.kept.push(keptOf(u.job, u.path, st, 'queued again by the scheduler (a requeue that has not started yet): collected by a gc after it ends'));
    else if (again?.unasked.has(u.job)) result.kept.push(keptOf(u.job, u.path, st, `ended less than rerun_window ago and ${again.unasked.get(u.job)}: collected by a gc once rerun_window has passed`));
    else take(u);
  };
  try {
    // Jobs are looked at several at a time (each walk is a chain of small reads), the results
    // taken in the jobs' order.
    const looked = await mapBounded(sel.jobs, IN_FLIGHT, async (latest) => {
      let runs;
      try {
        runs = await supersededRuns(latest, keep);
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        return `${fullName(latest)}: history unreadable, nothing collected: ${e.message}`;
      }
      for (const r of runs) if (r.job.sub !== null && settled(r.job.sub)) take(r);
      return runs;
    });
    for (const l of looked) {
      if (typeof l === 'string') {
        result.problems.push(l);
        continue;
      }
      for (const { job, path } of l) {
        if (job.sub === null) {
          result.kept.push(keptOf(job, path, 'unsubmitted', 'no submission record (made without qdo submit): its state is unknown'));
        } else if (!settled(job.sub)) unsure.push({ job, path });
      }
    }
    // A superseded version may still be running: learn what can be learned first. A dry run
    // writes nothing, so it does not refresh: it reads end records and rerun markers itself,
    // and asks the scheduler only, as a real gc does, whether a version that ended within
    // rerun_window was taken back into its queue (a query: no record is written). So it
    // never lists a folder a real gc would keep.
    if (unsure.length > 0) {
      if (dryRun) {
        const over = new Set<JobVersion>();
        for (const u of unsure) {
          const s = u.job.sub!;
          if (isTerminal(s.state)) {
            const mark = await rerunMark(u.path);
            if (mark !== null && mark !== (s.rerun_mark ?? null)) result.kept.push(keptOf(u.job, u.path, s.state, 'running again (a rerun marker newer than its record): collected by a gc after it ends'));
            else over.add(u.job);
            continue;
          }
          const rec = s.array !== undefined ? null : await readEndRecord(u.path);
          if (rec && stateFromEndRecord(rec)) over.add(u.job);
          else result.kept.push(keptOf(u.job, u.path, s.state, 'not over yet (a dry run does not ask the scheduler)'));
        }
        const again = over.size > 0 ? await queuedAgain(ctx, [...over], { runner: o.runner }) : null;
        for (const u of unsure) if (over.has(u.job)) takeUnlessQueued(u, again);
      } else {
        await refreshJobs(ctx, unsure.map((u) => u.job), { runner: o.runner });
        // Recorded ended within rerun_window and no rerun marker: a requeue whose next
        // attempt has not started shows only in the scheduler's queue, so it is asked (its
        // run folder is where that attempt will write).
        const recent = unsure.filter((u) => isTerminal(u.job.sub!.state)).map((u) => u.job);
        const again = recent.length > 0 ? await queuedAgain(ctx, recent, { runner: o.runner }) : null;
        for (const u of unsure) {
          if (isTerminal(u.job.sub!.state)) takeUnlessQueued(u, again);
          else result.kept.push(keptOf(u.job, u.path, u.job.sub!.state, 'not over yet: collected by a gc after it ends'));
        }
      }
    }
  } finally {
    // Whatever was handed over is finished (or fails) before anything else happens.
    await collector?.finish();
  }
  collect.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (dryRun) {
    const sizes = await mapBounded(collect, IN_FLIGHT, (c) => diskBytes(c.path));
    collect.forEach((c, i) => result.runDirs.push({ job: fullName(c.job), version: c.job.version, id: c.job.id, path: c.path, bytes: sizes[i]!, why: 'superseded' }));
  } else {
    // A folder that could not be removed (permissions, a file held by the file system) is
    // listed, so the next gc removes what is left once that is fixed.
    for (const c of collect) {
      const a = collector!.answer(c.path);
      if (typeof a === 'number') result.runDirs.push({ job: fullName(c.job), version: c.job.version, id: c.job.id, path: c.path, bytes: a, why: 'superseded' });
      else if (a !== undefined) result.problems.push(`${fullName(c.job)}@${c.job.version}: run folder ${c.path} could not be removed (${a.code ?? a.message}); a gc after that is fixed removes it`);
    }
  }

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
      if (dryRun) result.runDirs.push(...plan.runDirs);
    }
  }

  // 3. Act: prune.
  if (!dryRun) {
    for (const plan of plans) {
      const r = await executePrune(ctx, plan);
      result.runDirs.push(...r.runDirs);
      result.objects.push(...r.objects);
      result.records.push(...r.records);
    }
  } else {
    for (const plan of plans) {
      result.objects.push(...plan.objects.map((c) => c.out));
      result.records.push(...plan.records.map((c) => c.out));
    }
  }
  result.bytes = [...result.runDirs, ...result.objects, ...result.records].reduce((s, x) => s + x.bytes, 0);
  return result;
}

/** A run folder's name: `<version>-<first 8 hex digits of the id>` (layout.md §Run folders). */
const RUN_FOLDER_RE = /^(\d+)-[0-9a-f]{8}$/;

/**
 * The versions of a job beyond the newest `keep` whose run folders are there (else they never
 * ran, or were collected before), with their records. The job's runs folder is listed first:
 * a version is its parent's + 1 (manifest.md), so unless a folder of a version below the
 * newest `keep` is there, nothing is read (a second gc lists one folder per job). Otherwise the
 * parent chain is walked down to the oldest such version, reading the manifests whose parent
 * is needed and the record of each version with a folder.
 */
async function supersededRuns(latest: JobVersion, keep: number): Promise<{ job: JobVersion; path: string }[]> {
  const l = latest.layout;
  const dir = jobRunsDir(l, latest.project, latest.name);
  const names = await namesIn(dir, (c) => new RepositoryError('unreadable-file', `run folders ${dir} unreadable (${c})`));
  const below = latest.version - keep + 1; // the newest `keep` versions are `below` … latest
  let lowest = Infinity;
  for (const n of names) {
    const m = RUN_FOLDER_RE.exec(n);
    if (m && Number(m[1]) < below && Number(m[1]) < lowest) lowest = Number(m[1]);
  }
  if (lowest === Infinity) return [];
  const present = new Set(names);
  const found: { job: JobVersion; path: string }[] = [];
  const seen = new Set<string>();
  let version = latest.version;
  for (let id: string | null = latest.id, k = 0; id !== null && !seen.has(id) && version >= lowest; k++, version--) {
    seen.add(id);
    if (k >= keep && present.has(`${version}-${id.slice(0, 8)}`)) {
      const job: JobVersion = { layout: l, project: latest.project, name: latest.name, id, version, latest: false, sub: null };
      found.push({ job: { ...job, sub: await readSubmission(l, id) }, path: runDirOfJob(job) });
    }
    if (version === lowest) break; // no older version has a folder
    const m = await readManifest(l, id);
    if (m.version !== version) throw new RepositoryError('bad-manifest', `${fullName(latest)}: version ${id} says it is ${m.version}, its place in the chain is ${version} (qdo fsck)`);
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

/** Run folders named by one collected list (a gc of 10^4 folders writes ten). */
const LIST_BATCH = 1024;
/** Run folders handed to a removal worker at once. */
const REMOVE_BATCH = 64;

/**
 * Removes superseded run folders as gc finds them (layout.md §Collected lists): every
 * LIST_BATCH folders of an allocation, one list naming them is written and made durable,
 * then they are removed in worker threads (a run folder is a few small files, removed with
 * synchronous calls: a promise per file cost several times the system calls), while gc goes
 * on looking. A gc killed at any point leaves listed folders that are still there: the next
 * gc removes them. No lock is held: the records are not changed, a terminal record stays
 * terminal (refresh writes only versions not yet over), and two gcs removing one folder
 * both succeed.
 */
class Collector {
  private readonly remover = new TreeRemover();
  private readonly pending = new Map<Layout, { job: JobVersion; path: string }[]>();
  private readonly answers = new Map<string, number | NodeJS.ErrnoException>();
  private chain: Promise<void> = Promise.resolve();
  private readonly removals: Promise<void>[] = [];
  private failure: { e: unknown } | null = null;

  constructor(private readonly ctx: Context) {}

  add(c: { job: JobVersion; path: string }): void {
    const l = c.job.layout;
    const batch = this.pending.get(l) ?? [];
    this.pending.set(l, batch);
    batch.push(c);
    if (batch.length >= LIST_BATCH) this.send(l);
  }

  /** The bytes removed for a folder, why it could not be removed, or undefined: not removed (an earlier failure). */
  answer(path: string): number | NodeJS.ErrnoException | undefined {
    return this.answers.get(path);
  }

  /** Sends what is left, waits for every removal; throws the first failure to write a list or to remove. */
  async finish(): Promise<void> {
    for (const l of [...this.pending.keys()]) this.send(l);
    try {
      await this.chain;
      await Promise.all(this.removals);
    } finally {
      await this.remover.close();
    }
    if (this.failure) throw this.failure.e;
  }

  private send(l: Layout): void {
    const batch = this.pending.get(l) ?? [];
    this.pending.delete(l);
    if (batch.length === 0) return;
    // In the order people look for them: by job, then version.
    const entries = batch.map((c) => ({ id: c.job.id, job: fullName(c.job), version: c.job.version })).sort((a, b) => (a.job < b.job ? -1 : a.job > b.job ? 1 : a.version - b.version));
    // Lists are written one after another; a list that cannot be written stops the rest (no
    // folder is removed without its list).
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await writeCollectedList(l, this.ctx.now().toISOString(), entries);
      } catch (e) {
        this.failure = { e };
        return;
      }
      for (let k = 0; k < batch.length; k += REMOVE_BATCH) {
        const part = batch.slice(k, k + REMOVE_BATCH);
        this.removals.push(
          this.remover.remove(part.map((c) => c.path)).then(
            (out) => part.forEach((c, i) => this.answers.set(c.path, out[i]!)),
            (e: unknown) => void (this.failure ??= { e }),
          ),
        );
      }
    });
  }
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
