// R4, input half (issue 9; README.md §Input fuzz): seeded random names, resource flags,
// templates and sweep files run through the CLI. Every answer must be an exit code of
// spec/exit-codes.md that fits the input (an independent oracle for names), never 70 and
// never a stack trace, and a refused command must leave the allocation byte for byte as it
// was. Shared by the bounded test in `npm test` and the larger `npm run reliability:fuzz`.
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, qdoProcess, type RunOptions, type RunResult } from '../helpers/cli.js';
import { fileListing } from '../helpers/jobs.js';

/** mulberry32: small, fast, and the same sequence on every machine for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Case {
  kind: 'project-name' | 'job-name' | 'flag' | 'template' | 'script' | 'sweep';
  args: string[];
  /** Exit codes this input may give (spec/exit-codes.md). */
  allowed: number[];
  /** Files to write before running (relative to the scratch folder). */
  files?: Record<string, string>;
  /** What the oracle says the answer must be, when it knows. */
  expect?: number;
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const some = <T>(r: () => number, xs: readonly T[], max: number): T[] => Array.from({ length: 1 + Math.floor(r() * max) }, () => pick(r, xs));

// ---- names, with an oracle written from spec/layout.md §Projects, not from the code ----

const NAME_PIECES = ['a', 'b7', 'run', 'v1.2', '_x', 'x-y', '.qdo', '.', '..', '.hidden', 'objects', '-x', 'resources', 'runs', '', 'ü', ' ', '+', '\t', ':', '@', '~', '%', '*', '\\', '"', "'", '$(id)', '`id`', 'A'.repeat(120), '\u2028', '\u0000'];

export function validSegment(s: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(s) && !s.startsWith('.') && !s.startsWith('-');
}

export function validProject(n: string): boolean {
  const segs = n.split('/');
  return n.length <= 200 && segs.every(validSegment) && !segs.slice(1).some((s) => s === 'resources' || s === 'runs');
}

function name(r: () => number, slashes: boolean): string {
  const parts = some(r, NAME_PIECES, 3);
  let out = '';
  for (const p of parts) out += (out && slashes && r() < 0.4 ? '/' : '') + p;
  return out;
}

// ---- resource flags ----

const FLAGS = ['time', 'mem', 'mem-per-cpu', 'cpus', 'tasks', 'nodes', 'gpus', 'array', 'partition', 'account', 'qos', 'constraint', 'job-name', 'output', 'mail-type', 'mail-user'];
const VALUES = ['0', '1', '-1', '4', '65535', '65536', '99999999999999', '1e3', '1.5', '.5', '1:99:99', '90:00', '100:59:59', '1-24', '2-12:30:00', '1--2', '5-1', '1-10:0', '1-10%0', '0-4000001', '1,3,5', '1-100%10', '', '  ', '\n', 'a\nb', '4G', '1P', '2P', '9999T', '1048577G', 'x', 'NaN', 'Infinity', '1h30m', '30m1h', '0s', '366d', '365d', 'a\u0000b', 'x'.repeat(5000), 'begin,end', 'all,never', 'none', '-5', '+3', '00:00', '1.1h'];

// ---- templates ----

const TOKENS = ['{{', '}}', '{%', '%}', '{#', '#}', ' ', 'x', 'lr', 'params', 'resources', 'job', '.', '[', ']', '(', ')', '"', "'", '\\', 'range', 'constructor', '__proto__', 'prototype', 'call', 'apply', 'bind', 'for', 'in', 'endfor', 'if', 'endif', 'set', '=', '~', '|', 'upper', 'replace', 'join', 'length', 'center', 'indent', 'macro', 'endmacro', 'include', 'import', 'extends', '"../x"', '"/etc/passwd"', '"inc.sh"', 'r/', '/', '1000000', '-1', '0', '*', '+', ',', ':', 'raw', 'endraw', 'caller', 'cycler', 'joiner', '$', '`', '&&', ';', '\n', 'ü', '\u2028', 'null', 'true', 'not', 'and', 'is', 'defined', 'default', 'repeat', 'padStart', 'split', '9999999999', '${#x}', 'a"&&Function`x```&&"'];

/** Whole templates known to be hostile: the report's, the injections, the blow-ups. */
export const HOSTILE_TEMPLATES = [
  '{{ range.constructor("return process")() }}',
  '{{ "".constructor.constructor("return process")() }}',
  '{{ cycler.constructor("return globalThis")() }}',
  '{{ params.__proto__.constructor }}',
  '{{ "\\\\\\",[(globalThis.QDO_FUZZ_PWNED=1)]),0,0)),1);//".split() }}',
  '{{ a"&&Function`globalThis\\x2eQDO_FUZZ_PWNED\\x3d1```&&" }}',
  '{% for i in range(0, 10000000) %}{{ i }}{% endfor %}',
  '{% set s = "x" %}{% for i in range(64) %}{% set s = s ~ s %}{% endfor %}{{ s }}',
  '{% set a = [1] %}{% for i in range(64) %}{% set a = [a, a] %}{% endfor %}{{ a }}',
  '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
  '{{ "x" | center(999999999999) }}',
  '{{ "x".repeat(999999999) }}',
  '{{ "a" | replace(r/(a+)+$/, "b") }}',
  '{% include "passwd-link" %}',
  '{% include "../../etc/passwd" %}',
  '{% include "/etc/passwd" %}',
  '{% extends "fifo" %}',
  '{{ lr | constructor }}',
  '{{ range }}',
  '{% raw %}',
  '{{',
  '${#arr[@]}',
];

function template(r: () => number): string {
  if (r() < 0.25) return pick(r, HOSTILE_TEMPLATES);
  return some(r, TOKENS, 14).join(r() < 0.5 ? '' : ' ');
}

// ---- sweep files ----

const GOOD_SWEEP = `defaults: &d
  command: [echo, "{{lr}}"]
  resources: {time: 1h}
jobs:
  - name: "p/train-{{lr}}-{{bs}}"
    grid: {lr: [0.1, 0.01], bs: [32, 64]}
  - name: p/eval
    command: [echo, done]
    after: ["p/train-{{lr}}-{{bs}}"]
`;

const SWEEP_SNIPPETS = [
  'x: &a [*a]\n',
  'jobs: *nope\n',
  '~: 1\n',
  '? [a]\n: 1\n',
  '['.repeat(200),
  'a: &a [l,l,l,l,l,l,l,l,l]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n',
  `  - name: "p/big-{{a}}"\n    grid: {a: [${Array.from({ length: 100 }, (_, i) => i)}], b: [${Array.from({ length: 100 }, (_, i) => i)}], c: [${Array.from({ length: 100 }, (_, i) => i)}]}\n`,
  '  - name: "p/{{lr}}"\n    grid: {lr: [".qdo", "..", "a/b"]}\n',
  '  - name: "p/x"\n    resources: {time: "1:99:99", array: "5-1"}\n',
  '  - name: "p/x"\n    script: "../../../../etc/passwd"\n',
  '  - name: "p/x{{ range.constructor(1) }}"\n',
  '\t\u0000\uffff',
  '---\n---\n',
  '&x',
  '*',
];

function sweepText(r: () => number): { file: string; text: string } {
  if (r() < 0.15) {
    const depth = Math.floor(r() * 80);
    const doc = { jobs: [{ name: 'p/j-{{i}}', grid: { i: [1, 2] }, command: ['true'], set: JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) }] };
    // Deliberately broken or deep JSON: sometimes valid, sometimes not.
    const text = r() < 0.5 ? JSON.stringify(doc) : JSON.stringify(doc).slice(0, Math.floor(r() * 60));
    return { file: 'sweep.json', text };
  }
  let t = GOOD_SWEEP;
  const n = Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (t.length + 1));
    const op = r();
    if (op < 0.4) t = t.slice(0, at) + pick(r, SWEEP_SNIPPETS) + t.slice(at);
    else if (op < 0.7) t = t.slice(0, at) + t.slice(at + 1 + Math.floor(r() * 10));
    else t = t.slice(0, at) + pick(r, TOKENS) + t.slice(at);
  }
  return { file: 'sweep.yaml', text: t };
}

/** The i-th case of the run seeded `seed` (each case draws from its own stream: reproducible alone). */
export function makeCase(seed: number, i: number): Case {
  const r = rng(seed * 1_000_003 + i);
  const k = r();
  if (k < 0.15) {
    const n = name(r, true);
    return { kind: 'project-name', args: ['project', 'add', n], allowed: [0, 2, 4], expect: validProject(n) ? undefined : 2 };
  }
  if (k < 0.3) {
    const n = name(r, false);
    return { kind: 'job-name', args: ['submit', `p/${n}`, '--dry-run', '--', 'true'], allowed: [0, 2, 3], expect: n.length <= 200 && validSegment(n) ? 0 : undefined };
  }
  if (k < 0.5) {
    const flags = some(r, FLAGS, 3).flatMap((f) => [`--${f}`, r() < 0.85 ? pick(r, VALUES) : String(Math.floor(r() * 10 ** Math.floor(r() * 18)))]);
    return { kind: 'flag', args: ['submit', 'p/j', '--dry-run', ...flags, '--', 'true'], allowed: [0, 2] };
  }
  if (k < 0.7) return { kind: 'template', args: ['submit', 'p/j', '--dry-run', '--', template(r)], allowed: [0, 2] };
  if (k < 0.82) return { kind: 'script', args: ['submit', 'p/j', '--dry-run', '--script', 'fuzz.sh'], allowed: [0, 2], files: { 'p/resources/fuzz.sh': `#!/bin/bash\n${template(r)}\n` } };
  const s = sweepText(r);
  return { kind: 'sweep', args: ['sweep', s.file, '--dry-run'], allowed: [0, 2, 3], files: { [s.file]: s.text } };
}

/** A home with project "p", its resources (an include, a symlink out, a FIFO) and a scratch folder. */
export async function fuzzHome(home: string, scratch: string): Promise<RunOptions> {
  const opts: RunOptions = { home, cwd: scratch, env: { QDO_SCHEDULER: 'local' } };
  const r = await qdo(['project', 'add', 'p'], opts);
  assert.is(r.code, 0, r.stderr);
  const res = join(home, 'p', 'resources');
  mkdirSync(res, { recursive: true });
  writeFileSync(join(res, 'inc.sh'), 'inc {{ lr | default("") }}\n');
  const { symlinkSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  symlinkSync('/etc/passwd', join(res, 'passwd-link'));
  execFileSync('mkfifo', [join(res, 'fifo')]);
  return opts;
}

export interface Outcome {
  kase: Case;
  result: RunResult;
  wrote: boolean;
}

/** Runs one case in-process and checks the invariants; returns what happened. */
function writeFiles(kase: Case, opts: RunOptions, scratch: string): void {
  for (const [rel, text] of Object.entries(kase.files ?? {})) writeFileSync(rel.startsWith('p/') ? join(opts.home, rel) : join(scratch, rel), text);
}

export async function runCase(kase: Case, opts: RunOptions, scratch: string, label: string): Promise<Outcome> {
  writeFiles(kase, opts, scratch);
  const before = fileListing(opts.home, { hashes: true, skip: ['.qdo/local', '.qdo/cache', 'p/resources'] });
  const result = await qdo(kase.args, opts);
  const after = fileListing(opts.home, { hashes: true, skip: ['.qdo/local', '.qdo/cache', 'p/resources'] });
  const wrote = before.join('\n') !== after.join('\n');
  const show = `${label} ${kase.kind} ${JSON.stringify(kase.args).slice(0, 300)} → ${result.code}\n${result.stderr.slice(0, 600)}`;
  assert.ok(result.code !== 70, `internal error: ${show}`);
  assert.ok(kase.allowed.includes(result.code), `exit code not allowed for ${kase.kind}: ${show}`);
  if (kase.expect !== undefined) assert.is(result.code, kase.expect, `the oracle expected ${kase.expect}: ${show}`);
  assert.not.match(result.stderr, /\n\s+at .*[(:]\d+/, `stack trace: ${show}`);
  assert.not.match(result.stderr, /internal error|Maximum call stack|TypeError|ReferenceError|RangeError/, `raw JavaScript error: ${show}`);
  if (result.code !== 0) {
    assert.match(result.stderr, /^qdo: \S/, `an error is one "qdo: …" line: ${show}`);
    assert.not.ok(wrote, `a refused command wrote files: ${show}\n${diff(before, after)}`);
  }
  // Dry runs and refusals write nothing; only `project add` that succeeds does.
  if (kase.kind !== 'project-name') assert.not.ok(wrote, `a dry run wrote files: ${show}\n${diff(before, after)}`);
  assert.is((globalThis as Record<string, unknown>).QDO_FUZZ_PWNED, undefined, `a template ran code: ${show}`);
  return { kase, result, wrote };
}

function diff(a: string[], b: string[]): string {
  const A = new Set(a);
  const B = new Set(b);
  return [...a.filter((x) => !B.has(x)).map((x) => `- ${x}`), ...b.filter((x) => !A.has(x)).map((x) => `+ ${x}`)].slice(0, 10).join('\n');
}

/** The same case as a real process: the same exit code, no stack. */
export function spawnCase(kase: Case, opts: RunOptions, scratch: string, expected: number, label: string): void {
  writeFiles(kase, opts, scratch);
  const r = qdoProcess(kase.args, { ...opts, env: { ...(opts.env ?? {}) } });
  const show = `${label} ${JSON.stringify(kase.args).slice(0, 200)} → ${r.code}\n${r.stderr.slice(0, 400)}`;
  assert.is(r.code, expected, `spawned: ${show}`);
  assert.not.match(r.stderr, /\n\s+at .*[(:]\d+/, `stack trace: ${show}`);
}
