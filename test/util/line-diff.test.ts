// The line diff behind `qdo diff`: shortest edit scripts (checked against an LCS table on
// many random inputs), hunks whose numbers let the diff be applied back, GNU diff's exact
// output where the shortest diff is unique, and `patch` accepting what we print.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffLines, splitLines, unifiedDiff, type Edit } from '../../src/util/line-diff.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function lcsLength(a: string[], b: string[]): number {
  const row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let diag = 0;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = a[i - 1] === b[j - 1] ? diag + 1 : Math.max(row[j]!, row[j - 1]!);
      diag = up;
    }
  }
  return row[b.length]!;
}

function sides(edits: Edit[]): { a: string[]; b: string[] } {
  return { a: edits.filter((e) => e.op !== '+').map((e) => e.line), b: edits.filter((e) => e.op !== '-').map((e) => e.line) };
}

/** Applies a unified diff to text, trusting only the hunk headers and lines (as patch does). */
function applyUnified(text: string, diff: string): string {
  const src = splitLines(text).lines;
  const lines = diff.split('\n');
  assert.ok(lines[0]!.startsWith('--- ') && lines[1]!.startsWith('+++ '), 'headers');
  const out: string[] = [];
  let pos = 0; // next unread line of src (0-based)
  let noNl = false;
  for (let i = 2; i < lines.length; i++) {
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(lines[i]!);
    if (!h) continue;
    const aCount = h[2] === undefined ? 1 : Number(h[2]);
    const aStart = aCount === 0 ? Number(h[1]) : Number(h[1]) - 1;
    assert.ok(aStart >= pos, 'hunks in order, not overlapping');
    while (pos < aStart) out.push(src[pos++]!);
    let seenA = 0;
    for (i++; i < lines.length && !lines[i]!.startsWith('@@'); i++) {
      const l = lines[i]!;
      if (l === '' && i === lines.length - 1) break;
      if (l.startsWith('\\')) {
        if (lines[i - 1]!.startsWith('+') || lines[i - 1]!.startsWith(' ')) noNl = true;
        continue;
      }
      const op = l[0];
      const body = l.slice(1);
      if (op === ' ' || op === '-') {
        assert.is(src[pos], body, `context/removed line ${pos + 1} matches`);
        pos++;
        seenA++;
      }
      if (op === ' ' || op === '+') out.push(body);
      if (op !== ' ') noNl = false;
    }
    i--;
    assert.is(seenA, aCount, 'hunk a-count');
  }
  while (pos < src.length) out.push(src[pos++]!);
  return out.length === 0 ? '' : out.join('\n') + (noNl ? '' : '\n');
}

test('equal texts: no edits beyond keeping, and no diff', () => {
  const e = diffLines(['a', 'b'], ['a', 'b']);
  assert.equal(e.map((x) => x.op), [' ', ' ']);
  assert.is(unifiedDiff('a\nb\n', 'a\nb\n', { labelA: 'x', labelB: 'y' }), '');
});

test('edit scripts are shortest (= n + m - 2·LCS) and rebuild both sides, on 600 random pairs', () => {
  const r = rng(42);
  for (let t = 0; t < 600; t++) {
    const alphabet = 1 + Math.floor(r() * 5);
    const gen = () => Array.from({ length: Math.floor(r() * 14) }, () => String.fromCharCode(97 + Math.floor(r() * alphabet)));
    const a = gen();
    const b = r() < 0.3 ? a.slice().reverse() : gen();
    const e = diffLines(a, b);
    const s = sides(e);
    assert.equal(s.a, a, `a rebuilt for ${a.join('')} → ${b.join('')}`);
    assert.equal(s.b, b, `b rebuilt for ${a.join('')} → ${b.join('')}`);
    const changes = e.filter((x) => x.op !== ' ').length;
    assert.is(changes, a.length + b.length - 2 * lcsLength(a, b), `shortest for ${a.join('')} → ${b.join('')}`);
    for (const x of e) {
      if (x.op !== '+') assert.is(a[x.ai], x.line);
      if (x.op !== '-') assert.is(b[x.bi], x.line);
    }
  }
});

test('unified diffs apply back to the new text, on 400 random pairs (with and without final newlines)', () => {
  const r = rng(7);
  for (let t = 0; t < 400; t++) {
    const gen = () => {
      const n = Math.floor(r() * 30);
      const body = Array.from({ length: n }, () => `line ${Math.floor(r() * 6)}`).join('\n');
      return n === 0 ? '' : body + (r() < 0.8 ? '\n' : '');
    };
    const a = gen();
    const b = gen();
    const d = unifiedDiff(a, b, { labelA: 'a', labelB: 'b', context: Math.floor(r() * 4) });
    if (a === b) assert.is(d, '');
    else assert.is(applyUnified(a, d), b, `diff of ${JSON.stringify(a)} → ${JSON.stringify(b)}:\n${d}`);
  }
});

test('the same bytes as GNU diff -u where the shortest diff is unique', () => {
  const a = ['#!/bin/bash', 'set -e', 'module load python', 'cd work', 'python train.py --lr 0.1', 'echo done', 'exit 0', 'x', 'y', 'z', 'w', ''].join('\n');
  const b = ['#!/bin/bash', 'set -e', 'module load python', 'cd work', 'python train.py --lr 0.2', 'echo done', 'exit 0', 'x', 'y', 'z', 'w', 'tail', ''].join('\n');
  assert.is(
    unifiedDiff(a, b, { labelA: 'a/script', labelB: 'b/script' }),
    [
      '--- a/script',
      '+++ b/script',
      '@@ -2,10 +2,11 @@',
      ' set -e',
      ' module load python',
      ' cd work',
      '-python train.py --lr 0.1',
      '+python train.py --lr 0.2',
      ' echo done',
      ' exit 0',
      ' x',
      ' y',
      ' z',
      ' w',
      '+tail',
      '',
    ].join('\n'),
  );
});

test('changes more than six unchanged lines apart make two hunks, as GNU diff -u', () => {
  const a = Array.from({ length: 14 }, (_, i) => `${i + 1}`).join('\n') + '\n';
  const b = a.replace(/^2$/m, 'X').replace(/^12$/m, 'Y');
  assert.is(
    unifiedDiff(a, b, { labelA: 'a', labelB: 'b' }),
    ['--- a', '+++ b', '@@ -1,5 +1,5 @@', ' 1', '-2', '+X', ' 3', ' 4', ' 5', '@@ -9,6 +9,6 @@', ' 9', ' 10', ' 11', '-12', '+Y', ' 13', ' 14', ''].join('\n'),
  );
});

test('empty sides and missing final newlines are written as diff writes them', () => {
  assert.is(unifiedDiff('', 'a\nb\n', { labelA: 'x', labelB: 'y' }), '--- x\n+++ y\n@@ -0,0 +1,2 @@\n+a\n+b\n');
  assert.is(unifiedDiff('a\n', '', { labelA: 'x', labelB: 'y' }), '--- x\n+++ y\n@@ -1 +0,0 @@\n-a\n');
  assert.is(unifiedDiff('a\nb', 'a\nb\n', { labelA: 'x', labelB: 'y' }), '--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n');
  assert.is(unifiedDiff('a\n', 'a\nb', { labelA: 'x', labelB: 'y' }), '--- x\n+++ y\n@@ -1 +1,2 @@\n a\n+b\n\\ No newline at end of file\n');
});

test('a middle with more than the search limit of differences is still a correct diff', () => {
  const a = Array.from({ length: 2500 }, (_, i) => `a${i}`);
  const b = Array.from({ length: 2500 }, (_, i) => `b${i}`);
  const e = diffLines(['same', ...a, 'end'], ['same', ...b, 'end']);
  const s = sides(e);
  assert.equal(s.a, ['same', ...a, 'end']);
  assert.equal(s.b, ['same', ...b, 'end']);
});

const hasTools = spawnSync('diff', ['--version']).status === 0 && spawnSync('patch', ['--version']).status === 0;
test('GNU patch applies what we print, and GNU diff agrees on what changed', () => {
  if (!hasTools) {
    console.log('line-diff: diff/patch not installed; the cross-check was skipped');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'qdo-line-diff-'));
  try {
    const r = rng(99);
    for (let t = 0; t < 40; t++) {
      const gen = () => Array.from({ length: 5 + Math.floor(r() * 40) }, () => `echo ${Math.floor(r() * 8)}`).join('\n') + '\n';
      const a = gen();
      const b = gen();
      writeFileSync(join(dir, 'f'), a);
      writeFileSync(join(dir, 'b'), b);
      const d = unifiedDiff(a, b, { labelA: 'f', labelB: 'f' });
      const p = spawnSync('patch', ['--quiet', '--force', join(dir, 'f')], { input: d, encoding: 'utf8' });
      assert.is(p.status, 0, `patch failed: ${p.stdout}${p.stderr}\n${d}`);
      assert.is(readFileSync(join(dir, 'f'), 'utf8'), b);
      const ours = d.split('\n').filter((l) => /^[-+][^-+]/.test(l) || l === '-' || l === '+').length;
      writeFileSync(join(dir, 'f'), a);
      const gnu = spawnSync('diff', ['-u', '--minimal', join(dir, 'f'), join(dir, 'b')], { encoding: 'utf8' }).stdout;
      const theirs = gnu.split('\n').slice(2).filter((l) => /^[-+]/.test(l)).length;
      assert.is(ours, theirs, 'as many changed lines as GNU diff (both shortest)');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
