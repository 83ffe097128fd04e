// qdo init / qdo alloc list | remove | move (spec/layout.md §Allocations).
import { resolve, sep } from 'node:path';
import type { Context } from '../context.js';
import { ConflictError, NotFoundError, QdoError, RepositoryError, UsageError } from '../errors.js';
import type { Manifest } from '../model/manifest.js';
import { isTerminal } from '../model/states.js';
import { readConfig, readProjectConfig } from '../store/config.js';
import { createAllocation, layoutOf, openAllocation, probeAllocation, type Layout } from '../store/layout.js';
import { addShared, checkAllocation, readShared, shareWithGroup } from '../store/trust.js';
import { updateList } from '../store/lists.js';
import { readManifest } from '../store/manifests.js';
import { readRefs } from '../store/refs.js';
import { changeSubmission, listSubmissionIds, readSubmission } from '../store/submissions.js';
import { didYouMean } from '../util/closest.js';
import { allAllocations, allocationsList, checkFolder, homeAllocation, loadAllocation, type Allocation } from './world.js';

export interface InitResult {
  root: string;
  created: boolean;
  registered: boolean;
  home: boolean;
  /** The user shares this allocation with its group (spec/trust.md §Shared allocations). */
  shared: boolean;
}

export interface InitOptions {
  /** Record that the user trusts the group of this allocation with it (opt-in; spec/trust.md). */
  sharedGroup?: boolean;
}

/**
 * qdo init [--shared-group] DIR. The folders on the way to DIR/.qdo are checked before
 * anything is made (spec/trust.md §Allocations): a folder others could change is refused,
 * naming it and its mode; one the group can change only with --shared-group.
 */
export async function initAllocation(ctx: Context, dir: string | undefined, o: InitOptions = {}): Promise<InitResult> {
  const home = await homeAllocation(ctx);
  const root = dir === undefined ? ctx.cwd : await checkFolder(ctx, dir, 'allocation folder');
  if (root === home.root) {
    if (o.sharedGroup) throw new UsageError(`${root} is the home allocation; it cannot be shared`, { code: 'bad-flag', hint: 'share another folder: qdo init --shared-group DIR' });
    return { root, created: false, registered: false, home: true, shared: false };
  }
  const shared = o.sharedGroup === true || (await readShared(home)).includes(root);
  await checkAllocation(layoutOf(root), ctx.user, { shared });
  const { layout, created } = await createAllocation(root);
  if (created && o.sharedGroup) await shareWithGroup(layout);
  // Checked again: what was just made has the modes the umask gave it.
  if (created) await checkAllocation(layout, ctx.user, { shared });
  const registered = await updateList(allocationsList(home), (items) =>
    items.includes(root) ? { items: null, result: false } : { items: [...items, root], result: true },
  );
  if (o.sharedGroup) await addShared(home, root);
  return { root, created, registered, home: false, shared };
}

export async function listAllocations(ctx: Context): Promise<Allocation[]> {
  return allAllocations(ctx);
}

/** A path as the user typed it, made absolute and normalised (no symlinks resolved: the list keeps what was registered). */
function normalise(ctx: Context, dir: string): string {
  const abs = resolve(ctx.cwd, dir);
  return abs.endsWith(sep) && abs !== sep ? abs.slice(0, -1) : abs;
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : root + '/');
}

/** A registered path named by the user; the hint names the closest registered ones. */
function registered(allocs: Allocation[], root: string, what: string): Allocation {
  const a = allocs.find((x) => x.root === root);
  if (a) return a;
  throw new NotFoundError('unregistered-allocation', `${what}: ${root} is not a registered allocation`, {
    hint: didYouMean(root, allocs.map((x) => x.root)) ?? 'qdo alloc list shows the registered ones',
  });
}

// ---- qdo alloc remove ----

export interface RemoveResult {
  root: string;
  /** Whether it could be read when removed. */
  reachable: boolean;
  /** Its projects (only known when reachable); unknown to qdo from now on. */
  projects: string[];
  /** Things that still name it (archive settings) and what to do about them. */
  notes: string[];
}

/**
 * Unregisters an allocation (spec/layout.md §Allocations): removes its line from the home
 * `allocations` list and nothing else — no file anywhere is deleted. Refuses while it can be
 * read and holds projects, unless forced: they would vanish from every command.
 */
export async function removeAllocation(ctx: Context, dir: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
  const root = normalise(ctx, dir);
  const home = await homeAllocation(ctx);
  if (root === home.root) throw new UsageError(`${root} is the home allocation ($QDO_HOME); it cannot be removed`, { code: 'home-allocation' });
  const allocs = await allAllocations(ctx);
  const a = registered(allocs, root, 'alloc remove');
  if (a.layout && a.projects.length > 0 && !opts.force) {
    const names = a.projects.slice(0, 5).join(', ') + (a.projects.length > 5 ? ', …' : '');
    throw new ConflictError('allocation-in-use', `allocation ${root} holds ${a.projects.length} project(s) (${names}); removing it would hide them from qdo`, {
      hint: `pass --force to unregister it anyway (no file is deleted; qdo init ${root} registers it again)`,
    });
  }
  const notes = await archiveSettingsNaming(ctx, allocs.filter((x) => x.root !== root), root, (file) => `${file} archives to ${root}; archiving there fails until it is registered again or the setting changes`);
  await updateList(allocationsList(home), (items) => (items.includes(root) ? { items: items.filter((x) => x !== root), result: undefined } : { items: null, result: undefined }));
  return { root, reachable: a.layout !== null, projects: a.layout ? a.projects : [], notes };
}

// ---- qdo alloc move ----

export interface MoveResult {
  old: string;
  new: string;
  projects: string[];
  /** Submission records whose `archived.to` named the old path, now the new one. */
  records: number;
  /** What still names the old path and cannot be changed by qdo, with the fix. */
  notes: string[];
}

/**
 * Re-registers an allocation the user moved (mv, rsync) from OLD to NEW (spec/layout.md
 * §Moving an allocation). qdo keeps no absolute path of an allocation's own files in its
 * mutable state except the home `allocations` list and the `archived.to` of submission
 * records (both rewritten here); run folders are found from the root. What it cannot
 * rewrite — immutable manifests (template file paths, rendered scripts), the user's
 * config files, jobs still running with the old paths — is reported.
 */
export async function moveAllocation(ctx: Context, oldDir: string, newDir: string, opts: { force?: boolean } = {}): Promise<MoveResult> {
  const oldRoot = normalise(ctx, oldDir);
  const newRoot = await checkFolder(ctx, newDir, 'NEW');
  const home = await homeAllocation(ctx);
  if (oldRoot === home.root || newRoot === home.root) {
    throw new UsageError(`the home allocation is $QDO_HOME (${home.root}); to move it, move the folder and set QDO_HOME (or HOME) to its new place`, { code: 'home-allocation' });
  }
  if (oldRoot === newRoot) throw new UsageError(`OLD and NEW are the same folder (${oldRoot})`);
  let allocs = await allAllocations(ctx);
  if (!allocs.some((a) => a.root === oldRoot) && allocs.some((a) => a.root === newRoot)) {
    throw new NotFoundError('unregistered-allocation', `alloc move: ${oldRoot} is not registered, and ${newRoot} already is: nothing to move`, { hint: 'qdo alloc list shows the registered ones' });
  }
  registered(allocs, oldRoot, 'alloc move');
  // NEW must be the allocation itself, moved: a .qdo qdo can read.
  const probe = await probeAllocation(newRoot);
  if (probe.kind === 'absent') {
    throw new NotFoundError('not-an-allocation', `${newRoot} has no .qdo folder: it is not the moved allocation`, {
      hint: `move the folder first (mv ${oldRoot} ${newRoot}), then run this again; or make a new one with: qdo init ${newRoot}`,
    });
  }
  if (probe.kind === 'unreadable') throw new RepositoryError('unreadable-allocation', `cannot read ${newRoot}: ${probe.reason}`);
  await openAllocation(newRoot); // refuses a newer format
  const oldNow = await probeAllocation(oldRoot).catch(() => ({ kind: 'unreadable' as const, reason: '' }));
  if (oldNow.kind === 'ok' && !opts.force) {
    throw new ConflictError('allocation-still-there', `${oldRoot} still holds an allocation: alloc move is for one that moved`, {
      hint: `if you copied it, decide which copy qdo uses: pass --force to use ${newRoot} from now on (nothing is deleted), or keep ${oldRoot} and leave it registered`,
    });
  }
  // A shared allocation stays shared at its new place (spec/trust.md §Shared allocations).
  const wasShared = (await readShared(home)).includes(oldRoot);
  const moved = await loadAllocation(ctx, newRoot, false, wasShared);
  // Project names stay unique across allocations (layout.md §Projects).
  const others = new Map<string, string>();
  for (const a of allocs) if (a.root !== oldRoot && a.root !== newRoot) for (const p of a.projects) others.set(p, a.root);
  const clash = moved.projects.filter((p) => others.has(p));
  if (clash.length > 0) {
    throw new ConflictError('project-exists', `${newRoot} holds project(s) another allocation has too: ${clash.map((p) => `${p} (${others.get(p)})`).join(', ')}`, {
      hint: 'project names are unique across all allocations; remove the other allocation (qdo alloc remove) or rename one side first',
    });
  }
  await updateList(allocationsList(home), (items) => ({ items: [...items.filter((x) => x !== oldRoot), newRoot], result: undefined }));
  if (wasShared) await addShared(home, newRoot);

  allocs = await allAllocations(ctx);
  const notes: string[] = [];
  const records = await rewriteArchivedTo(allocs, oldRoot, newRoot, notes);
  notes.push(...(await archiveSettingsNaming(ctx, allocs, oldRoot, (file) => `${file} archives to ${oldRoot}: edit it to name ${newRoot}`)));
  if (moved.layout) notes.push(...(await liveJobs(moved.layout, oldRoot)));
  notes.push(...(await fileTemplatesUnder(allocs, oldRoot, newRoot)));
  return { old: oldRoot, new: newRoot, projects: moved.projects, records, notes };
}

/** Records of every reachable allocation that say a run folder was archived to OLD (or under it): now NEW. */
async function rewriteArchivedTo(allocs: Allocation[], oldRoot: string, newRoot: string, notes: string[]): Promise<number> {
  let n = 0;
  for (const a of allocs) {
    if (!a.layout) continue;
    for (const id of await listSubmissionIds(a.layout)) {
      let to: unknown;
      try {
        to = ((await readSubmission(a.layout, id))?.archived as { to?: unknown } | undefined)?.to;
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        continue; // a damaged record: fsck reports it
      }
      if (typeof to !== 'string' || !inside(to, oldRoot)) continue;
      const next = newRoot + to.slice(oldRoot.length);
      await changeSubmission(a.layout, id, (cur) => {
        const ar = cur?.archived as { to?: unknown } | undefined;
        return cur && ar && ar.to === to ? { ...cur, archived: { ...ar, to: next } } : null;
      });
      n++;
    }
  }
  if (n > 0) notes.push(`${n} submission record(s) said their run folder was archived to ${oldRoot}: they now say ${newRoot}`);
  return n;
}

/** Config files (allocation and project configs, every reachable allocation) whose `archive` names `root`. */
async function archiveSettingsNaming(ctx: Context, allocs: Allocation[], root: string, say: (file: string) => string): Promise<string[]> {
  const out: string[] = [];
  const { projectConfigPath } = await import('../store/config.js');
  for (const a of allocs) {
    if (!a.layout) continue;
    const l = a.layout;
    const files: [string, () => Promise<{ archive?: { to: string } | null }>][] = [[l.config, () => readConfig(l, ctx.user)]];
    for (const p of a.projects) files.push([projectConfigPath(l, p), () => readProjectConfig(l, p, ctx.user)]);
    for (const [file, read] of files) {
      try {
        const to = (await read()).archive?.to;
        if (to !== undefined && inside(to, root)) out.push(say(file));
      } catch (e) {
        if (!(e instanceof QdoError)) throw e; // a bad config is reported by the commands that use it
      }
    }
  }
  return out;
}

/** Jobs of the moved allocation that had not ended: their scripts write to the old paths. */
async function liveJobs(l: Layout, oldRoot: string): Promise<string[]> {
  const live: string[] = [];
  for (const id of await listSubmissionIds(l)) {
    const s = await readSubmission(l, id).catch(() => null);
    if (s && !isTerminal(s.state)) live.push(`${s.project}/${s.name}@${s.version}`);
  }
  if (live.length === 0) return [];
  return [
    `${live.length} job(s) had not ended (${live.slice(0, 5).join(', ')}${live.length > 5 ? ', …' : ''}): their scripts name paths under ${oldRoot}; ` +
      'if they still run, their records and outputs go there, and qdo learns their end from the scheduler alone',
  ];
}

/** Latest versions (any allocation) whose template was a file under OLD: a bare resubmit falls back to the stored bytes. */
async function fileTemplatesUnder(allocs: Allocation[], oldRoot: string, newRoot: string): Promise<string[]> {
  const hits: string[] = [];
  for (const a of allocs) {
    if (!a.layout) continue;
    for (const p of a.projects) {
      let refs;
      try {
        refs = await readRefs(a.layout, p);
      } catch (e) {
        if (!(e instanceof QdoError)) throw e;
        continue;
      }
      for (const [name, id] of refs) {
        let m: Manifest;
        try {
          m = await readManifest(a.layout, id);
        } catch (e) {
          if (!(e instanceof QdoError)) throw e;
          continue;
        }
        const t = m.template as { kind?: string; path?: unknown } | undefined;
        if (t?.kind === 'file' && typeof t.path === 'string' && inside(t.path, oldRoot)) hits.push(`${p}/${name} (${newRoot}${t.path.slice(oldRoot.length)})`);
      }
    }
  }
  if (hits.length === 0) return [];
  return [
    `the template of ${hits.length} job(s) is a file under ${oldRoot}: ${hits.slice(0, 5).join(', ')}${hits.length > 5 ? ', …' : ''}; ` +
      'manifests never change, so a bare resubmit uses the bytes stored with the last version: pass --script with the new path to pick up edits',
  ];
}
