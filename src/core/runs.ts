// Run folders (spec/layout.md §Project folders): `<project>/runs/<job>/<version>-<id[0:8]>`.
// The id suffix keeps two versions with the same number (forked by a sync) apart.
import { join } from 'node:path';
import type { Manifest } from '../model/manifest.js';
import type { Layout } from '../store/layout.js';
import { projectDir } from './world.js';

export const RUNS_DIR = 'runs';

export function runDirOf(l: Layout, m: Manifest, id: string): string {
  return join(projectDir(l, m.project), RUNS_DIR, m.name, `${m.version}-${id.slice(0, 8)}`);
}
