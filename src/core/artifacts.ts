// `qdo artifacts`: the files in a job version's run folder, told apart as qdo's own (the
// submitted script and the wrapper's records and copies, spec/scheduler-common.md
// §Records), the job's captured logs, and what the job itself wrote.
import { isTempName } from '../store/atomic.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import type { JobVersion } from './jobs.js';
import { arrayOf, existingRunDir, selectOne } from './run-folder.js';

export type ArtifactKind = 'qdo' | 'log' | 'output';

export interface Artifact {
  /** Relative to the run folder, `/`-separated. */
  path: string;
  size: number;
  mtime: Date;
  kind: ArtifactKind;
}

export interface ArtifactList {
  job: JobVersion;
  runDir: string;
  glob: string;
  files: Artifact[];
}

// The wrapper names every file it writes `qdo-*` (records, script copy, prologue, epilogue,
// node file, notify marker: spec/scheduler-common.md); the script given to the scheduler is
// `job.<scheduler>.sh`.
const QDO_NAMES = [/^job\.[^/]+\.sh$/, /^qdo-/];
const LOG_NAMES = new Set(['stdout', 'stderr']);

/**
 * Whose a file is, by its path in the run folder. Only the top of the run folder (and of an
 * array job's `<index>` task folders) holds qdo's files; deeper down everything is the job's.
 */
export function classify(path: string, isArray: boolean): ArtifactKind {
  const parts = path.split('/');
  const inTask = parts.length === 1 || (isArray && parts.length === 2 && /^\d+$/.test(parts[0]!));
  if (!inTask) return 'output';
  const name = parts[parts.length - 1]!;
  if (QDO_NAMES.some((r) => r.test(name))) return 'qdo';
  // The wrapper's records are written to `.<name>.tmp-<8 hex>` and renamed (§Records).
  if (isTempName(name) && /^\.qdo-/.test(name)) return 'qdo';
  if (LOG_NAMES.has(name)) return 'log';
  return 'output';
}

/**
 * GLOB is matched against paths relative to the run folder; a pattern without `/` matches
 * a file's name at any depth (`*.csv`), one with `/` the whole path (`results/*.csv`).
 */
export async function listArtifacts(ctx: Context, rev: string, glob = '**'): Promise<ArtifactList> {
  if (glob === '' || glob.startsWith('/') || glob.split('/').includes('..')) {
    throw new UsageError(`GLOB: expected a pattern relative to the run folder (like "*.csv" or "out/**"), found ${JSON.stringify(glob)}`, { code: 'bad-glob' });
  }
  const j = await selectOne(ctx, rev, 'artifacts');
  const { runDir, files } = await artifactsOf(j, glob);
  return { job: j, runDir, glob, files };
}

/** The files of one version's run folder matching `glob` (default all), sorted by path. */
export async function artifactsOf(j: JobVersion, glob = '**'): Promise<{ runDir: string; files: Artifact[] }> {
  const runDir = await existingRunDir(j);
  const isArray = (await arrayOf(j)) !== undefined;
  const fg = (await import('fast-glob')).default;
  const entries = await fg(glob, { cwd: runDir, dot: true, onlyFiles: true, baseNameMatch: true, stats: true, followSymbolicLinks: false, suppressErrors: true });
  const files: Artifact[] = entries.map((e) => ({ path: e.path, size: e.stats!.size, mtime: e.stats!.mtime, kind: classify(e.path, isArray) }));
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { runDir, files };
}

/** `qdo diff --artifacts`: the job's files (outputs and logs, not qdo's own) of two versions, by path and size. */
export interface ArtifactDelta {
  added: { path: string; size: number }[];
  removed: { path: string; size: number }[];
  changed: { path: string; a: number; b: number }[];
}

/** Pure: what differs by name and size; files of kind `qdo` are left out (they always differ). */
export function compareArtifacts(a: Artifact[], b: Artifact[]): ArtifactDelta {
  const mine = (l: Artifact[]) => new Map(l.filter((f) => f.kind !== 'qdo').map((f) => [f.path, f.size]));
  const ma = mine(a);
  const mb = mine(b);
  const d: ArtifactDelta = { added: [], removed: [], changed: [] };
  for (const [p, size] of [...ma].sort()) {
    const other = mb.get(p);
    if (other === undefined) d.removed.push({ path: p, size });
    else if (other !== size) d.changed.push({ path: p, a: size, b: other });
  }
  for (const [p, size] of [...mb].sort()) if (!ma.has(p)) d.added.push({ path: p, size });
  return d;
}
