// What a template may reach (spec/templates.md §Sandbox). nunjucks compiles a template to
// JavaScript, and its own member lookup hands out anything JavaScript would:
// `range.constructor("return process")()` is the Function constructor and runs code as the
// user. qdo allows, by type, a short list instead:
//   - plain objects (the context qdo passes, dicts the template builds, `loop`): their own
//     properties only, never inherited ones;
//   - arrays: indices, `length`, a few methods that only read;
//   - strings (and nunjucks' SafeString): indices, `length`, a few methods that do not
//     take a regular expression or a callback;
//   - numbers: a few formatting methods;
//   - functions (range, cycler, joiner, macros, caller): no members at all;
//   - anything else: nothing.
// `constructor`, `__proto__`, `prototype` and the like are refused by name everywhere.
// Methods and filters are wrapped so their arguments and results are bounded (meter.ts),
// and refuse regular expressions (a backtracking pattern cannot be interrupted) and
// functions (callbacks into template code would escape the depth count).
import { MAX_RANGE, type Meter } from './meter.js';

/** Names never readable as a member or variable, whatever the value. */
export const FORBIDDEN_NAMES: ReadonlySet<string> = new Set([
  'constructor',
  '__proto__',
  'prototype',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'caller',
  'callee',
  'arguments',
  'call',
  'apply',
  'bind',
  'valueOf',
]);

const STRING_METHODS: ReadonlySet<string> = new Set([
  'toUpperCase',
  'toLowerCase',
  'trim',
  'trimStart',
  'trimEnd',
  'startsWith',
  'endsWith',
  'includes',
  'indexOf',
  'lastIndexOf',
  'slice',
  'substring',
  'split',
  'replace',
  'replaceAll',
  'padStart',
  'padEnd',
  'repeat',
  'charAt',
  'at',
  'concat',
  'toString',
]);

const ARRAY_METHODS: ReadonlySet<string> = new Set(['join', 'slice', 'indexOf', 'lastIndexOf', 'includes', 'at', 'concat']);

const NUMBER_METHODS: ReadonlySet<string> = new Set(['toFixed', 'toPrecision', 'toExponential', 'toString']);

/**
 * nunjucks filters qdo does not offer: HTML helpers whose regular expressions backtrack
 * badly on crafted input, and `random`, which would make the same template and context
 * render different bytes (spec/templates.md §Variables).
 */
export const REMOVED_FILTERS: readonly string[] = ['striptags', 'urlize', 'random'];

export type Refuse = (what: string, hint?: string) => Error;

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

function isStringLike(v: unknown): v is string | String {
  return typeof v === 'string' || v instanceof String;
}

const isIndex = (k: string): boolean => /^(0|[1-9]\d{0,8})$/.test(k);

/** What a member lookup is allowed to see. */
export type Access = { kind: 'value'; value: unknown } | { kind: 'method'; of: unknown; name: string } | { kind: 'missing' } | { kind: 'forbidden'; why: string };

export function access(obj: unknown, key: string): Access {
  if (FORBIDDEN_NAMES.has(key)) return { kind: 'forbidden', why: `"${key}" cannot be read in a template` };
  if (typeof obj === 'function') return { kind: 'forbidden', why: `a function has no members in a template (reading "${key}")` };
  if (isStringLike(obj)) {
    if (key === 'length') return { kind: 'value', value: obj.length };
    if (isIndex(key)) return Number(key) < obj.length ? { kind: 'value', value: String(obj)[Number(key)] } : { kind: 'missing' };
    if (STRING_METHODS.has(key)) return { kind: 'method', of: obj, name: key };
    if (typeof obj === 'object' && hasOwn(obj, key) && key !== 'val') return { kind: 'value', value: (obj as unknown as Record<string, unknown>)[key] };
    return { kind: 'missing' };
  }
  if (typeof obj === 'number' || typeof obj === 'boolean') {
    return typeof obj === 'number' && NUMBER_METHODS.has(key) ? { kind: 'method', of: obj, name: key } : { kind: 'missing' };
  }
  if (Array.isArray(obj)) {
    if (key === 'length') return { kind: 'value', value: obj.length };
    if (isIndex(key)) return Number(key) < obj.length ? { kind: 'value', value: obj[Number(key)] } : { kind: 'missing' };
    if (ARRAY_METHODS.has(key)) return { kind: 'method', of: obj, name: key };
    return { kind: 'missing' };
  }
  if (isPlainObject(obj)) {
    if (!hasOwn(obj, key)) return { kind: 'missing' };
    const d = Object.getOwnPropertyDescriptor(obj, key)!;
    // A getter would run code qdo did not write; contexts and template dicts have none.
    if (d.get || d.set) return { kind: 'forbidden', why: `"${key}" is an accessor and cannot be read in a template` };
    return { kind: 'value', value: d.value };
  }
  if (typeof obj === 'object' && obj !== null) {
    const type = (obj as object).constructor?.name ?? 'object';
    return { kind: 'forbidden', why: `a ${type === 'RegExp' ? 'regular expression' : `${type} value`} has no members in a template (reading "${key}")` };
  }
  return { kind: 'missing' };
}

/** Arguments no method or filter may take: a regular expression, a function, or a value over the size bound. */
export function checkArgs(meter: Meter, refuse: Refuse, what: string, args: readonly unknown[]): void {
  for (const a of args) {
    if (a instanceof RegExp) throw refuse(`${what} cannot take a regular expression in a template`, 'regular expressions can take unbounded time; match plain text instead');
    if (typeof a === 'function') throw refuse(`${what} cannot take a function in a template`);
    if (typeof a === 'number' && Math.abs(a) > meter.limits.bytes) {
      throw meter.fail({ what: `${what} was given ${a}, more than the size bound of ${meter.limits.bytes}`, hint: 'the bound is limits.template_bytes in .qdo/config.json (spec/config.md §Limits)' });
    }
    meter.check(a, `an argument of ${what}`);
  }
}

/** A string or array method, bound to its object and bounded. */
export function boundMethod(meter: Meter, refuse: Refuse, of: unknown, name: string): (...args: unknown[]) => unknown {
  return (...args: unknown[]): unknown => {
    meter.tick();
    meter.checkTime();
    const what = `.${name}()`;
    checkArgs(meter, refuse, what, args);
    // Results are checked before they are built where the size is known up front.
    if (name === 'repeat' || name === 'padStart' || name === 'padEnd') {
      const n = Number(args[0] ?? 0);
      const size = name === 'repeat' ? String(of).length * n : n;
      if (size > meter.limits.bytes) throw meter.tooLarge(`the result of ${what}`);
    }
    const fn = (Object(of) as Record<string, unknown>)[name] as (...a: unknown[]) => unknown;
    const out = fn.apply(of, args);
    meter.check(out, `the result of ${what}`);
    return out;
  };
}

/** `range()` that counts its numbers before making them (nunjucks' loops to `stop`, whatever it is). */
export function boundedRange(meter: Meter, refuse: Refuse): (start: unknown, stop?: unknown, step?: unknown) => number[] {
  return (start: unknown, stop?: unknown, step?: unknown): number[] => {
    meter.tick();
    let a = Number(start);
    let b = Number(stop);
    let s = step === undefined || step === null || step === 0 ? 1 : Number(step);
    if (stop === undefined) {
      b = a;
      a = 0;
      s = 1;
    }
    if (![a, b, s].every(Number.isFinite)) throw refuse(`range(${[start, stop, step].filter((x) => x !== undefined).join(', ')}): expected finite numbers`);
    const count = Math.max(0, Math.ceil((b - a) / s));
    if (count > MAX_RANGE) throw refuse(`range() would give ${count} numbers; at most ${MAX_RANGE} are allowed`, 'a loop this long is almost certainly a mistake');
    return Array.from({ length: count }, (_, i) => a + i * s);
  };
}

/**
 * Wraps a filter: arguments and result bounded, the clock checked. `replace` and `indent`
 * can grow a string by a product of their inputs, so their result size is computed first.
 */
export function boundedFilter(meter: Meter, refuse: Refuse, name: string, fn: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]): unknown {
    meter.tick();
    meter.checkTime();
    const what = `the filter "${name}"`;
    checkArgs(meter, refuse, what, args);
    const [input, a1, a2] = args;
    if (name === 'replace' && isStringLike(input) && (typeof a1 === 'string' || typeof a1 === 'number') && (isStringLike(a2) || typeof a2 === 'number')) {
      const s = String(input);
      const old = String(a1);
      const n = old === '' ? s.length + 1 : countOf(s, old);
      if (s.length + n * (String(a2).length - old.length) > meter.limits.bytes) throw meter.tooLarge(`the result of ${what}`);
    }
    if (name === 'indent' && isStringLike(input)) {
      const lines = String(input).split('\n').length;
      if (input.length + lines * Number(a1 ?? 4) > meter.limits.bytes) throw meter.tooLarge(`the result of ${what}`);
    }
    const out = fn.apply(this, args);
    meter.check(out, `the result of ${what}`);
    return out;
  };
}

function countOf(s: string, part: string): number {
  let n = 0;
  for (let i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + part.length)) n++;
  return n;
}

/** nunjucks' `trim` uses /^\s*|\s*$/, which takes quadratic time on a long run of spaces. */
export function trimFilter(v: unknown): string {
  return String(v ?? '').trim();
}
