// What shell completion offers for a name being typed (man/qdo-completion.1): projects,
// `project/job` names and revisions (`train@`, `train~`). Like path completion, a word
// that does not yet name a project is completed to the projects it could be (`pa` →
// `paper/run/`), and only then to that project's jobs, so 10^4 jobs never all come at
// once. Reads the allocation lists and the refs of the projects concerned; for `job@` one
// record or manifest. Never writes.
import type { Context } from '../context.js';
import { readManifest } from '../store/manifests.js';
import { readRefs } from '../store/refs.js';
import { readSubmission } from '../store/submissions.js';
import { allAllocations, projectAt, projectIndex, type ProjectLocation } from './world.js';

export interface Candidate {
  value: string;
  /** Shown beside the value by shells that can (zsh, fish). */
  description?: string;
}

async function index(ctx: Context): Promise<Map<string, ProjectLocation>> {
  return projectIndex(await allAllocations(ctx));
}

/** Project names starting with `prefix`, each followed by "/" (more is typed after it). */
export async function completeProjects(ctx: Context, prefix: string, slash = true): Promise<Candidate[]> {
  const idx = await index(ctx);
  return [...idx.keys()]
    .filter((p) => p.startsWith(prefix))
    .sort()
    .map((p) => ({ value: slash ? p + '/' : p, description: `project in ${idx.get(p)!.alloc.root}` }));
}

async function latestVersion(loc: ProjectLocation, id: string): Promise<number> {
  const sub = await readSubmission(loc.layout, id).catch(() => null);
  return sub ? sub.version : (await readManifest(loc.layout, id)).version;
}

/**
 * Job names (`project/job`, or a bare name of the project the working folder is in) and
 * revisions starting with `word`.
 */
export async function completeJobs(ctx: Context, word: string): Promise<Candidate[]> {
  const idx = await index(ctx);
  const here = projectAt(ctx.cwd, idx);
  const rev = /^(.*?)([@~])(\d*)$/.exec(word);
  if (rev) {
    // `train@` → every version; `train~` → every ancestor of the latest.
    const [, name, op, digits] = rev;
    const found = await locate(idx, here, name!);
    if (!found) return [];
    const n = await latestVersion(found.loc, found.id).catch(() => 0);
    const out: Candidate[] = [];
    for (let v = n; v >= 1; v--) {
      const k = op === '@' ? v : n - v;
      if (op === '~' && k === 0) continue;
      if (String(k).startsWith(digits!)) out.push({ value: `${name}${op}${k}`, description: op === '@' ? `version ${v}${v === n ? ' (latest)' : ''}` : `version ${v}` });
    }
    return out;
  }
  const out: Candidate[] = [];
  // Projects the word is still inside of the name of: offered as "project/".
  for (const p of [...idx.keys()].sort()) {
    if ((p + '/').startsWith(word) && p + '/' !== word) out.push({ value: p + '/', description: 'project' });
  }
  // Jobs of the projects the word has reached (the longest match: paper/run before paper).
  for (const p of [...idx.keys()].sort()) {
    if (!word.startsWith(p + '/')) continue;
    const refs = await readRefs(idx.get(p)!.layout, p);
    for (const name of [...refs.keys()].sort()) if (`${p}/${name}`.startsWith(word)) out.push({ value: `${p}/${name}`, description: 'job' });
  }
  // Inside a project folder a bare name means a job of that project.
  if (here && !word.includes('/')) {
    const refs = await readRefs(here.layout, here.project);
    for (const name of [...refs.keys()].sort()) if (name.startsWith(word)) out.push({ value: name, description: `job of ${here.project}` });
  }
  return out;
}

async function locate(idx: Map<string, ProjectLocation>, here: ProjectLocation | null, name: string): Promise<{ loc: ProjectLocation; id: string } | null> {
  if (here && !name.includes('/')) {
    const id = (await readRefs(here.layout, here.project)).get(name);
    if (id) return { loc: here, id };
  }
  const slash = name.lastIndexOf('/');
  if (slash < 0) return null;
  const loc = idx.get(name.slice(0, slash));
  if (!loc) return null;
  const id = (await readRefs(loc.layout, loc.project)).get(name.slice(slash + 1));
  return id ? { loc, id } : null;
}

/** Pool names (pool NAME, --pool): the pools of every reachable allocation. */
export async function completePools(ctx: Context, prefix: string): Promise<Candidate[]> {
  const { allPools } = await import('./pool/find.js');
  const pools = await allPools(ctx).catch(() => []);
  return pools.filter((p) => p.def.name.startsWith(prefix)).map((p) => ({ value: p.def.name, description: `pool in ${p.layout.root}` }));
}

/** Allocation folders (for --alloc). */
export async function completeAllocations(ctx: Context, prefix: string): Promise<Candidate[]> {
  return (await allAllocations(ctx)).filter((a) => a.root.startsWith(prefix)).map((a) => ({ value: a.root, description: a.home ? 'home allocation' : 'allocation' }));
}

/**
 * Resources as resource show takes them (spec/porcelain.md §qdo resource): `PROJECT:NAME`,
 * or inside a project folder a bare NAME that project sees. A word without ":" is completed
 * to the projects it could be, each followed by ":".
 */
export async function completeResources(ctx: Context, word: string): Promise<Candidate[]> {
  const { listResources } = await import('./resources.js');
  const used = (l: Awaited<ReturnType<typeof listResources>> | null) => (l ? l.rows.filter((r) => r.shadowedBy === null) : []);
  const colon = word.indexOf(':');
  if (colon >= 0) {
    const project = word.slice(0, colon);
    const l = await listResources(ctx, project).catch(() => null);
    return used(l)
      .map((r) => ({ value: `${project}:${r.name}`, description: r.origin === 'own' ? 'resource' : `resource (${r.origin})` }))
      .filter((c) => c.value.startsWith(word));
  }
  const projects = (await completeProjects(ctx, word, false)).map((p) => ({ ...p, value: p.value + ':' }));
  const here = await listResources(ctx).catch(() => null);
  const names = here && here.view !== null ? used(here).map((r) => ({ value: r.name, description: `resource of ${here.view}` })).filter((c) => c.value.startsWith(word)) : [];
  return [...projects, ...names];
}
