// Archives (spec/config.md §Archive, spec/submissions.md §Archived): where a project's
// finished run folders are copied, and the record of a copy. Pure parse and validate.
import { show } from './resources.js';
import { ISO_TIME_RE } from './time.js';

/** `archive` in a config: the target and when to copy. */
export interface ArchiveSetting {
  /** An absolute path (a registered allocation) or `host:path` (rsync's remote syntax). */
  to: string;
  /** `end`: when qdo sees a version end (and by `qdo archive`); `manual`: only by `qdo archive`. */
  when: 'end' | 'manual';
}

/** The `archived` member of a submission record. */
export interface ArchivedField {
  /** The archive target as configured when copied (allocation root or host:path). */
  to: string;
  /** When the copy was verified. */
  time: string;
  /** Regular files and their total size in the run folder at that time. */
  files: number;
  bytes: number;
}

/** rsync's own rule: a colon before the first slash makes a path remote. */
export function isRemoteTarget(s: string): boolean {
  return /^[^/:]+:/.test(s);
}

/** Why `to` is not a usable archive target, or null. */
export function archiveTargetProblem(to: unknown): string | null {
  if (typeof to !== 'string' || to === '' || /[\n\r]/.test(to)) return 'an absolute allocation path or host:path';
  if (isRemoteTarget(to)) return to.replace(/^[^/:]+:/, '') === '' ? 'host:path with a path (host: alone is the remote home, name a folder)' : null;
  if (!to.startsWith('/')) return 'an absolute allocation path or host:path (a relative path is neither)';
  if (/\/\.\.?(\/|$)|\/\/|.\/$/.test(to)) return 'a normalised absolute path (no "//", ".", ".." or trailing "/")';
  return null;
}

/**
 * The `archive` key of a config: a target string (copied at the end), `{"to", "when"}`, or
 * `false` (no archive, overriding an inherited one). Returns null for false; throws the
 * caller's error for anything else.
 */
export function parseArchiveSetting(v: unknown, fail: (key: string, expected: string, found: unknown) => Error): ArchiveSetting | null {
  if (v === false) return null;
  if (typeof v === 'string') {
    const p = archiveTargetProblem(v);
    if (p) throw fail('archive', p, v);
    return { to: v, when: 'end' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail('archive', 'a target string, {"to": …, "when": "end"|"manual"} or false', v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'to' && k !== 'when') throw fail(`archive.${k}`, 'one of the keys to, when', k);
  const p = archiveTargetProblem(o.to);
  if (p) throw fail('archive.to', p, o.to);
  if (o.when !== undefined && o.when !== 'end' && o.when !== 'manual') throw fail('archive.when', '"end" or "manual"', o.when);
  return { to: o.to as string, when: (o.when as 'end' | 'manual' | undefined) ?? 'end' };
}


/** Problems with an `archived` member of a record (spec/submissions.md §Archived). */
export function archivedFieldProblems(o: Record<string, unknown>): string[] {
  if (!('archived' in o)) return [];
  const a = o.archived as Record<string, unknown> | null;
  const ok =
    typeof a === 'object' &&
    a !== null &&
    !Array.isArray(a) &&
    archiveTargetProblem(a.to) === null &&
    typeof a.time === 'string' &&
    ISO_TIME_RE.test(a.time) &&
    Number.isSafeInteger(a.files) &&
    (a.files as number) >= 0 &&
    Number.isSafeInteger(a.bytes) &&
    (a.bytes as number) >= 0;
  return ok ? [] : [`archived: expected {"to": <allocation path or host:path>, "time": <UTC time>, "files": <integer >= 0>, "bytes": <integer >= 0>}, found ${show(o.archived)}`];
}

/** Where a version's run folder is kept in an archive: the allocation-relative path under the target. */
export function archivedPath(to: string, relRunDir: string): string {
  return `${to}/${relRunDir}`;
}
