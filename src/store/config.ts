// Reads `.qdo/config.json` (spec/config.md). Absent means all defaults.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RepositoryError, errnoCode } from '../errors.js';
import { parseConfig, type AllocationConfig } from '../model/config.js';
import type { Layout } from './layout.js';

export async function readConfig(l: Layout): Promise<AllocationConfig> {
  let text: string;
  try {
    text = await readFile(l.config, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return {};
    throw new RepositoryError('unreadable-file', `cannot read ${l.config}: ${errnoCode(e) ?? String(e)}`);
  }
  return parseConfig(text, l.config);
}

/** `.qdo/project-config/<key>.json` (spec/config.md §Projects): per-project settings. */
export function projectConfigPath(l: Layout, project: string): string {
  return join(l.dir, 'project-config', `${project.replaceAll('/', '+')}.json`);
}

export async function readProjectConfig(l: Layout, project: string): Promise<AllocationConfig> {
  const p = projectConfigPath(l, project);
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return {};
    throw new RepositoryError('unreadable-file', `cannot read ${p}: ${errnoCode(e) ?? String(e)}`);
  }
  return parseConfig(text, p);
}
