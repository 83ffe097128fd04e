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
const VERSION = 2;

/** `project/name` → the record of its latest version, which has ended. */
export type EndedCache = Map<string, Submission>;

export function endedCachePath(l: Layout): string {
  return join(l.cache, ENDED_CACHE);
}

function plausible(s: Record<string, unknown> | null): s is Submission {
  return typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.state === 'string' && isTerminal(s.state) && typeof s.project === 'string' && typeof s.name === 'string' && typeof s.version === 'number';
}

/**
 * The file: `{"version": 2, "jobs": [row, ...]}`, one row per record, sorted by job name:
 * the values of the fields every record has, in FIELDS order, then an object of its other
 * fields (or null). JSON.parse reads arrays of values faster than objects with their keys,
 * and one object literal makes every record alike for V8.
 */
interface CacheFile {
  version?: unknown;
  jobs?: unknown;
}

const FIELDS = ['schema', 'id', 'project', 'name', 'version', 'scheduler', 'cluster', 'host', 'pid', 'intent', 'submitted', 'sched_id', 'after', 'state', 'state_source', 'state_time', 'exit_code', 'reason'] as const;
const KNOWN: ReadonlySet<string> = new Set(FIELDS);

function fromRow(r: unknown[]): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    schema: r[0], id: r[1], project: r[2], name: r[3], version: r[4], scheduler: r[5], cluster: r[6], host: r[7], pid: r[8],
    intent: r[9], submitted: r[10], sched_id: r[11], after: r[12], state: r[13], state_source: r[14], state_time: r[15], exit_code: r[16], reason: r[17],
  };
  const extra = r[18];
  return extra !== null && typeof extra === 'object' ? Object.assign(rec, extra) : rec;
}

function toRow(rec: Submission): unknown[] {
  const row: unknown[] = FIELDS.map((k) => rec[k]);
  let extra: Record<string, unknown> | null = null;
  for (const k of Object.keys(rec)) if (!KNOWN.has(k)) (extra ??= {})[k] = rec[k];
  row.push(extra);
  return row;
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
  for (const row of doc.jobs as unknown[]) {
    if (!Array.isArray(row) || row.length !== FIELDS.length + 1) continue;
    const rec = fromRow(row);
    if (plausible(rec)) out.set(rec.project + '/' + rec.name, rec);
  }
  return out;
}

/** Replaces the cache (atomically; concurrent writers each write a correct cache). */
export async function writeEndedCache(l: Layout, cache: EndedCache): Promise<void> {
  const jobs = [...cache.keys()].sort().map((k) => toRow(cache.get(k)!));
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
