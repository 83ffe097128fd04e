// Project and job names (spec/layout.md §Names).
import { UsageError } from '../errors.js';

const SEGMENT = /^[A-Za-z0-9._-]+$/;
export const MAX_NAME_LENGTH = 200;

/** Why a single segment is not a valid name segment, or null if it is. */
export function segmentProblem(seg: string): string | null {
  if (seg === '') return 'an empty segment';
  if (seg === '.' || seg === '..') return `the segment "${seg}"`;
  // A leading "." is reserved: `.qdo` is an allocation's state folder, and a project named
  // `.qdo` (or `.qdo/objects`) would put run folders inside it (spec/layout.md §Names).
  if (seg.startsWith('.')) return `a leading "." in "${seg}" (names starting with "." are reserved)`;
  if (seg.startsWith('-')) return `a leading "-" in "${seg}"`;
  if (!SEGMENT.test(seg)) {
    const bad = [...seg].find((c) => !/[A-Za-z0-9._-]/.test(c)) ?? '?';
    return `the character ${JSON.stringify(bad)} in "${seg}"`;
  }
  return null;
}

const RULE = 'letters, digits, ".", "_", "-"; segments joined by "/"; no empty segment, no leading "." or "-"';

/** Checks a project name (one or more segments joined by "/"). */
export function checkProjectName(name: string, field = 'project name'): string {
  if (name.length > MAX_NAME_LENGTH) {
    throw new UsageError(`invalid ${field} "${name.slice(0, 40)}…": longer than ${MAX_NAME_LENGTH} characters`, { code: 'bad-name' });
  }
  for (const seg of name.split('/')) {
    const p = segmentProblem(seg);
    if (p) throw new UsageError(`invalid ${field} "${name}": ${p}`, { code: 'bad-name', hint: `names use ${RULE}` });
  }
  return name;
}

/** Checks a job or resource name: one segment. */
export function checkLeafName(name: string, field = 'job name'): string {
  if (name.includes('/')) {
    throw new UsageError(`invalid ${field} "${name}": it may not contain "/"`, { code: 'bad-name' });
  }
  const p = segmentProblem(name);
  if (p) throw new UsageError(`invalid ${field} "${name}": ${p}`, { code: 'bad-name', hint: `names use ${RULE}` });
  if (name.length > MAX_NAME_LENGTH) throw new UsageError(`invalid ${field}: longer than ${MAX_NAME_LENGTH} characters`, { code: 'bad-name' });
  return name;
}

export function isValidProjectName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && name.split('/').every((s) => segmentProblem(s) === null);
}

export function isValidLeafName(name: string): boolean {
  return !name.includes('/') && name.length <= MAX_NAME_LENGTH && segmentProblem(name) === null;
}

/**
 * The file-name form of a project name inside .qdo/refs: "/" becomes "+", a character
 * names never contain, so the mapping is one-to-one (spec/refs.md §Files).
 */
export function projectFileKey(project: string): string {
  return project.split('/').join('+');
}

export function projectFromFileKey(key: string): string {
  return key.split('+').join('/');
}
