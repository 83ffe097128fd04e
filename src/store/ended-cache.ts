// `.qdo/cache/ended.json` (spec/layout.md; spec/submissions.md §Refresh): copies of the
// submission records of job names whose latest version has ended, so `qdo status` over
// thousands of ended jobs reads one file instead of one record per job. A terminal state
// is final (submissions.md §States), so a copy stays true; the copy is used only when the
// name's ref still points at its id. Derived data: deleting the file loses nothing, a
// damaged one is ignored, and the only writer that may change a terminal record's state
// (writeSubmission, for repairs) deletes it.
import { readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import type { Submission } from '../model/submission.js';
import { isTerminal } from '../model/states.js';
import { writeFileAtomic } from './atomic.js';
import type { Layout } from './layout.js';

export const ENDED_CACHE = 'ended.json';
const VERSION = 1;

/** `project/name` → the record of its latest version, which has ended. */
export type EndedCache = Map<string, Submission>;

export function endedCachePath(l: Layout): string {
  return join(l.cache, ENDED_CACHE);
}

function plausible(s: Record<string, unknown> | null): s is Submission {
  return typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.state === 'string' && isTerminal(s.state) && typeof s.project === 'string' && typeof s.name === 'string' && typeof s.version === 'number';
}

/** The file: `{"version": 1, "jobs": [record, ...]}`, the records sorted by job name. */
interface CacheFile {
  version?: unknown;
  jobs?: unknown;
}

/** The cache, or an empty one if there is none or it cannot be read (never an error). */
export function readEndedCache(l: Layout): EndedCache {
  const out: EndedCache = new Map();
  let doc: CacheFile;
  try {
    // Synchronous, as readSubmission: one read on the path of every `qdo status`.
    doc = JSON.parse(readFileSync(endedCachePath(l), 'utf8')) as CacheFile;
  } catch {
    return out;
  }
  if (doc.version !== VERSION || !Array.isArray(doc.jobs)) return out;
  for (const rec of doc.jobs as Record<string, unknown>[]) if (plausible(rec)) out.set(rec.project + '/' + rec.name, rec);
  return out;
}

/** Replaces the cache (atomically; concurrent writers each write a correct cache). */
export async function writeEndedCache(l: Layout, cache: EndedCache): Promise<void> {
  const jobs = [...cache.keys()].sort().map((k) => cache.get(k)!);
  await writeFileAtomic(endedCachePath(l), JSON.stringify({ version: VERSION, jobs }) + '\n', { mkdirs: true });
}

/** Forgets every copy (a record was replaced outside the usual compare-and-swap). */
export async function dropEndedCache(l: Layout): Promise<void> {
  try {
    await unlink(endedCachePath(l));
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}
