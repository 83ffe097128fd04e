// --since of qdo status and qdo watch (spec/porcelain.md §qdo status): how far back the
// overview lists ended jobs, and how it says what it left out.
import { UsageError } from '../errors.js';

/** How far back the overview lists ended jobs when no --since is given. */
export const DEFAULT_SINCE = '7d';
export const SINCE_DESCRIBE = 'list jobs that ended within AGE (30m, 12h, 7d, 2w) or since DATE; "all": every one (default without patterns: 7d, not with --json)';
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * --since for something that runs on (qdo watch): checked now; an age is a function of each
 * moment's time (the window moves), a date a fixed time, `all` undefined.
 */
export function sinceFrom(v: string, now: Date): number | ((now: Date) => number) | undefined {
  const first = sinceOf(v, now);
  return first !== undefined && AGE.test(v) ? (t: Date) => sinceOf(v, t)! : first;
}

const AGE = /^(\d+)([smhdw])$/;

/** --since: an age back from now (`90m`, `12h`, `7d`, `2w`), a date or UTC time, or `all` (undefined: no limit). */
export function sinceOf(v: string, now: Date): number | undefined {
  if (v === 'all') return undefined;
  const age = AGE.exec(v);
  // A time a Date can hold (+-8.64e15 ms: 275,000 years); a longer age is refused.
  if (age && Number(age[1]) * UNIT_MS[age[2]!]! <= 8.64e15) return now.getTime() - Number(age[1]) * UNIT_MS[age[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?)?$/.test(v)) {
    // A date alone is that day's start in UTC, as the times qdo records are.
    const t = Date.parse(v.length === 10 ? v + 'T00:00:00Z' : v.replace(' ', 'T').replace(/Z?$/, 'Z'));
    if (!Number.isNaN(t)) return t;
  }
  throw new UsageError(`--since ${JSON.stringify(v)}: expected an age such as 12h, 7d or 2w, a UTC date such as 2026-11-30 (or 2026-11-30T08:00), or "all"`, { code: 'bad-since' });
}

/** The line saying how many ended jobs the view left out and how to list them. */
export function hiddenNote(h: { count: number; states: Map<string, number> }, since: number, byDefault: boolean, command = 'qdo status'): string {
  const states = [...h.states].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([s, n]) => `${n} ${s}`).join(', ');
  const when = new Date(since).toISOString().slice(0, 16).replace('T', ' ');
  return `${h.count} job${h.count === 1 ? '' : 's'} that ended before ${when} UTC not shown (${states})${byDefault ? ', older than 7 days' : ''}: ${command} --since all lists them\n`;
}

/** `hidden` of the --json outputs. */
export function hiddenJson(h: { count: number; states: Map<string, number> }, since: number): Record<string, unknown> {
  return { before: new Date(since).toISOString(), jobs: h.count, states: Object.fromEntries([...h.states].sort()) };
}
