// Revision syntax (spec/addressing.md): `PROJECT/JOB`, bare `JOB` (inside a project
// folder), each optionally followed by `@N` (version N, 1 = first) or `~N` (N versions
// before the latest); or a unique prefix (>= 4 hex digits) of a manifest id.
import { UsageError } from '../errors.js';
import { isIdPrefix } from './object-id.js';

export type RevSelector = { kind: 'latest' } | { kind: 'version'; n: number } | { kind: 'back'; n: number };

export interface ParsedRev {
  text: string;
  /** `PROJECT/JOB` or `JOB`, without the selector. */
  path: string;
  selector: RevSelector;
  /** True if the whole text could also be an id prefix. */
  maybeId: boolean;
}

export function parseRev(text: string): ParsedRev {
  if (text === '') throw new UsageError('empty revision: expected PROJECT/JOB, JOB, JOB@N, JOB~N or an id prefix', { code: 'bad-rev' });
  const m = /^(.*?)([@~])(\d*)$/.exec(text);
  let path = text;
  let selector: RevSelector = { kind: 'latest' };
  if (m) {
    const [, p, sigil, digits] = m as unknown as [string, string, string, string];
    if (digits === '' || !/^\d+$/.test(digits)) throw new UsageError(`bad revision "${text}": "${sigil}" must be followed by a number`, { code: 'bad-rev' });
    const n = Number(digits);
    if (sigil === '@' && n < 1) throw new UsageError(`bad revision "${text}": versions count from @1`, { code: 'bad-rev' });
    path = p;
    selector = sigil === '@' ? { kind: 'version', n } : { kind: 'back', n };
  }
  if (path === '' || /[@~]/.test(path)) throw new UsageError(`bad revision "${text}"`, { code: 'bad-rev', hint: 'expected PROJECT/JOB, JOB, JOB@N, JOB~N or an id prefix' });
  return { text, path, selector, maybeId: !m && isIdPrefix(text) };
}
