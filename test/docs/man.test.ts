// The man pages in man/ must keep up with the CLI: one page per command, each naming
// itself, with the sections a reader expects, documenting exactly the options the yargs
// builder declares, and rendering without groff warnings (CI installs groff-base).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import yargs from 'yargs';
import { REPO } from '../helpers/cli.js';
import { COMMANDS } from '../../src/cli/commands.js';
import type { CommandDef } from '../../src/cli/command.js';

const MAN = join(REPO, 'man');
const PAGES = readdirSync(MAN)
  .filter((f) => /^[a-z][a-z0-9-]*\.[1-8]$/.test(f))
  .sort();

/** Options every command has through main.ts; documented once, in qdo(1). */
const GLOBAL_OPTIONS = new Set(['help', 'h', 'version', 'json']);

function read(page: string): string {
  return readFileSync(join(MAN, page), 'utf8');
}

/** Page source with roff's escaped minus turned into a plain '-', for searching. */
function plain(src: string): string {
  return src.replace(/\\-/g, '-');
}

function commandString(c: CommandDef): string {
  return Array.isArray(c.command) ? c.command[0]! : c.command;
}

function commandWord(c: CommandDef): string {
  return commandString(c).split(/\s+/)[0]!;
}

/** Positional names from a yargs command string: `<a>`, `[b]`, `<c..>`, `[d..]`. */
function positionals(c: CommandDef): Set<string> {
  return new Set([...commandString(c).matchAll(/[<[]([^\]>.]+)(?:\.\.)?[\]>]/g)].map((m) => m[1]!));
}

/** Every option name (and alias) the command's builder declares, without positionals. */
function declaredOptions(c: CommandDef): string[] {
  const y = c.builder ? c.builder(yargs([])) : yargs([]);
  // getOptions() exists on yargs instances but is missing from @types/yargs.
  const o = (y as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }).getOptions();
  const names = new Set<string>(Object.keys(o.key));
  for (const [k, as] of Object.entries(o.alias ?? {})) {
    names.add(k);
    for (const a of as) names.add(a);
  }
  const pos = positionals(c);
  return [...names].filter((n) => !pos.has(n) && !GLOBAL_OPTIONS.has(n)).sort();
}

/** The text of section `name` (from `.SH name` to the next `.SH`). */
function section(src: string, name: string): string {
  const m = new RegExp(`^\\.SH "?${name}"?\\n([\\s\\S]*?)(?=^\\.SH |(?![\\s\\S]))`, 'm').exec(src);
  return m ? m[1]! : '';
}

/** How an option is written on the command line: `--name` or `-n`. */
function flag(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

function mentions(text: string, f: string): boolean {
  const esc = f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\w-])${esc}(?![\\w-])`).test(text);
}

test('there are man pages to check', () => {
  assert.ok(PAGES.includes('qdo.1'), 'man/qdo.1 exists');
  assert.ok(PAGES.includes('qdo-layout.5'), 'man/qdo-layout.5 exists');
  assert.ok(COMMANDS.length >= 10, `expected the CLI's commands, found ${COMMANDS.length}`);
});

test('every command has man/qdo-<command>.1 and qdo(1) lists it', () => {
  const overview = plain(read('qdo.1'));
  const missing: string[] = [];
  const unlisted: string[] = [];
  for (const c of COMMANDS) {
    const word = commandWord(c);
    if (!existsSync(join(MAN, `qdo-${word}.1`))) missing.push(`man/qdo-${word}.1`);
    if (!new RegExp(`qdo-${word} \\(1\\)`).test(overview)) unlisted.push(word);
  }
  assert.equal(missing, [], 'pages missing for commands');
  assert.equal(unlisted, [], 'commands not listed in qdo.1 (as .BR qdo\\-X (1))');
});

test('no page documents a command that does not exist', () => {
  const words = new Set(COMMANDS.map(commandWord));
  const orphans = PAGES.filter((p) => p.endsWith('.1') && p !== 'qdo.1').filter((p) => !words.has(p.replace(/^qdo-/, '').replace(/\.1$/, '')));
  assert.equal(orphans, []);
});

for (const page of PAGES) {
  test(`${page}: .TH names the page; NAME, SYNOPSIS, DESCRIPTION present`, () => {
    const src = read(page);
    const [, name, sect] = /^(.*)\.([1-8])$/.exec(page)!;
    const first = src.split('\n').find((l) => !l.startsWith('.\\"'));
    const th = /^\.TH\s+(\S+)\s+(\S+)/.exec(first ?? '');
    assert.ok(th, `${page}: the first line after comments must be .TH, found ${JSON.stringify(first)}`);
    assert.is(plain(th![1]!).toLowerCase(), name, `${page}: .TH title`);
    assert.is(th![2], sect, `${page}: .TH section`);
    for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION']) {
      assert.ok(new RegExp(`^\\.SH "?${s}"?$`, 'm').test(src), `${page}: no .SH ${s}`);
    }
    // whatis(1)/apropos(1) read the NAME line: "name \- what it does".
    const nameLine = section(src, 'NAME').split('\n')[0] ?? '';
    assert.ok(nameLine.startsWith(`${name!.replace(/-/g, '\\-')} \\- `), `${page}: NAME line is ${JSON.stringify(nameLine)}`);
  });

  test(`${page}: qdo pages it refers to exist`, () => {
    const refs = [...plain(read(page)).matchAll(/\b(qdo(?:-[a-z-]+)?) \(([1-8])\)/g)].map((m) => `${m[1]}.${m[2]}`);
    const dangling = [...new Set(refs)].filter((r) => !PAGES.includes(r));
    assert.equal(dangling, [], `${page} refers to pages that do not exist`);
  });
}

for (const c of COMMANDS) {
  const word = commandWord(c);
  const page = `qdo-${word}.1`;
  test(`${page}: documents exactly the options of "qdo ${word}"`, () => {
    if (!existsSync(join(MAN, page))) assert.unreachable(`${page} is missing`);
    const src = plain(read(page));
    const declared = declaredOptions(c);
    const opts = section(src, 'OPTIONS');
    assert.ok(opts !== '', `${page}: no OPTIONS section`);
    const undocumented = declared.filter((o) => !mentions(opts, flag(o)));
    assert.equal(undocumented, [], `${page}: options declared in the code but not in OPTIONS`);
    // Option tags (.TP followed by .B/.BI/.BR line) must be real options.
    const tags = [...opts.matchAll(/^\.TP\n\.B[IR]? (-{1,2}[A-Za-z][\w-]*)/gm)].map((m) => m[1]!.replace(/^-+/, ''));
    const invented = tags.filter((t) => !declared.includes(t) && !GLOBAL_OPTIONS.has(t));
    assert.equal(invented, [], `${page}: OPTIONS lists options the code does not have`);
    for (const s of ['EXIT STATUS', 'EXAMPLES', 'SEE ALSO']) {
      assert.ok(new RegExp(`^\\.SH "?${s}"?$`, 'm').test(src), `${page}: no .SH ${s}`);
    }
  });
}

const groff = spawnSync('groff', ['--version'], { encoding: 'utf8' });
if (groff.error) {
  test('groff rendering', () => {
    console.log('man pages: groff not found, rendering was not checked (apt-get install groff-base)');
  });
} else {
  for (const page of PAGES) {
    test(`${page}: groff -man -ww renders it without warnings`, () => {
      const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', join(MAN, page)], { encoding: 'utf8' });
      assert.is(r.status, 0, `groff exit status for ${page}`);
      assert.is(r.stderr, '', `groff warnings for ${page}`);
    });
  }
}

test.run();
