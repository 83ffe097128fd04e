// Parameter points of a sweep (spec/sweeps.md §Points): `--grid KEY=V1,V2` lists multiply
// (cartesian product, the first grid varying slowest), `--zip KEY=V1,V2` lists advance
// together (equal lengths), explicit point lists (sweep files) are taken as they are; the
// three combine as a product: points × zipped tuples × grid. `--set` values apply to every
// point. Pure functions: no I/O, errors name the flag or field.
import { UsageError } from '../errors.js';

/** One `KEY=V1,V2,…` list. `field` names where it came from, for messages. */
export interface ParamList {
  key: string;
  values: string[];
  field: string;
}

export interface PointAxes {
  /** Values every point has (`--set`). */
  set: Record<string, string>;
  grids: ParamList[];
  zips: ParamList[];
  /** Explicit points (a sweep file's `points:` list), each a full set of its own keys. */
  points?: { params: Record<string, string>; field: string }[];
}

/** More points than this in one sweep is almost certainly a mistake in the lists (the default of config `limits.sweep_points`). */
export const MAX_POINTS = 100_000;

/** How many points a sweep may have (`max`), and how many earlier groups of it already have. */
export interface PointLimit {
  max: number;
  before?: number;
}

export const PARAM_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function bad(message: string, hint?: string): UsageError {
  return new UsageError(message, { code: 'bad-sweep', ...(hint ? { hint } : {}) });
}

/**
 * Splits a value list at commas. `\,` is a comma inside a value and `\\` a backslash; any
 * other backslash is kept as it is (so paths and patterns need no doubling).
 */
export function splitValues(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && (text[i + 1] === ',' || text[i + 1] === '\\')) {
      cur += text[i + 1];
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** `KEY=V1,V2,…` of `--grid`/`--zip` (flag given without dashes, e.g. "grid"). */
export function parseParamList(text: string, flag: string): ParamList {
  const field = `--${flag} ${JSON.stringify(text)}`;
  const i = text.indexOf('=');
  if (i <= 0) throw bad(`${field}: expected KEY=V1,V2,…`, 'e.g. --grid lr=0.1,0.01 (a comma inside a value is written \\,)');
  const key = text.slice(0, i);
  checkKey(key, field);
  const body = text.slice(i + 1);
  if (body === '') throw bad(`${field}: expected at least one value after "${key}="`);
  return { key, values: splitValues(body), field };
}

export function checkKey(key: string, field: string): void {
  if (!PARAM_KEY_RE.test(key)) throw new UsageError(`${field}: "${key}" is not a valid parameter name (letters, digits, "_"; not starting with a digit)`, { code: 'bad-key-value' });
}

/** Every point's parameters, in order: explicit points slowest, then zipped tuples, then grids (first slowest). */
export function sweepPoints(a: PointAxes, limit: PointLimit = { max: MAX_POINTS }): Record<string, string>[] {
  // A key may come from one place only: which value would a point get otherwise?
  const owner = new Map<string, string>();
  const claim = (key: string, field: string) => {
    const prev = owner.get(key);
    if (prev !== undefined) throw bad(`${field}: parameter "${key}" is also given by ${prev}; give each parameter once`);
    owner.set(key, field);
  };
  for (const k of Object.keys(a.set)) claim(k, `--set ${k}`);
  for (const l of [...a.zips, ...a.grids]) claim(l.key, l.field);
  const pointKeys = new Map<string, string>();
  for (const p of a.points ?? []) {
    for (const k of Object.keys(p.params)) {
      checkKey(k, p.field);
      if (!pointKeys.has(k)) pointKeys.set(k, p.field);
    }
  }
  for (const [k, field] of pointKeys) claim(k, field);

  let tuples: Record<string, string>[] = [{}];
  if (a.zips.length > 0) {
    const n = a.zips[0]!.values.length;
    for (const z of a.zips) {
      if (z.values.length !== n) {
        throw bad(`${z.field}: zipped lists must have the same length: ${a.zips[0]!.key} has ${n} values, ${z.key} has ${z.values.length}`);
      }
    }
    tuples = Array.from({ length: n }, (_, i) => Object.fromEntries(a.zips.map((z) => [z.key, z.values[i]!])));
  }
  const explicit = a.points && a.points.length > 0 ? a.points.map((p) => p.params) : [{}];
  let total = explicit.length * tuples.length;
  for (const g of a.grids) total *= g.values.length;
  // Counted before any point is made: 10 lists of 100 values are 10^20 points, not an out-of-memory.
  const before = limit.before ?? 0;
  if (before + total > limit.max) {
    const count = total > Number.MAX_SAFE_INTEGER ? `more than ${Number.MAX_SAFE_INTEGER}` : String(total);
    const what = before > 0 ? `the lists give ${count} points, ${before} more come from the groups before them` : `the lists give ${count} points`;
    throw bad(`${what}; at most ${limit.max} are allowed in one sweep`, 'split the sweep, or check the lists for a mistake; the bound is limits.sweep_points in .qdo/config.json (spec/config.md §Limits)');
  }

  let out: Record<string, string>[] = [];
  for (const e of explicit) for (const t of tuples) out.push({ ...e, ...t });
  // Each grid multiplies what is there, so the first one given varies slowest.
  for (const g of a.grids) {
    const next: Record<string, string>[] = [];
    for (const p of out) for (const v of g.values) next.push({ ...p, [g.key]: v });
    out = next;
  }
  return out.map((p) => ({ ...a.set, ...p }));
}

/** Points whose rendered names coincide: name → indexes (only names given twice or more). */
export function nameCollisions(names: string[]): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  names.forEach((n, i) => {
    const l = seen.get(n);
    if (l) l.push(i);
    else seen.set(n, [i]);
  });
  return new Map([...seen].filter(([, l]) => l.length > 1));
}
