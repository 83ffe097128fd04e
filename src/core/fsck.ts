// qdo fsck [--repair] (spec/plumbing/fsck.md): checks every object's hash, manifests and
// their parent chains, refs, submission records, lists, leftover temp files and stale locks; --repair removes
// leftovers and rebuilds damaged refs from the manifests (newest by parent chain).
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.js';
import { QdoError, errnoCode } from '../errors.js';
import { looksLikeManifest, parseManifest, type Manifest } from '../model/manifest.js';
import { parseSubmission, type Submission } from '../model/submission.js';
import { objectId } from '../model/object-id.js';
import { isTempName } from '../store/atomic.js';
import type { Layout } from '../store/layout.js';
import { LOCK_SUFFIX, STALE_MS } from '../store/locks.js';
import { readList } from '../store/lists.js';
import { listObjectFiles } from '../store/objects.js';
import { byteOrder, projectsWithRefs, readRefs, refsPaths, writeAllRefs, type RefMap } from '../store/refs.js';
import { SUBMISSIONS_DIR } from '../store/submissions.js';
import { allAllocations, allocationsList, projectsList, selectAllocation } from './world.js';

/** Temp files younger than this may belong to a writer still at work; they are left alone. */
export const TEMP_GRACE_MS = 10 * 60_000;

export interface Finding {
  code: string;
  subject: string;
  detail: string;
  /** Set when --repair fixed it. */
  fixed: boolean;
  /** Not damage: reported, but fsck does not fail for it (an unreachable allocation). */
  warning?: boolean;
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

export async function fsck(ctx: Context, opts: { repair: boolean; alloc?: string }): Promise<FsckReport> {
  const allocs = opts.alloc !== undefined ? [await selectAllocation(ctx, opts.alloc)] : (await allAllocations(ctx)).map((a) => a.layout ?? a.root);
  const report: FsckReport = { allocations: [], findings: [], objects: 0, manifests: 0 };
  for (const a of allocs) {
    if (typeof a === 'string') {
      // Not damage qdo can see: a warning with the way out (spec/plumbing/fsck.md), so a
      // scratch registered by mistake or gone for good does not fail every fsck from then on.
      report.findings.push({ code: 'unreachable-allocation', subject: a, detail: `cannot be read; not checked (mount it, or if it is gone for good: qdo alloc remove ${a})`, fixed: false, warning: true });
      continue;
    }
    report.allocations.push(a.root);
    await checkAllocation(ctx, a, opts.repair, report);
  }
  return report;
}

async function checkAllocation(ctx: Context, l: Layout, repair: boolean, report: FsckReport): Promise<void> {
  const now = ctx.now();
  const add = (code: string, subject: string, detail: string, fixed = false) => report.findings.push({ code, subject, detail, fixed });

  // 1. Leftovers and locks anywhere in .qdo (and interrupted inits beside it).
  await walkLeftovers(l.dir, now, repair, add, l.objects);
  for (const name of await readdir(l.root).catch(() => [] as string[])) {
    if (/^\.qdo\.tmp-[0-9a-f]{8}$/.test(name)) {
      const p = join(l.root, name);
      if (now.getTime() - (await stat(p)).mtimeMs <= TEMP_GRACE_MS) continue;
      if (repair) await rm(p, { recursive: true, force: true });
      add('temp-file', p, 'left by an interrupted qdo init', repair);
    }
  }

  // 2. Lists.
  let projects: string[] = [];
  try {
    projects = await readList(projectsList(l));
  } catch (e) {
    if (!(e instanceof QdoError)) throw e;
    add('bad-list', l.projects, e.message);
  }
  if (l.root === ctx.home) {
    try {
      await readList(allocationsList(l));
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      add('bad-list', l.allocations, e.message);
    }
  }

  // 3. Objects: hash, manifest fields, and collect manifests for chains and refs.
  const manifests = new Map<string, ManifestInfo>();
  const present = new Set<string>();
  for await (const o of listObjectFiles(l)) {
    if (isTempName(o.name)) {
      await leftover(o.path, now, repair, add);
      continue;
    }
    if (o.id === null) {
      add('stray-file', o.path, 'not named like an object');
      continue;
    }
    report.objects++;
    let bytes: Buffer;
    try {
      bytes = await readFile(o.path);
    } catch (e) {
      add('unreadable-object', o.path, errnoCode(e) ?? String(e));
      continue;
    }
    const actual = objectId(bytes);
    if (actual !== o.id) {
      add('hash-mismatch', o.path, `content hashes to ${actual}`);
      continue;
    }
    present.add(o.id);
    if (looksLikeManifest(bytes)) {
      try {
        manifests.set(o.id, { id: o.id, m: parseManifest(bytes, o.path) });
        report.manifests++;
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        add('bad-manifest', o.path, e.message.replace(`${o.path}: `, ''));
      }
    }
  }
  for (const { id, m } of manifests.values()) {
    for (const [field, ref] of [['script', m.script], ['prologue', m.prologue], ['epilogue', m.epilogue]] as const) {
      if (ref !== null && !present.has(ref)) add('missing-object', id, `${field} ${ref} is missing`);
    }
    if (m.parent !== null) {
      const p = manifests.get(m.parent);
      if (!p) add('missing-parent', id, `parent ${m.parent} is missing`);
      else if (p.m.project !== m.project || p.m.name !== m.name) add('bad-parent', id, `parent ${m.parent} is ${p.m.project}/${p.m.name}`);
      else if (p.m.version !== m.version - 1) add('bad-version', id, `version ${m.version} follows parent version ${p.m.version}`);
    }
  }

  // 4. Refs: parse, targets, and whether a newer version exists than the ref names.
  const byJob = groupByJob(manifests);
  const refProjects = new Set([...projects, ...(await projectsWithRefs(l))]);
  for (const m of manifests.values()) refProjects.add(m.m.project);
  for (const project of [...refProjects].sort(byteOrder)) {
    if (!projects.includes(project)) {
      add('unknown-project', project, `has refs or manifests in ${l.dir} but is not in ${l.projects}`);
    }
    let refs: RefMap | null = null;
    let damaged = false;
    try {
      refs = await readRefs(l, project);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      const file = String(e.data.file ?? refsPaths(l, project).packed);
      add('bad-refs', file, e.message.startsWith(file + ':') ? 'line ' + e.message.slice(file.length + 1) : e.message);
      damaged = true;
    }
    const heads = newestHeads(byJob.get(project) ?? new Map());
    const problems: [string, string, string][] = [];
    if (refs) {
      for (const [name, id] of refs) {
        const target = manifests.get(id);
        if (!target) problems.push(['dangling-ref', `${project}/${name}`, `points at ${id}, which is ${present.has(id) ? 'not a valid manifest' : 'missing'}`]);
        else if (target.m.project !== project || target.m.name !== name) problems.push(['bad-ref', `${project}/${name}`, `points at a manifest of ${target.m.project}/${target.m.name}`]);
        else {
          const head = heads.get(name);
          if (head && head.id !== id && isAncestor(id, head, manifests)) problems.push(['ref-behind', `${project}/${name}`, `points at version ${target.m.version}; version ${head.m.version} (${head.id}) descends from it`]);
        }
      }
      for (const [name, head] of heads) {
        if (!refs.has(name)) problems.push(['missing-ref', `${project}/${name}`, `has manifests (newest ${head.id}) but no ref`]);
      }
    }
    const rebuild = repair && (damaged || problems.length > 0);
    if (rebuild) {
      const map: RefMap = new Map();
      for (const [name, head] of heads) map.set(name, head.id);
      await writeAllRefs(l, project, map);
    }
    for (const [code, subject, detail] of problems) add(code, subject, detail, rebuild);
    if (damaged && rebuild) {
      const last = report.findings.findLast((f) => f.code === 'bad-refs');
      if (last) last.fixed = true;
    }
  }

  // 5. Submission records (spec/submissions.md): each parses, is filed under its own id,
  // and belongs to a stored manifest of the same job version. Temp files there were
  // reported by step 1. Nothing here is repaired: a record is the only copy of what the
  // scheduler said (a partial sync may bring its manifest later).
  await checkSubmissions(l, manifests, present, add);
}

async function checkSubmissions(l: Layout, manifests: Map<string, ManifestInfo>, present: Set<string>, add: Add): Promise<void> {
  const root = join(l.dir, SUBMISSIONS_DIR);
  let shards;
  try {
    shards = await readdir(root, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return;
    throw e;
  }
  for (const shard of shards.sort((a, b) => byteOrder(a.name, b.name))) {
    const dir = join(root, shard.name);
    if (isTempName(shard.name) || shard.name.endsWith(LOCK_SUFFIX)) continue;
    if (!shard.isDirectory() || !/^[0-9a-f]{2}$/.test(shard.name)) {
      add('stray-file', dir, 'not named like a submission record folder (two hex digits)');
      continue;
    }
    for (const name of (await readdir(dir)).sort(byteOrder)) {
      const p = join(dir, name);
      if (isTempName(name) || name.endsWith(LOCK_SUFFIX)) continue; // record locks (§Writes): step 1 reports stale ones
      const m = /^([0-9a-f]{62})\.json$/.exec(name);
      if (!m) {
        add('stray-file', p, 'not named like a submission record (<62 hex digits>.json)');
        continue;
      }
      const id = shard.name + m[1];
      let sub: Submission;
      try {
        sub = parseSubmission(await readFile(p), p);
      } catch (e) {
        if (errnoCode(e) === 'EISDIR') {
          add('stray-file', p, 'a folder where a submission record belongs');
          continue;
        }
        if (!(e instanceof QdoError)) {
          if (errnoCode(e) === undefined) throw e;
          add('bad-submission', p, `cannot read: ${errnoCode(e)}`);
          continue;
        }
        add('bad-submission', p, e.message.replace(`${p}: `, ''));
        continue;
      }
      if (sub.id !== id) {
        add('bad-submission', p, `field id: the file is for ${id} but says ${sub.id}`);
        continue;
      }
      const target = manifests.get(id);
      if (!target) {
        add('orphan-submission', id, `has a submission record but ${present.has(id) ? 'the object is not a valid manifest' : 'no manifest object'}`);
        continue;
      }
      const mm = target.m;
      if (mm.project !== sub.project || mm.name !== sub.name || mm.version !== sub.version) {
        add('bad-submission', p, `says ${sub.project}/${sub.name}@${sub.version} but the manifest is ${mm.project}/${mm.name}@${mm.version}`);
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

type Add = (c: string, s: string, d: string, f?: boolean) => void;

async function leftover(p: string, now: Date, repair: boolean, add: Add): Promise<void> {
  const age = now.getTime() - (await stat(p)).mtimeMs;
  if (age > TEMP_GRACE_MS) {
    if (repair) await rm(p, { recursive: true, force: true });
    add('temp-file', p, 'left by an interrupted write', repair);
  }
}

/** Temp files and lock folders under `dir`; `skip` (objects/) is walked by the object check. */
async function walkLeftovers(dir: string, now: Date, repair: boolean, add: Add, skip: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  for (const ent of entries.sort((a, b) => byteOrder(a.name, b.name))) {
    const p = join(dir, ent.name);
    if (ent.name.endsWith(LOCK_SUFFIX) && ent.isDirectory()) {
      const age = now.getTime() - (await stat(p)).mtimeMs;
      if (age > STALE_MS) {
        if (repair) await rm(p, { recursive: true, force: true });
        add('stale-lock', p, `not refreshed for ${Math.round(age / 1000)} s`, repair);
      }
      continue;
    }
    if (isTempName(ent.name)) {
      await leftover(p, now, repair, add);
      continue;
    }
    if (ent.isDirectory() && p !== skip) await walkLeftovers(p, now, repair, add, skip);
  }
}
