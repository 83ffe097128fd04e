// qdo fsck [--repair] (spec/plumbing/fsck.md): checks every object's hash, manifests and
// their parent chains, refs, submission records, lists, run folders, leftover temp files and
// stale locks. Two kinds of findings:
//  - damage (`error`): what no qdo leaves behind — a bad hash, a broken chain, refs that lost
//    an accepted version, an unreadable file. --repair rebuilds refs; objects are never
//    "repaired";
//  - leftovers (`warning`): what an interrupted or refused submit, a killed writer or a dead
//    lock holder leaves — temp files, stale locks, records still `submitting` whose submitter
//    is gone, versions no scheduler ever accepted, empty run folders. --repair cleans them.
// No repair ever makes a version the latest that no scheduler accepted (a record saying
// `not-submitted`, or `submitting` with its submitter gone): the records tell (submissions.md
// §Submitting: every manifest qdo makes has a record, written before it).
import { readdirSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { QdoError, errnoCode } from '../errors.js';
import { looksLikeManifest, parseManifest, type Manifest } from '../model/manifest.js';
import { parseSubmission, type Submission } from '../model/submission.js';
import { isTempName } from '../store/atomic.js';
import { readConfig } from '../store/config.js';
import type { Layout } from '../store/layout.js';
import { checkEndedCache, dropEndedCache, endedCachePath } from '../store/ended-cache.js';
import { checkCollectedLists, removeCollectedFile } from '../store/collected.js';
import { checkOverview, dropOverview, overviewPath } from '../store/overview-cache.js';
import { findLeftovers, removeLeftover } from '../store/leftovers.js';
import { STALE_AT_SIGHT_MS } from '../store/locks.js';
import { readList } from '../store/lists.js';
import { removeEmptyShards, removeObject } from '../store/objects.js';
import { checkObjectFiles } from '../store/object-check.js';
import { byteOrder, projectsWithRefs, readRefs, refsPaths, writeAllRefs, type RefMap } from '../store/refs.js';
import { chunkAnswerPath, chunkTags, readChunkAnswer, withChunkAnswer } from '../store/sweeps.js';
import { changeSubmission, readSubmissionFile, scanSubmissionFiles, removeEmptySubmissionShards } from '../store/submissions.js';
import { DEFAULT_SUBMIT_GRACE, isAbandoned } from './refresh.js';
import { RUNS_DIR, runDirOf } from './runs.js';
import { statOrNull } from '../util/fs.js';
import { allAllocations, allocationsList, projectDir, projectsList, selectAllocation } from './world.js';

/** Temp files younger than this may belong to a writer still at work; they are left alone. */
export const TEMP_GRACE_MS = 10 * 60_000;

export type Severity = 'error' | 'warning';

export interface Finding {
  code: string;
  subject: string;
  detail: string;
  /** error: damage; warning: a leftover (spec/plumbing/fsck.md). */
  severity: Severity;
  /** Set when --repair fixed it. */
  fixed: boolean;
}

export interface FsckReport {
  allocations: string[];
  findings: Finding[];
  objects: number;
  manifests: number;
}

interface ManifestInfo {
  id: string;
  m: Manifest;
}

/** What the record of a version says about it (submissions.md §States). */
type VersionClass =
  /** a scheduler took it (it has an id, or a state past submitting) */
  | 'accepted'
  /** no record: made by plumbing (hash-object), never submitted through qdo */
  | 'plumbing'
  /** submitting, and its submitter may still record the answer */
  | 'in-flight'
  /** submitting, its submitter gone: recovery settles it */
  | 'stuck'
  /** not-submitted: no scheduler ever took it */
  | 'never';

export interface FsckOptions {
  repair: boolean;
  alloc?: string;
  /** For settling records still `submitting` (--repair). */
  runner?: import('../scheduler/runner.js').Runner;
}

export async function fsck(ctx: Context, opts: FsckOptions): Promise<FsckReport> {
  const allocs = opts.alloc !== undefined ? [await selectAllocation(ctx, opts.alloc)] : (await allAllocations(ctx)).map((a) => a.layout ?? a.root);
  const report: FsckReport = { allocations: [], findings: [], objects: 0, manifests: 0 };
  for (const a of allocs) {
    if (typeof a === 'string') {
      // Not damage qdo can see: a warning with the way out (spec/plumbing/fsck.md), so a
      // scratch registered by mistake or gone for good does not fail every fsck from then on.
      report.findings.push({ code: 'unreachable-allocation', subject: a, detail: `cannot be read; not checked (mount it, or if it is gone for good: qdo alloc remove ${a})`, severity: 'warning', fixed: false });
      continue;
    }
    report.allocations.push(a.root);
    await checkAllocation(ctx, a, opts, report);
  }
  return report;
}

type Add = (severity: Severity, code: string, subject: string, detail: string, fixed?: boolean) => Finding;

async function checkAllocation(ctx: Context, l: Layout, opts: FsckOptions, report: FsckReport): Promise<void> {
  const repair = opts.repair;
  const now = ctx.now().getTime();
  const add: Add = (severity, code, subject, detail, fixed = false) => {
    const f = { code, subject, detail, severity, fixed };
    report.findings.push(f);
    return f;
  };
  const unreadable = (path: string, reason: string) => add('error', 'unreadable-file', path, `cannot be read: ${reason}`);

  // 1. Leftovers and locks anywhere in .qdo (and interrupted inits beside it).
  const { leftovers, unreadable: badDirs } = await findLeftovers(l);
  for (const u of badDirs) unreadable(u.path, u.reason);
  for (const x of leftovers) {
    const age = now - x.mtimeMs;
    if (x.kind === 'lock') {
      const dead = x.holder !== null && ctx.alive(x.holder) === 'dead';
      // By age alone (fsck watches nothing for 10 s): beyond what another host's clock may be off by (locking.md §Stale).
      if (!dead && age <= STALE_AT_SIGHT_MS) continue;
      if (repair) await removeLeftover(x.path);
      add('warning', 'stale-lock', x.path, dead ? `its holder (pid ${x.holder!.pid} on ${x.holder!.host}) is gone` : `not refreshed for ${Math.round(age / 1000)} s`, repair);
    } else {
      if (age <= TEMP_GRACE_MS) continue;
      if (repair) await removeLeftover(x.path);
      add('warning', 'temp-file', x.path, x.kind === 'init' ? 'left by an interrupted qdo init' : 'left by an interrupted write', repair);
    }
  }

  // 2. Lists.
  let projects: string[] = [];
  try {
    projects = await readList(projectsList(l));
  } catch (e) {
    if (!(e instanceof QdoError)) throw e;
    add('error', 'bad-list', l.projects, e.message);
  }
  if (l.root === ctx.home) {
    try {
      await readList(allocationsList(l));
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      add('error', 'bad-list', l.allocations, e.message);
    }
  }

  // 3. Objects: hash, manifest fields, and collect manifests for chains and refs.
  const manifests = new Map<string, ManifestInfo>();
  const present = new Set<string>();
  try {
    // Read and hashed on worker threads where there are many (store/object-check.ts).
    for await (const o of checkObjectFiles(l)) {
      if (isTempName(o.name)) {
        const st = await statOrNull(o.path);
        if (!st || now - st.mtimeMs <= TEMP_GRACE_MS) continue;
        if (repair) await removeLeftover(o.path);
        add('warning', 'temp-file', o.path, 'left by an interrupted write', repair);
        continue;
      }
      if (o.id === null || o.read === null) {
        add('error', 'stray-file', o.path, 'not named like an object');
        continue;
      }
      report.objects++;
      const r = o.read;
      if (r === 'gone') continue; // removed meanwhile (gc)
      if ('error' in r) {
        add('error', 'unreadable-object', o.path, r.error);
        continue;
      }
      if (r.actual !== o.id) {
        add('error', 'hash-mismatch', o.path, `content hashes to ${r.actual}`);
        continue;
      }
      present.add(o.id);
      if (r.bytes !== null && looksLikeManifest(r.bytes)) {
        try {
          manifests.set(o.id, { id: o.id, m: parseManifest(r.bytes, o.path) });
          report.manifests++;
        } catch (e) {
          if (!(e instanceof QdoError)) throw e;
          add('error', 'bad-manifest', o.path, e.message.replace(`${o.path}: `, ''));
        }
      }
    }
  } catch (e) {
    const c = errnoCode(e);
    if (c === undefined) throw e;
    unreadable(l.objects, c === 'ENOTDIR' ? 'a file where the objects folder belongs' : c);
  }
  for (const { id, m } of manifests.values()) {
    for (const [field, ref] of [['script', m.script], ['prologue', m.prologue], ['epilogue', m.epilogue]] as const) {
      if (ref !== null && !present.has(ref)) add('error', 'missing-object', id, `${field} ${ref} is missing`);
    }
    if (m.parent !== null) {
      const p = manifests.get(m.parent);
      if (!p) add('error', 'missing-parent', id, `parent ${m.parent} is missing`);
      else if (p.m.project !== m.project || p.m.name !== m.name) add('error', 'bad-parent', id, `parent ${m.parent} is ${p.m.project}/${p.m.name}`);
      else if (p.m.version !== m.version - 1) add('error', 'bad-version', id, `version ${m.version} follows parent version ${p.m.version}`);
    }
  }

  // 4. Records: read them all (findings on their own bytes come in step 7, in path order).
  const graceMs = ((await readConfig(l, ctx.user).catch(() => ({}) as { submit_grace?: number })).submit_grace ?? DEFAULT_SUBMIT_GRACE) * 1000;
  const scan = await scanSubmissionFiles(l);
  const records = new Map<string, Submission>();
  const recordProblems: { path: string; id: string | null; f: () => void }[] = [];
  for (const u of scan.unreadable) recordProblems.push({ path: u.path, id: null, f: () => unreadable(u.path, u.reason) });
  for (const file of scan.files) {
    if (file.kind === 'stray') {
      recordProblems.push({ path: file.path, id: null, f: () => add('error', 'stray-file', file.path, file.why) });
      continue;
    }
    const bytes = await readSubmissionFile(file.path);
    if (!Buffer.isBuffer(bytes)) {
      recordProblems.push({ path: file.path, id: file.id, f: () => add('error', 'bad-submission', file.path, `cannot read: ${bytes.error}`) });
      continue;
    }
    try {
      const sub = parseSubmission(bytes, file.path);
      if (sub.id !== file.id) {
        recordProblems.push({ path: file.path, id: file.id, f: () => add('error', 'bad-submission', file.path, `field id: the file is for ${file.id} but says ${sub.id}`) });
        continue;
      }
      records.set(file.id, withChunkAnswer(l, sub)); // as readers see it (spec/sweeps.md §Answer)
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      recordProblems.push({ path: file.path, id: file.id, f: () => add('error', 'bad-submission', file.path, e.message.replace(`${file.path}: `, '')) });
    }
  }

  // Chunk answers (spec/sweeps.md §Answer): one that cannot be used leaves its points
  // `submitting` (recovery looks the array up by its tag). Not repaired: only the scheduler knows.
  for (const tag of chunkTags(l)) {
    const a = readChunkAnswer(l, tag);
    if (a !== null && 'problem' in a) add('error', 'bad-chunk-answer', chunkAnswerPath(l, tag), `${a.problem}: the points of this chunk read as still submitting`);
  }

  // Collected lists (spec/layout.md §Collected lists): they only explain missing run folders,
  // so a damaged one is removed by --repair; a file that is not a list is left to the user.
  for (const c of await checkCollectedLists(l)) {
    if (c.kind === 'unreadable') unreadable(c.path, c.reason);
    else if (c.kind === 'stray') add('error', 'stray-file', c.path, c.reason);
    else {
      if (repair) await removeCollectedFile(c.path);
      add('warning', 'bad-collected', c.path, `${c.reason}: qdo show cannot say when gc removed the run folders it names`, repair);
    }
  }

  // Derived data (spec/layout.md `cache/`): the ended-jobs cache as status reads it, held
  // against the records just read. A file status would ignore, whole or in part, is dropped
  // by --repair (the next status writes it again); copies whose record changed since are no
  // fault (status reads the record), but for a record written in place in a folder the
  // cache trusts (status would not see it: spec/submissions.md §Ended-jobs cache rule 5).
  const ended = checkEndedCache(l, records);
  if (ended.state === 'ignored') {
    if (repair) await dropEndedCache(l);
    add('warning', 'bad-cache', endedCachePath(l), `${ended.problem ?? `${ended.skipped} row(s) not of the expected shape`}: status ignores it (derived data, rebuilt by the next qdo status)`, repair);
  } else if (ended.state === 'stale') {
    if (repair) await dropEndedCache(l);
    add('warning', 'bad-cache', endedCachePath(l), `${ended.problem}: status would show the old copies (derived data, rebuilt by the next qdo status; qdo status --refresh also reads them again)`, repair);
  }
  // The overview cache (spec/submissions.md §Overview cache), held against refs and records.
  const overview = await checkOverview(l, records);
  if (overview.state === 'ignored' || overview.state === 'stale') {
    if (repair) await dropOverview(l);
    const what = overview.state === 'ignored' ? 'status ignores it' : "status's overview would say so (qdo status --refresh reads the refs and records)";
    add('warning', 'bad-cache', overviewPath(l), `${overview.problem}: ${what} (derived data, rebuilt by the next qdo status)`, repair);
  }

  // 5. Records still `submitting` whose submitter is gone: settled by recovery (--repair),
  // before versions are judged, so what it finds counts as accepted.
  const classOf = (id: string): VersionClass => {
    const s = records.get(id);
    if (!s) return 'plumbing';
    if (s.state === 'not-submitted' && s.sched_id === null) return 'never';
    if (s.state !== 'submitting' || s.sched_id !== null) return 'accepted';
    return isAbandoned(ctx, s, graceMs) ? 'stuck' : 'in-flight';
  };
  const stuck = [...records.values()].filter((s) => manifests.has(s.id) && classOf(s.id) === 'stuck');
  const settled = new Set<string>();
  if (repair && stuck.length > 0) {
    const { refreshJobs } = await import('./refresh.js');
    const jobs = stuck.map((s) => ({ layout: l, project: s.project, name: s.name, id: s.id, version: s.version, latest: false, sub: s }));
    await refreshJobs(ctx, jobs, { runner: opts.runner, noPolicies: true }).catch(() => undefined);
    for (const j of jobs) {
      if (j.sub.state !== 'submitting') {
        records.set(j.id, j.sub);
        settled.add(j.id);
      }
    }
  }
  for (const s of stuck) {
    const now2 = records.get(s.id)!;
    const fixed = settled.has(s.id);
    add('warning', 'stuck-submission', s.id, fixed ? `its submitter stopped before the scheduler answered; settled: ${now2.state}${now2.sched_id ? ` (${now2.sched_id})` : ''}` : `${s.project}/${s.name}@${s.version} is submitting, its submitter (pid ${s.pid} on ${s.host}) is gone; qdo status or fsck --repair settles it`, fixed);
  }

  // 6. Refs: parse, targets, and whether a newer version exists than the ref names. Only
  // versions a scheduler accepted, or made by plumbing, are candidates for a ref (never one
  // recorded as not-submitted, nor one still being submitted).
  const byJob = groupByJob(manifests);
  let refProjects: string[] = [];
  try {
    refProjects = await projectsWithRefs(l);
  } catch (e) {
    const c = errnoCode(e);
    if (c === undefined) throw e;
    unreadable(l.refs, c === 'ENOTDIR' ? 'a file where the refs folder belongs' : c);
  }
  const allProjects = new Set([...projects, ...refProjects]);
  for (const m of manifests.values()) allProjects.add(m.m.project);
  const needed = new Set<string>();
  const markNeeded = (id: string) => {
    for (let cur: string | null = id, guard = 0; cur !== null && !needed.has(cur) && guard < 1_000_000; guard++) {
      needed.add(cur);
      cur = manifests.get(cur)?.m.parent ?? null;
    }
  };
  for (const info of manifests.values()) {
    const c = classOf(info.id);
    if (c === 'accepted' || c === 'plumbing' || c === 'in-flight' || c === 'stuck') markNeeded(info.id);
  }
  const listed = new Set(projects);
  for (const project of [...allProjects].sort(byteOrder)) {
    if (!listed.has(project)) {
      add('error', 'unknown-project', project, `has refs or manifests in ${l.dir} but is not in ${l.projects}`);
    }
    let refs: RefMap | null = null;
    let damaged: Finding | null = null;
    try {
      refs = await readRefs(l, project);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      const file = String(e.data.file ?? refsPaths(l, project).packed);
      damaged = add('error', 'bad-refs', file, e.message.startsWith(file + ':') ? 'line ' + e.message.slice(file.length + 1) : e.message);
    }
    const jobs = byJob.get(project) ?? new Map<string, ManifestInfo[]>();
    const candidates = new Map<string, ManifestInfo[]>();
    for (const [name, list] of jobs) {
      const c = list.filter((x) => ['accepted', 'plumbing'].includes(classOf(x.id)));
      if (c.length) candidates.set(name, c);
    }
    const heads = newestHeads(candidates);
    const problems: [string, string, string][] = [];
    const fix = new Map<string, string | null>();
    if (refs) {
      for (const [name, id] of refs) {
        markNeeded(id);
        const target = manifests.get(id);
        const head = heads.get(name) ?? null;
        if (!target) {
          problems.push(['dangling-ref', `${project}/${name}`, `points at ${id}, which is ${present.has(id) ? 'not a valid manifest' : 'missing'}`]);
          fix.set(name, head?.id ?? null);
        } else if (target.m.project !== project || target.m.name !== name) {
          problems.push(['bad-ref', `${project}/${name}`, `points at a manifest of ${target.m.project}/${target.m.name}`]);
          fix.set(name, head?.id ?? null);
        } else if (head && head.id !== id && isAncestor(id, head, manifests)) {
          problems.push(['ref-behind', `${project}/${name}`, `points at version ${target.m.version}; version ${head.m.version} (${head.id}) descends from it`]);
          fix.set(name, head.id);
        }
      }
      for (const [name, head] of heads) {
        if (!refs.has(name)) {
          problems.push(['missing-ref', `${project}/${name}`, `has manifests (newest ${head.id}) but no ref`]);
          fix.set(name, head.id);
        }
      }
    }
    const rebuild = repair && (damaged !== null || problems.length > 0);
    if (rebuild) {
      const map: RefMap = new Map();
      if (refs) for (const [name, id] of refs) map.set(name, id);
      else for (const [name, head] of heads) map.set(name, head.id);
      for (const [name, id] of fix) {
        if (id === null) map.delete(name);
        else map.set(name, id);
      }
      await writeAllRefs(l, project, map);
      for (const id of map.values()) markNeeded(id);
    }
    for (const [code, subject, detail] of problems) add('error', code, subject, detail, rebuild);
    if (damaged && rebuild) damaged.fixed = true;
  }

  // 7. Submission records (spec/submissions.md): each parses, is filed under its own id,
  // and belongs to a stored manifest of the same job version. A record without a manifest
  // that no scheduler accepted is the leftover of a killed submit (the record is written
  // first); one that a scheduler accepted is the only copy of what it said: never removed.
  const byPath: { path: string; f: () => void }[] = [...recordProblems];
  const orphanRemovals: { id: string; f: Finding }[] = [];
  const pathOf = new Map<string, string>();
  for (const f of scan.files) if (f.kind === 'record') pathOf.set(f.id, f.path);
  for (const [id, sub] of records) {
    const path = pathOf.get(id)!;
    const target = manifests.get(id);
    if (!target) {
      const c = classOf(id);
      if (c === 'in-flight') continue;
      if (c === 'never' || c === 'stuck') {
        byPath.push({
          path,
          f: () => {
            const f = add('warning', 'orphan-submission', id, `a record (${sub.state}) whose manifest was never written: left by a submit that stopped before it`);
            if (repair) orphanRemovals.push({ id, f });
          },
        });
        continue;
      }
      byPath.push({ path, f: () => add('error', 'orphan-submission', id, `has a submission record but ${present.has(id) ? 'the object is not a valid manifest' : 'no manifest object'}`) });
      continue;
    }
    const mm = target.m;
    if (mm.project !== sub.project || mm.name !== sub.name || mm.version !== sub.version) {
      byPath.push({ path, f: () => add('error', 'bad-submission', path, `says ${sub.project}/${sub.name}@${sub.version} but the manifest is ${mm.project}/${mm.name}@${mm.version}`) });
    }
  }
  for (const x of byPath.sort((a, b) => byteOrder(a.path, b.path))) x.f();
  for (const { id, f } of orphanRemovals) {
    // Under the record's lock, and only if it still says what was judged.
    let removed = false;
    await changeSubmission(l, id, (cur) => {
      if (!cur || (cur.state !== 'not-submitted' && cur.state !== 'submitting') || cur.sched_id !== null) return null;
      removed = true;
      return 'delete';
    }).catch(() => undefined);
    f.fixed = removed;
  }

  // 8. Versions no scheduler accepted and no ref reaches: the leftovers of refused or
  // interrupted submits. --repair removes them (manifest, record, run folder); the content
  // objects they named are left to gc --prune.
  const leftoverVersions = [...manifests.values()].filter((x) => classOf(x.id) === 'never' && !needed.has(x.id)).sort((a, b) => byteOrder(a.id, b.id));
  let removedAny = false;
  for (const { id, m } of leftoverVersions) {
    let fixed = false;
    if (repair) {
      const refsNow = await readRefs(l, m.project).catch(() => null);
      // Re-checked right before removal: a ref that moved to it meanwhile keeps it.
      if (refsNow && ![...refsNow.values()].includes(id)) {
        let ok = false;
        await changeSubmission(l, id, (cur) => {
          if (!cur || cur.state !== 'not-submitted' || cur.sched_id !== null) return null;
          ok = true;
          return 'delete';
        }).catch(() => undefined);
        if (ok) {
          await rm(runDirOf(l, m, id), { recursive: true, force: true });
          await removeObject(l, id);
          removedAny = fixed = true;
        }
      }
    }
    add('warning', 'unsubmitted-version', id, `${m.project}/${m.name}@${m.version} was never accepted by a scheduler (a refused or interrupted submit) and no ref reaches it`, fixed);
  }
  if (removedAny) {
    await removeEmptyShards(l.objects); // store: objects.ts
    await removeEmptySubmissionShards(l);
  }

  // 9. Run folders of versions no scheduler accepted that hold at most their job script, and
  // empty job run folders: left by submits that stopped between writing the script and the
  // scheduler's answer.
  const runDirs = new Map<string, VersionClass>();
  for (const info of manifests.values()) runDirs.set(runDirOf(l, info.m, info.id), classOf(info.id));
  for (const project of projects) {
    const runs = join(projectDir(l, project), RUNS_DIR);
    let jobs: string[];
    try {
      jobs = readdirSync(runs).sort(byteOrder);
    } catch {
      continue;
    }
    for (const job of jobs) {
      const jdir = join(runs, job);
      let versions: string[];
      try {
        // Synchronous: one per job (10^4 and more), where a promise each cost more than the read.
        versions = readdirSync(jdir).sort(byteOrder);
      } catch {
        continue; // a file, or unreadable: not qdo's
      }
      if (versions.length === 0) {
        if (repair) await rmdir(jdir).catch(() => undefined);
        add('warning', 'empty-run-folder', jdir, 'a job run folder with no versions in it', repair);
        continue;
      }
      for (const v of versions) {
        if (!/^\d+-[0-9a-f]{8}$/.test(v)) continue;
        const dir = join(jdir, v);
        const c = runDirs.get(dir);
        if (c !== 'never' && c !== undefined) continue;
        let inside: string[];
        try {
          inside = readdirSync(dir);
        } catch {
          continue;
        }
        if (!inside.every((n) => /^job\.[a-z0-9_-]+\.sh$/.test(n))) continue;
        if (repair) await rm(dir, { recursive: true, force: true });
        add('warning', 'empty-run-folder', dir, c === 'never' ? 'the run folder of a version never accepted by a scheduler' : 'a run folder without a version that ran in it', repair);
      }
    }
  }
}

function groupByJob(manifests: Map<string, ManifestInfo>): Map<string, Map<string, ManifestInfo[]>> {
  const out = new Map<string, Map<string, ManifestInfo[]>>();
  for (const info of manifests.values()) {
    const p = out.get(info.m.project) ?? new Map<string, ManifestInfo[]>();
    out.set(info.m.project, p);
    const list = p.get(info.m.name) ?? [];
    list.push(info);
    p.set(info.m.name, list);
  }
  return out;
}

/** Per job: the newest version by parent chain (highest version; then latest created; then id). */
export function newestHeads(jobs: Map<string, ManifestInfo[]>): Map<string, ManifestInfo> {
  const out = new Map<string, ManifestInfo>();
  for (const [name, list] of jobs) {
    const parents = new Set(list.map((x) => x.m.parent).filter((p): p is string => p !== null));
    const heads = list.filter((x) => !parents.has(x.id));
    heads.sort((a, b) => b.m.version - a.m.version || byteOrder(b.m.created, a.m.created) || byteOrder(b.id, a.id));
    if (heads[0]) out.set(name, heads[0]);
  }
  return out;
}

function isAncestor(id: string, from: ManifestInfo, manifests: Map<string, ManifestInfo>): boolean {
  let cur: ManifestInfo | undefined = from;
  for (let guard = 0; cur && guard < 1_000_000; guard++) {
    if (cur.m.parent === id) return true;
    cur = cur.m.parent === null ? undefined : manifests.get(cur.m.parent);
  }
  return false;
}
