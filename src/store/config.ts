// Reads `.qdo/config.json` (spec/config.md). Absent means all defaults.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RepositoryError, errnoCode } from '../errors.js';
import type { UserId } from '../context.js';
import { parseConfig, type AllocationConfig } from '../model/config.js';
import type { Layout } from './layout.js';
import { checkConfig } from './trust.js';

/** Refused (exit 7, untrusted-config) when others could have written it (spec/trust.md §Configs). */
export async function readConfig(l: Layout, user: UserId): Promise<AllocationConfig> {
  await checkConfig(l.config, user, l.shared === true);
  let text: string;
  try {
    text = readFileSync(l.config, 'utf8');
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

export async function readProjectConfig(l: Layout, project: string, user: UserId): Promise<AllocationConfig> {
  const p = projectConfigPath(l, project);
  await checkConfig(p, user, l.shared === true);
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return {};
    throw new RepositoryError('unreadable-file', `cannot read ${p}: ${errnoCode(e) ?? String(e)}`);
  }
  return parseConfig(text, p);
}
