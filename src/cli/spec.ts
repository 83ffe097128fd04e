// What a command declares — its words, positionals and options — read from its yargs
// builder without loading yargs: the builder is run against a recorder that answers the
// two calls builders make (positional, option). The fast parser (fast-parse.ts),
// completion and did-you-mean work from this. A builder that calls anything else marks
// its spec inexact, and such a command is always parsed by yargs.
import type { Argv } from 'yargs';
import type { CommandDef } from './command.js';

export type ValueType = 'string' | 'boolean' | 'number';

export interface OptionSpec {
  name: string;
  type: ValueType | undefined;
  array: boolean;
  alias: string[];
  default: unknown;
  choices: readonly unknown[] | undefined;
  describe: string;
}

export interface PositionalSpec {
  name: string;
  required: boolean;
  /** `<a..>` / `[a..]`: takes every remaining positional. */
  variadic: boolean;
  type: ValueType | undefined;
  choices: readonly unknown[] | undefined;
  describe: string;
}

export interface CommandSpec {
  /** The command's name, then its aliases (`status`, `ls`). */
  words: string[];
  positionals: PositionalSpec[];
  options: OptionSpec[];
  /** Every name and alias, as typed after the dashes, to its option. */
  flags: Map<string, OptionSpec>;
  /** False if the builder used a yargs feature the recorder does not model. */
  exact: boolean;
}

/** Options every command has (main.ts declares them to yargs as global). */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'json', type: 'boolean', array: false, alias: [], default: undefined, choices: undefined, describe: 'machine-readable output; errors as one JSON object on stderr' },
];

const OPTION_KEYS = new Set(['type', 'alias', 'array', 'default', 'choices', 'describe', 'desc', 'description', 'group']);

function commandStrings(c: CommandDef): string[] {
  return Array.isArray(c.command) ? c.command : [c.command];
}

/** The word that runs the command (its first), for tables and messages. */
export function commandWord(c: CommandDef): string {
  return commandStrings(c)[0]!.trim().split(/\s+/)[0]!;
}

/** `status [patterns..]` → positionals in order (yargs' command-string grammar). */
function parsePositionals(command: string): PositionalSpec[] {
  return [...command.matchAll(/([<[])([^\]>]+?)(\.\.)?[\]>]/g)].map((m) => ({
    name: m[2]!,
    required: m[1] === '<',
    variadic: m[3] === '..',
    type: undefined,
    choices: undefined,
    describe: '',
  }));
}

function asType(v: unknown): ValueType | undefined {
  return v === 'string' || v === 'boolean' || v === 'number' ? v : undefined;
}

export function commandSpec(c: CommandDef): CommandSpec {
  const strings = commandStrings(c);
  const words = strings.map((s) => s.trim().split(/\s+/)[0]!);
  const positionals = parsePositionals(strings[0]!);
  const options: OptionSpec[] = GLOBAL_OPTIONS.map((o) => ({ ...o }));
  let exact = strings.every((s) => s.trim().split(/\s+/).slice(1).join(' ') === strings[0]!.trim().split(/\s+/).slice(1).join(' '));
  const known = (o: Record<string, unknown>) => Object.keys(o).every((k) => OPTION_KEYS.has(k));
  const recorder: Record<string | symbol, unknown> = {};
  const proxy: Argv = new Proxy(recorder, {
    get(_t, prop) {
      if (prop === 'positional') {
        return (name: string, o: Record<string, unknown> = {}) => {
          const p = positionals.find((x) => x.name === name);
          if (!p || !known(o) || o.alias !== undefined || o.default !== undefined) exact = false;
          if (p) {
            p.type = asType(o.type);
            p.choices = o.choices as readonly unknown[] | undefined;
            p.describe = String(o.describe ?? o.desc ?? o.description ?? '');
          }
          return proxy;
        };
      }
      if (prop === 'option' || prop === 'options') {
        return (name: string | Record<string, unknown>, o: Record<string, unknown> = {}) => {
          if (typeof name !== 'string') {
            exact = false;
            return proxy;
          }
          if (!known(o) || (o.type !== undefined && asType(o.type) === undefined)) exact = false;
          const alias = o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias.map(String) : [String(o.alias)];
          const spec: OptionSpec = { name, type: asType(o.type), array: o.array === true, alias, default: o.default, choices: o.choices as readonly unknown[] | undefined, describe: String(o.describe ?? o.desc ?? o.description ?? '') };
          const i = options.findIndex((x) => x.name === name);
          if (i >= 0) options[i] = spec;
          else options.push(spec);
          return proxy;
        };
      }
      // Anything else (check, conflicts, middleware, ...): yargs must see this command.
      return () => {
        exact = false;
        return proxy;
      };
    },
  }) as unknown as Argv;
  if (c.builder) c.builder(proxy);
  const flags = new Map<string, OptionSpec>();
  for (const o of options) for (const n of [o.name, ...o.alias]) flags.set(n, o);
  // Options without a type, or with a name that collides with yargs' own, go to yargs.
  if (options.some((o) => o.type === undefined || o.name === 'help' || o.name === 'version')) exact = false;
  return { words, positionals, options, flags, exact };
}

/** kebab-case → camelCase, as yargs-parser adds it for every hyphenated key. */
export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/gi, (_m, c: string) => c.toUpperCase());
}
