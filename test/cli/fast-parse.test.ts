// fast-parse.ts against yargs: for every command, a corpus of command lines built from its
// declared positionals and options (every option in each of its spellings, aliases,
// repeats, `--`, `--json` before the command, and mistakes). Whenever the fast parser
// accepts a line, yargs must accept it too and hand the command the same arguments;
// whenever yargs refuses one, the fast parser must have declined it (so yargs reports it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import yargs from 'yargs';
import { COMMANDS } from '../../src/cli/commands.js';
import { fastParse } from '../../src/cli/fast-parse.js';
import { commandFor, specOfCommand, yargsParser } from '../../src/cli/main.js';
import { GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from '../../src/cli/spec.js';
import type { Args } from '../../src/cli/command.js';

async function viaYargs(argv: string[]): Promise<{ ok: true; args: Args } | { ok: false; error: string }> {
  let got: Args | undefined;
  try {
    const p = yargsParser(yargs, argv, 100, async (_c, a) => {
      got = a;
    });
    await p.parseAsync(argv, {}, () => undefined);
    return got ? { ok: true, args: got } : { ok: false, error: 'no command ran' };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

function fast(argv: string[]) {
  return fastParse(argv, (w) => {
    const c = commandFor(w);
    return c ? specOfCommand(c) : undefined;
  }, GLOBAL_OPTIONS);
}

/** Same keys and values, order aside; `undefined` members count as absent. */
function normal(a: Args): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(a)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : 1)),
  );
}

function sample(o: { type?: string; choices?: readonly unknown[] | undefined }, i = 0): string {
  if (o.choices) return String(o.choices[i % o.choices.length]);
  return o.type === 'number' ? String(3 + i) : ['p/j', 'x@2', 'a=1', '12'][i % 4]!;
}

function basePositionals(s: CommandSpec, withOptional: boolean): string[] {
  const out: string[] = [];
  s.positionals.forEach((p, i) => {
    if (p.required || withOptional) out.push(sample(p, i));
    if (p.variadic && withOptional) out.push(sample(p, i + 1));
  });
  return out;
}

function spellings(o: OptionSpec): string[][] {
  const names = [o.name, ...o.alias];
  const out: string[][] = [];
  for (const n of names) {
    const flag = n.length === 1 ? `-${n}` : `--${n}`;
    if (o.type === 'boolean') {
      out.push([flag]);
      if (n.length > 1) out.push([`--no-${n}`], [flag, 'false']);
    } else {
      const v = sample(o);
      out.push([flag, v]);
      if (n.length > 1) out.push([`${flag}=${v}`]);
      out.push([flag, v, flag, sample(o, 1)]);
      out.push([flag]); // value missing
      out.push([flag, '-x']);
    }
  }
  return out;
}

function corpus(s: CommandSpec): string[][] {
  const w = s.words;
  const lines: string[][] = [];
  for (const word of w) {
    const req = basePositionals(s, false);
    const all = basePositionals(s, true);
    lines.push([word, ...req], [word, ...all], ['--json', word, ...req], [word, ...req, '--', 'echo', '--x']);
    lines.push([word]); // maybe missing positionals
    lines.push([word, ...all, 'extra1', 'extra2']);
    lines.push([word, ...req, '--nosuch'], [word, ...req, '-Z'], [word, ...req, '--help'], [word, ...req, '--version']);
    for (const o of s.options) for (const sp of spellings(o)) lines.push([word, ...req, ...sp], [word, ...sp, ...all]);
  }
  return lines;
}

for (const c of COMMANDS) {
  const s = specOfCommand(c);
  test(`fast parse = yargs: ${s.words.join('|')}`, async () => {
    let accepted = 0;
    for (const argv of corpus(s)) {
      const f = fast(argv);
      const y = await viaYargs(argv);
      if (f === null) continue;
      accepted++;
      assert.ok(y.ok, `fast parser accepted ${JSON.stringify(argv)} but yargs said: ${y.ok ? '' : y.error}`);
      if (y.ok) assert.equal(normal(f.args), normal(y.args), `arguments of ${JSON.stringify(argv)}`);
    }
    if (s.exact) assert.ok(accepted > 0, `the fast parser accepted no line of ${s.words[0]}`);
  });
}

test('the common command lines take the fast path', () => {
  for (const argv of [
    ['status'],
    ['status', '--json'],
    ['ls', 'paper/*', '-a'],
    ['submit', 'p/train', '--time', '10', '--mem', '1G', '--set', 'lr=0.1', '--', 'python', 'train.py', '--lr', '0.1'],
    ['show', 'p/j@2', '--json'],
    ['logs', 'p/j', '-f'],
    ['cancel', 'p/*'],
    ['project', 'add', 'paper'],
    ['sched', 'detect', '--for', 'local'],
  ]) {
    assert.ok(fast(argv), `${argv.join(' ')} goes through yargs`);
  }
});

test('help, --version with a command, mistakes and empty lines go to yargs', () => {
  for (const argv of [[], ['--help'], ['status', '--help'], ['status', '-h'], ['status', '--version'], ['status', '--tim'], ['nosuch'], ['show'], ['submit', 'p/j', '--time'], ['status', '-aa']]) {
    assert.is(fast(argv), null, argv.join(' '));
  }
});

test.run();
