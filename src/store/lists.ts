// Sorted line-list files: `.qdo/allocations` (home only: one absolute path a line) and
// `.qdo/projects` (one project name a line). Sorted and one item a line so that rsync and
// git users can read, diff and merge them (spec/layout.md).
import { readFileSync } from 'node:fs';
import { RepositoryError, errnoCode } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { withLock } from './locks.js';
import { byteOrder } from './refs.js';

export interface ListFile {
  file: string;
  /** Checks one item; returns a description of what was expected, or null if fine. */
  check(item: string): string | null;
}

export async function readList(lf: ListFile): Promise<string[]> {
  let text: string;
  try {
    text = readFileSync(lf.file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw new RepositoryError('unreadable-file', `cannot read ${lf.file}: ${errnoCode(e) ?? String(e)}`);
  }
  const items: string[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    if (line.startsWith('#') || line === '') return;
    const problem = lf.check(line);
    if (problem) {
      const conflict = /^(<<<<<<<|=======|>>>>>>>)/.test(line);
      throw new RepositoryError('bad-list-line', `${lf.file}:${i + 1}: expected ${problem}, found ${JSON.stringify(line.slice(0, 80))}`, {
        hint: conflict ? 'this looks like an unresolved merge: keep both sides\' lines and delete the markers' : 'fix or delete the line by hand',
        data: { file: lf.file, line: i + 1 },
      });
    }
    items.push(line);
  });
  // Tolerate hand edits that broke the order or duplicated a line; writers restore it.
  return [...new Set(items)].sort(byteOrder);
}

/** Read-modify-write under the file's lock. `change` returns the new list or null for no change. */
export async function updateList<T>(lf: ListFile, change: (items: string[]) => { items: string[] | null; result: T }): Promise<T> {
  return withLock(lf.file, async () => {
    const items = await readList(lf);
    const { items: next, result } = change(items);
    if (next !== null) {
      await writeFileAtomic(lf.file, [...new Set(next)].sort(byteOrder).map((s) => s + '\n').join(''));
    }
    return result;
  });
}
