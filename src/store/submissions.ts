// Submission records on disk (spec/submissions.md): `submissions/<id[0:2]>/<id[2:]>.json`,
// one small file per job version, replaced atomically. One file per version means two
// allocations synced by rsync or git never touch the same file unless they ran the same version.
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RepositoryError, errnoCode } from '../errors.js';
import { isObjectId } from '../model/object-id.js';
import { encodeSubmission, parseSubmission, type Submission } from '../model/submission.js';
import { writeFileAtomic } from './atomic.js';
import type { Layout } from './layout.js';

export const SUBMISSIONS_DIR = 'submissions';

export function submissionPath(l: Layout, id: string): string {
  return join(l.dir, SUBMISSIONS_DIR, id.slice(0, 2), `${id.slice(2)}.json`);
}

/** The record of a version, or null if it was never submitted through qdo. */
export async function readSubmission(l: Layout, id: string): Promise<Submission | null> {
  const p = submissionPath(l, id);
  let bytes: Buffer;
  try {
    // Synchronous on purpose: status reads one small record per job shown, and the promise
    // API costs ~4 syscalls and a thread hop per file (5x slower at 10^4 jobs; bench/README.md).
    bytes = readFileSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw new RepositoryError('unreadable-submission', `cannot read ${p}: ${errnoCode(e) ?? String(e)}`);
  }
  const s = parseSubmission(bytes, p);
  if (s.id !== id) throw new RepositoryError('bad-submission', `${p}: field id: the file is for ${id} but says ${s.id}`);
  return s;
}

export async function writeSubmission(l: Layout, s: Submission): Promise<void> {
  await writeFileAtomic(submissionPath(l, s.id), encodeSubmission(s), { mkdirs: true });
}

/** Ids of every version with a record (gc, fsck). */
export async function listSubmissionIds(l: Layout): Promise<string[]> {
  const root = join(l.dir, SUBMISSIONS_DIR);
  const out: string[] = [];
  let shards: string[];
  try {
    shards = await readdir(root);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return out;
    throw e;
  }
  for (const s of shards.sort()) {
    if (!/^[0-9a-f]{2}$/.test(s)) continue;
    for (const f of (await readdir(join(root, s))).sort()) {
      const id = s + f.replace(/\.json$/, '');
      if (f.endsWith('.json') && isObjectId(id)) out.push(id);
    }
  }
  return out;
}
