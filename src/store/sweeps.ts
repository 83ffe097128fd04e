// Where sweeps keep their files in `.qdo` (spec/layout.md, spec/sweeps.md §Intent): one lock
// for every sweep of the allocation, and a folder per packed chunk for its array script
// and the scheduler's own output.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
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

/** Removes a chunk's folder (a refused chunk leaves no trace). */
export async function removeChunk(l: Layout, tag: string): Promise<void> {
  await rm(chunkDir(l, tag), { recursive: true, force: true });
}
