// Run folders (spec/layout.md §Project folders): `<project>/runs/<job>/<version>-<id[0:8]>`.
// The id suffix keeps two versions with the same number (forked by a sync) apart.
import { join } from 'node:path';
import type { Layout } from '../store/layout.js';
import { projectDir } from './world.js';

export const RUNS_DIR = 'runs';

export interface RunAddress {
  project: string;
  name: string;
  version: number;
}

export function runDirOf(l: Layout, m: RunAddress, id: string): string {
  return join(projectDir(l, m.project), RUNS_DIR, m.name, `${m.version}-${id.slice(0, 8)}`);
}

/** The folder of a job's runs (all versions). */
export function jobRunsDir(l: Layout, project: string, name: string): string {
  return join(projectDir(l, project), RUNS_DIR, name);
}
