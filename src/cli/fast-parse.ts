// The start-up fast path: parses a command line that yargs would accept, into exactly the
// arguments object yargs would hand the command (test/cli/fast-parse.test.ts compares the
// two on every command). Anything unusual — help, --version, an unknown or misspelt
// option, a missing positional, a value that could be read two ways — returns null and
// main.ts lets yargs parse it, so yargs' messages, help and suggestions are unchanged.
// Loading and running yargs costs more than node's own start-up (bench/README.md).
import type { Args } from './command.js';
import { camel, type CommandSpec, type OptionSpec } from './spec.js';

export interface FastParse {
  word: string;
  args: Args;
}

function isFlag(t: string): boolean {
  return t.startsWith('-');
}

function set(args: Args, o: OptionSpec, value: unknown): boolean {
  const prev = args[o.name];
  if (o.type === 'boolean' && prev !== undefined) return false;
  let next: unknown = value;
  if (o.array) next = [...((prev as unknown[] | undefined) ?? []), value];
  // yargs' duplicate-arguments-array: a flag given twice collects its values.
  else if (prev !== undefined) next = Array.isArray(prev) ? [...prev, value] : [prev, value];
  for (const k of keysOf(o)) args[k] = next;
  return true;
}

function keysOf(o: OptionSpec): string[] {
  const keys = new Set<string>();
  for (const n of [o.name, ...o.alias]) {
    keys.add(n);
    if (n.includes('-')) keys.add(camel(n));
  }
  return [...keys];
}

function convert(o: { type: string | undefined; choices: readonly unknown[] | undefined }, raw: string): { ok: boolean; value: unknown } {
  let value: unknown = raw;
  if (o.type === 'number') {
    // Only plain decimal numbers: yargs' reading of "0x10", "1e3" or "" is not worth copying.
    if (!/^-?\d+(\.\d+)?$/.test(raw)) return { ok: false, value };
    value = Number(raw);
  } else if (o.type !== 'string') return { ok: false, value };
  if (o.choices && !o.choices.includes(value)) return { ok: false, value };
  return { ok: true, value };
}

/**
 * `specFor(word)` gives the spec of a command word (or undefined). Returns null whenever
 * yargs should decide.
 */
export function fastParse(argv: readonly string[], specFor: (word: string) => CommandSpec | undefined, globals: OptionSpec[]): FastParse | null {
  const dd = argv.indexOf('--');
  const head = dd < 0 ? argv : argv.slice(0, dd);
  const args: Args = { _: [] };
  let spec: CommandSpec | undefined;
  let word = '';
  const pos: string[] = [];
  for (let i = 0; i < head.length; i++) {
    const t = head[i]!;
    const flags = spec ? spec.flags : new Map(globals.map((g) => [g.name, g]));
    if (!isFlag(t)) {
      if (!spec) {
        spec = specFor(t);
        if (!spec || !spec.exact) return null;
        word = t;
        args._ = [t];
      } else pos.push(t);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      name = eq < 0 ? t.slice(2) : t.slice(2, eq);
      inline = eq < 0 ? undefined : t.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(t)) name = t.slice(1);
    else return null;
    if (!/^[A-Za-z][\w-]*$/.test(name)) return null;
    let o = flags.get(name);
    let negated = false;
    if (!o && name.startsWith('no-')) {
      o = flags.get(name.slice(3));
      negated = true;
      if (!o || o.type !== 'boolean' || inline !== undefined) return null;
    }
    if (!o) return null;
    if (o.type === 'boolean') {
      if (inline !== undefined) return null;
      const next = head[i + 1];
      if (next === 'true' || next === 'false') return null;
      if (!set(args, o, !negated)) return null;
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = head[i + 1];
      if (next === undefined || isFlag(next)) return null;
      raw = next;
      i++;
    }
    const v = convert(o, raw);
    if (!v.ok) return null;
    if (!set(args, o, v.value)) return null;
  }
  if (!spec) return null;
  // Positionals, in the command string's order.
  let k = 0;
  for (const p of spec.positionals) {
    if (p.variadic) {
      const rest = pos.slice(k);
      k = pos.length;
      if (p.required && rest.length === 0) return null;
      const vals: unknown[] = [];
      for (const r of rest) {
        const v = convert({ type: p.type ?? (p.choices ? 'string' : undefined), choices: p.choices }, r);
        if (!v.ok) return null;
        vals.push(v.value);
      }
      args[p.name] = vals;
      continue;
    }
    const r = pos[k];
    if (r === undefined) {
      if (p.required) return null;
      continue;
    }
    k++;
    const v = convert({ type: p.type ?? (p.choices ? 'string' : undefined), choices: p.choices }, r);
    if (!v.ok) return null;
    args[p.name] = v.value;
  }
  if (k < pos.length) return null;
  for (const o of spec.options) {
    if (o.default !== undefined && args[o.name] === undefined) for (const key of keysOf(o)) args[key] = o.default;
  }
  if (dd >= 0) args['--'] = argv.slice(dd + 1);
  args.$0 = 'qdo';
  return { word, args };
}
