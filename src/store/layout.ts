// Paths inside an allocation and the format-version rule (spec/layout.md).
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { RepositoryError, errnoCode } from '../errors.js';
import { fsyncDir, tempPathFor, writeFileAtomic } from './atomic.js';

export const QDO_DIR = '.qdo';
export const FORMAT_VERSION = 1;
const FORMAT_RE = /^qdo-format (\d+)\n$/;

export interface Layout {
  /** The allocation root (absolute). */
  root: string;
  /** `<root>/.qdo` */
  dir: string;
  format: string;
  config: string;
  allocations: string;
  projects: string;
  objects: string;
  refs: string;
  cache: string;
  /** The user opted to share this allocation with its group (spec/trust.md §Shared allocations); set when it is opened. */
  shared?: boolean;
}

export function layoutOf(root: string): Layout {
  const dir = join(root, QDO_DIR);
  return {
    root,
    dir,
    format: join(dir, 'format'),
    config: join(dir, 'config.json'),
    allocations: join(dir, 'allocations'),
    projects: join(dir, 'projects'),
    objects: join(dir, 'objects'),
    refs: join(dir, 'refs'),
    cache: join(dir, 'cache'),
  };
}

export function formatFileContent(version = FORMAT_VERSION): string {
  return `qdo-format ${version}\n`;
}

export type ProbeResult =
  | { kind: 'absent' }
  | { kind: 'ok'; version: number }
  | { kind: 'unreadable'; reason: string };

/**
 * Looks at `<root>/.qdo` without changing anything. Throws for a foreign or newer tree.
 * Every command opens its allocations first, one small read after another: these (like the
 * trust walk, list and config reads) are synchronous system calls, as a trip through the
 * thread pool per call cost more than the call itself (bench/README.md, stop 24).
 */
export async function probeAllocation(root: string): Promise<ProbeResult> {
  const l = layoutOf(root);
  try {
    const st = statSync(l.dir);
    if (!st.isDirectory()) {
      throw new RepositoryError('foreign-qdo', `${l.dir} exists but is not a folder`, { hint: 'move it away, then run qdo init' });
    }
  } catch (e) {
    if (e instanceof RepositoryError) throw e;
    const c = errnoCode(e);
    if (c === 'ENOENT' || c === 'ENOTDIR') return { kind: 'absent' };
    return { kind: 'unreadable', reason: `${l.dir}: ${c ?? String(e)}` };
  }
  let text: string;
  try {
    text = readFileSync(l.format, 'utf8');
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT') {
      throw new RepositoryError('foreign-qdo', `${l.dir} is not a qdo allocation: ${l.format} is missing`, {
        hint: 'another tool may use this folder name; qdo will not touch it',
      });
    }
    return { kind: 'unreadable', reason: `${l.format}: ${c ?? String(e)}` };
  }
  const m = FORMAT_RE.exec(text);
  if (!m) {
    throw new RepositoryError('foreign-qdo', `${l.format}: expected "qdo-format N", found ${JSON.stringify(text.slice(0, 40))}`, {
      hint: 'qdo will not touch a .qdo folder it does not recognise',
    });
  }
  const version = Number(m[1]);
  if (version > FORMAT_VERSION) {
    throw new RepositoryError('newer-format', `${l.dir} has format ${version}; this qdo understands format ${FORMAT_VERSION} and will not touch it`, {
      hint: 'upgrade qdo on this machine',
    });
  }
  return { kind: 'ok', version };
}

/** Opens an existing allocation or throws (not a qdo allocation / unreadable). */
export async function openAllocation(root: string): Promise<Layout> {
  const p = await probeAllocation(root);
  if (p.kind === 'absent') throw new RepositoryError('not-an-allocation', `${root} is not a qdo allocation (no ${QDO_DIR} folder)`, { hint: `run: qdo init ${root}` });
  if (p.kind === 'unreadable') throw new RepositoryError('unreadable-allocation', `cannot read allocation ${root}: ${p.reason}`);
  return layoutOf(root);
}

/** Creates `<root>/.qdo` if absent (idempotent); returns whether it was created. */
export async function createAllocation(root: string): Promise<{ layout: Layout; created: boolean }> {
  const p = await probeAllocation(root);
  const l = layoutOf(root);
  if (p.kind === 'ok') return { layout: l, created: false };
  if (p.kind === 'unreadable') throw new RepositoryError('unreadable-allocation', `cannot read allocation ${root}: ${p.reason}`);
  // Built under a temp name and renamed into place, so an interrupted init leaves no
  // half-made .qdo (a leftover `.qdo.tmp-*` folder is harmless and may be deleted).
  await mkdir(root, { recursive: true });
  const tmp = tempPathFor(l.dir).replace(/\/\.\.qdo/, '/.qdo');
  await mkdir(join(tmp, 'objects'), { recursive: true });
  await mkdir(join(tmp, 'refs'), { recursive: true });
  await writeFileAtomic(join(tmp, 'format'), formatFileContent());
  try {
    await rename(tmp, l.dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    // Another process initialised it first: fine if what it made is an allocation.
    if (errnoCode(e) === 'EEXIST' || errnoCode(e) === 'ENOTEMPTY') {
      await openAllocation(root);
      return { layout: l, created: false };
    }
    throw e;
  }
  await fsyncDir(root);
  return { layout: l, created: true };
}
