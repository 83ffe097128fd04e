// Resource flags of `qdo retry`, which may be relative to the retried version's resources
// (spec/porcelain.md §qdo retry; man qdo-retry(1)): `--time x2`, `--time +30m`,
// `--mem +50%`, `--mem x1.5`, `--cpus +2`, or absolute as in submit (`--time 2h`).
// Pure: parse what was typed, then apply it to a stored Resources.
import { UsageError } from '../errors.js';
import { parseCount, parseMemory, parseResourceFlags, parseWalltime, RESOURCE_RANGES } from './resource-units.js';
import type { Resources } from './resources.js';

/** The numeric resources a relative change applies to, in their stored units. */
export type NumericField = 'time' | 'mem' | 'mem_per_cpu' | 'cpus' | 'tasks' | 'nodes' | 'gpus';

interface NumericFlag {
  flag: string;
  field: NumericField;
  /** Parses an amount in the stored unit (seconds, MiB, a count). */
  amount(text: string, flag: string): number;
  unit: string;
  min: number;
  example: string;
}

const NUMERIC_FLAGS: readonly NumericFlag[] = [
  { flag: 'time', field: 'time', amount: (t, f) => parseWalltime(t, f), unit: 's', min: 1, example: '2h, x2, +30m, +50%' },
  { flag: 'mem', field: 'mem', amount: (t, f) => parseMemory(t, f), unit: 'MiB', min: 1, example: '8G, x1.5, +2G, +50%' },
  { flag: 'mem-per-cpu', field: 'mem_per_cpu', amount: (t, f) => parseMemory(t, f), unit: 'MiB', min: 1, example: '2G, x2, +512M, +50%' },
  { flag: 'cpus', field: 'cpus', amount: (t, f) => parseCount(t, f), unit: '', min: 1, example: '8, x2, +2' },
  { flag: 'tasks', field: 'tasks', amount: (t, f) => parseCount(t, f), unit: '', min: 1, example: '4, x2, +2' },
  { flag: 'nodes', field: 'nodes', amount: (t, f) => parseCount(t, f), unit: '', min: 1, example: '2, x2, +1' },
  { flag: 'gpus', field: 'gpus', amount: (t, f) => parseCount(t, f, 0), unit: '', min: 0, example: '2, x2, +1' },
];

/** A change relative to the old value: add an amount (may be negative) or scale by a factor. */
export type RelativeChange = { kind: 'add'; amount: number; text: string } | { kind: 'scale'; factor: number; text: string };

export interface ResourceChanges {
  /** Absolute values, exactly as `qdo submit` reads them (parseResourceFlags). */
  set: Resources;
  /** Relative changes of numeric resources, by stored field name. */
  relative: Partial<Record<NumericField, RelativeChange>>;
}

/** True if a flag value is written as a change (x2, *2, +30m, -1, +50%) rather than a value. */
export function isRelative(text: string): boolean {
  const t = text.trim();
  return /^[x*+-]/i.test(t) || t.endsWith('%');
}

function badChange(flag: string, example: string, text: string): UsageError {
  return new UsageError(`--${flag}: expected a value or a change like ${example} (x factor, + or - amount, + or - percent), found ${JSON.stringify(text)}`, {
    code: 'bad-resource',
    data: { field: `--${flag}`, found: text },
  });
}

const NUMBER_RE = /^(\d+(?:\.\d+)?|\.\d+)$/;

/** Parses one relative value for a numeric flag (`time`, `mem`, ...; without dashes). */
export function parseRelative(flag: string, text: string): RelativeChange {
  const spec = NUMERIC_FLAGS.find((n) => n.flag === flag);
  if (!spec) throw new UsageError(`--${flag} ${JSON.stringify(text)}: only ${NUMERIC_FLAGS.map((n) => `--${n.flag}`).join(', ')} take relative values`, { code: 'bad-resource', data: { field: `--${flag}` } });
  const t = text.trim();
  const scale = /^[x*](.*)$/i.exec(t);
  if (scale) {
    const f = scale[1]!.trim();
    if (!NUMBER_RE.test(f) || Number(f) <= 0) throw badChange(flag, spec.example, text);
    return { kind: 'scale', factor: Number(f), text: t };
  }
  const sign = t[0] === '-' ? -1 : t[0] === '+' ? 1 : 0;
  if (sign === 0) throw badChange(flag, spec.example, text);
  const rest = t.slice(1).trim();
  if (rest.endsWith('%')) {
    const p = rest.slice(0, -1).trim();
    if (!NUMBER_RE.test(p)) throw badChange(flag, spec.example, text);
    const factor = 1 + (sign * Number(p)) / 100;
    if (factor <= 0) throw new UsageError(`--${flag} ${t}: a decrease of 100% or more leaves nothing`, { code: 'bad-resource', data: { field: `--${flag}`, found: text } });
    return { kind: 'scale', factor, text: t };
  }
  if (rest === '') throw badChange(flag, spec.example, text);
  let amount: number;
  try {
    amount = spec.amount(rest, `--${flag}`);
  } catch {
    throw badChange(flag, spec.example, text);
  }
  return { kind: 'add', amount: sign * amount, text: t };
}

/**
 * Splits resource flags (keys without dashes, as yargs gives them) into absolute values and
 * relative changes. Errors name the flag.
 */
export function parseResourceChanges(flags: Record<string, string | undefined>): ResourceChanges {
  const absolute: Record<string, string | undefined> = {};
  const relative: ResourceChanges['relative'] = {};
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || v === null) continue;
    const spec = NUMERIC_FLAGS.find((n) => n.flag === k);
    if (spec && isRelative(String(v))) relative[spec.field] = parseRelative(k, String(v));
    else absolute[k] = v === undefined ? undefined : String(v);
  }
  return { set: parseResourceFlags(absolute), relative };
}

/** Rounds away float noise (x1.1 of 3600 = 3960.0000000000005) before rounding up. */
function ceilClean(x: number): number {
  return Math.ceil(Math.round(x * 1e6) / 1e6);
}

function show(n: NumericFlag, v: number): string {
  return n.unit ? `${v} ${n.unit}` : String(v);
}

/** The resources of a new version: the old ones, absolute values over them, then the changes. */
export function applyResourceChanges(base: Resources, c: ResourceChanges): Resources {
  const out: Resources = { ...base };
  // mem and mem_per_cpu replace each other, as in submit (spec/scheduler-common.md §Flags).
  if (c.set.mem !== undefined) delete out.mem_per_cpu;
  if (c.set.mem_per_cpu !== undefined) delete out.mem;
  Object.assign(out, c.set);
  for (const n of NUMERIC_FLAGS) {
    const ch = c.relative[n.field];
    if (!ch) continue;
    const old = out[n.field];
    if (old === undefined) {
      const other = n.field === 'mem' && out.mem_per_cpu !== undefined ? ' (it sets memory per CPU: use --mem-per-cpu)' : n.field === 'mem_per_cpu' && out.mem !== undefined ? ' (it sets memory per node: use --mem)' : '';
      throw new UsageError(`--${n.flag} ${ch.text}: the job has no ${n.flag} to change${other}`, {
        code: 'bad-resource',
        data: { field: `--${n.flag}` },
        hint: other ? undefined : `give an absolute value instead, e.g. --${n.flag} ${n.example.split(',')[0]}`,
      });
    }
    const next = ch.kind === 'add' ? old + ch.amount : ceilClean(old * ch.factor);
    if (next < n.min || !Number.isSafeInteger(next)) {
      throw new UsageError(`--${n.flag} ${ch.text}: ${show(n, old)} would become ${show(n, next)}; the least is ${show(n, n.min)}`, { code: 'bad-resource', data: { field: `--${n.flag}` } });
    }
    const range = RESOURCE_RANGES[n.field];
    if (next > range.max) {
      throw new UsageError(`--${n.flag} ${ch.text}: ${show(n, old)} would become ${show(n, next)}; the most is ${range.show(range.max)} (spec/scheduler-common.md §Ranges)`, {
        code: 'bad-resource',
        data: { field: `--${n.flag}` },
      });
    }
    out[n.field] = next;
  }
  return out;
}
