// Where sweeps keep their files in `.qdo` (spec/layout.md, spec/sweeps.md §Intent): one lock
// for every sweep of the allocation, and a folder per packed chunk for its array script
// and the scheduler's own output.
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { answeredByChunk, chunkAnswerProblems, encodeChunkAnswer, waitsOnChunk, type ChunkAnswer } from '../model/chunk-answer.js';
import type { Submission } from '../model/submission.js';
import { readSmallFileSync } from '../util/fs.js';
import { writeFileAtomic } from './atomic.js';
import type { Layout } from './layout.js';
import { withLock } from './locks.js';

export const SWEEPS_DIR = 'sweeps';

/** Runs `fn` holding `.qdo/sweeps.lock` (never across a scheduler call: spec/locking.md). */
export function withSweepLock<T>(l: Layout, fn: () => Promise<T>): Promise<T> {
  return withLock(join(l.dir, SWEEPS_DIR), fn);
}

/** `.qdo/sweeps/<chunk tag>/`: the array script of one chunk and the scheduler's output files. */
export function chunkDir(l: Layout, tag: string): string {
  return join(l.dir, SWEEPS_DIR, tag);
}

/** Writes a chunk's array script `array.<scheduler>.sh` into its folder; returns its path. */
export async function writeChunkScript(l: Layout, tag: string, scheduler: string, script: string): Promise<string> {
  const path = join(chunkDir(l, tag), `array.${scheduler}.sh`);
  await writeFileAtomic(path, script, { mode: 0o755, mkdirs: true });
  return path;
}

export const ANSWER_FILE = 'answer.json';

/** `.qdo/sweeps/<chunk tag>/answer.json`: what the scheduler said when it took the chunk. */
export function chunkAnswerPath(l: Layout, tag: string): string {
  return `${l.dir}/${SWEEPS_DIR}/${tag}/${ANSWER_FILE}`;
}

/**
 * Writes a chunk's answer, durably (file and folder fsynced) before the caller reports the
 * points submitted. Written once per chunk, after the scheduler took its array, in place of
 * an answer in each point's record (spec/sweeps.md §Answer).
 */
export async function writeChunkAnswer(l: Layout, a: ChunkAnswer): Promise<void> {
  await writeFileAtomic(chunkAnswerPath(l, a.tag), encodeChunkAnswer(a), { mkdirs: true });
  answersOf(l).set(a.tag, a);
}

// Answers read through a layout (one command's view of an allocation), by tag. An answer
// file is written once and never changed, so one read is kept; a missing or unusable one is
// looked for again on the next read.
const answers = new WeakMap<Layout, Map<string, ChunkAnswer>>();
function answersOf(l: Layout): Map<string, ChunkAnswer> {
  let m = answers.get(l);
  if (m === undefined) answers.set(l, (m = new Map()));
  return m;
}

/** The chunk's answer as its file says, or the reason it cannot be used (fsck); null if there is none. */
export function readChunkAnswer(l: Layout, tag: string): ChunkAnswer | { problem: string } | null {
  const path = chunkAnswerPath(l, tag);
  const known = answersOf(l).get(tag);
  if (known !== undefined) return known;
  let v: unknown;
  try {
    v = JSON.parse(readSmallFileSync(path).toString('utf8'));
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    return { problem: code !== undefined ? `cannot read it: ${code}` : `not valid JSON (${(e as Error).message})` };
  }
  const problems = chunkAnswerProblems(v, tag);
  if (problems.length > 0) return { problem: `field ${problems[0]}` };
  answersOf(l).set(tag, v as ChunkAnswer);
  return v as ChunkAnswer;
}

/**
 * The record as readers see it: a packed point still waiting for its answer (state
 * `submitting`, no scheduler id) reads as answered once its chunk's answer file is there
 * (spec/sweeps.md §Answer). An answer file that cannot be used is left out here (the point
 * stays `submitting`, and recovery looks the array up by its tag) and reported by fsck.
 */
export function withChunkAnswer(l: Layout, s: Submission): Submission {
  const tag = waitsOnChunk(s);
  if (tag === null) return s;
  const a = readChunkAnswer(l, tag);
  if (a === null || 'problem' in a) return s;
  return answeredByChunk(s, a) ?? s;
}

/** The tags of the chunk folders that hold an answer file (fsck). */
export function chunkTags(l: Layout): string[] {
  let names: string[];
  try {
    names = readdirSync(join(l.dir, SWEEPS_DIR));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => existsSync(chunkAnswerPath(l, n))).sort();
}

/** Removes a chunk's folder (a refused chunk leaves no trace). */
export async function removeChunk(l: Layout, tag: string): Promise<void> {
  await rm(chunkDir(l, tag), { recursive: true, force: true });
}
