// Hostile and broken sweep files (spec/sweeps.md §File format, bounds; spec/config.md
// §Limits): each fails fast with exit 2 `bad-sweep-file` or `bad-sweep`, names the file
// (and line where there is one), and leaves nothing behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSweepFile } from '../../src/core/sweep-file.js';
import { QdoError } from '../../src/errors.js';
import { qdo, removeDir, tempDir, testContext, type RunOptions } from '../helpers/cli.js';

let home = '';
let opts: RunOptions;
test.before.each(() => {
  home = tempDir('qdo-sweepbounds-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
});
test.after.each(() => removeDir(home));

async function refused(name: string, text: string | null, re: RegExp, code = 'bad-sweep-file'): Promise<number> {
  if (text !== null) writeFileSync(join(home, name), text);
  const t0 = Date.now();
  try {
    await readSweepFile(testContext(opts), name);
  } catch (e) {
    assert.ok(e instanceof QdoError, `a QdoError, not ${String(e)}`);
    assert.is(e.code, code);
    assert.is(e.exitCode, 2);
    assert.match(e.message, re);
    return Date.now() - t0;
  }
  assert.unreachable(`${name} was accepted`);
  return 0;
}

// 324 bytes: nine levels of nine aliases each, 9^9 = 387 million strings if expanded.
const LAUGHS = ['a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`)].join('\n') + '\n';

test('the nested-alias "billion laughs" fails at once', async () => {
  assert.is(Buffer.byteLength(LAUGHS), 324);
  const ms = await refused('laughs.yaml', LAUGHS, /^laughs\.yaml: its aliases expand too far/);
  assert.ok(ms < 2000, `took ${ms} ms`);
});

test('an alias inside its own anchor, or with no anchor, is a clear error with its place', async () => {
  await refused('self.yaml', 'jobs: &x [*x]\n', /^self\.yaml:1:11: alias \*x is inside its own anchor &x: a value cannot contain itself$/);
  await refused('deep.yaml', 'jobs:\n  - &g {name: p/a, command: [x], set: {y: *g}}\n', /^deep\.yaml:2:43: alias \*g is inside its own anchor/);
  await refused('none.yaml', 'jobs: *nope\n', /^none\.yaml:1:7: alias \*nope names no anchor before it$/);
});

test('anchors and aliases still work within the limit; values are kept as written', async () => {
  writeFileSync(join(home, 'ok.yaml'), 'defaults: &d {command: [echo, "{{lr}}"]}\njobs:\n  - {name: "p/a-{{lr}}", grid: {lr: [0.10, 1e-3]}, set: &s {x: 1}}\n  - {name: p/b, set: *s}\n');
  const f = await readSweepFile(testContext(opts), 'ok.yaml');
  assert.equal(f.groups[0]!.grids[0]!.values, ['0.10', '1e-3']);
  assert.equal(f.groups[1]!.set, { x: '1' });
});

test('keys must be text; a document nested too deep is refused (YAML and JSON)', async () => {
  await refused('k.yaml', '~: 1\n', /^k\.yaml:1:1: keys must be text$/);
  await refused('k2.yaml', '? [a]\n: 1\n', /^k2\.yaml:1:3: keys must be text$/);
  await refused('deep.json', '['.repeat(100_000) + ']'.repeat(100_000), /^deep\.json: nested deeper than 64 levels$/);
  await refused('deep2.json', JSON.stringify({ jobs: [{ name: 'p/a', command: ['x'], set: JSON.parse('{"a":'.repeat(70) + '1' + '}'.repeat(70)) }] }), /nested deeper than 64/);
  await refused('deep.yaml', '['.repeat(50_000), /^deep\.yaml(:\d+:\d+)?: /);
});

test('a file larger than 16 MiB, or not a regular file, is not read', async () => {
  writeFileSync(join(home, 'big.yaml'), '');
  truncateSync(join(home, 'big.yaml'), 17 * 1024 * 1024);
  await refused('big.yaml', null, /^sweep file big\.yaml: 17825792 bytes; at most 16777216/);
  mkdirSync(join(home, 'dir.yaml'));
  await refused('dir.yaml', null, /^sweep file dir\.yaml: not a regular file$/);
  execFileSync('mkfifo', [join(home, 'fifo.yaml')]);
  const ms = await refused('fifo.yaml', null, /^sweep file fifo\.yaml: not a regular file$/);
  assert.ok(ms < 2000);
});

test('a sweep past limits.sweep_points is refused before a point is made, all groups counted; the limit is configurable', async () => {
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
  const ten = Array.from({ length: 10 }, (_, i) => `--grid=k${i}=${Array.from({ length: 100 }, (_, j) => j).join(',')}`);
  const t0 = Date.now();
  const r = await qdo(['submit', 'p/x', ...ten, '--', 'true'], opts);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /^qdo: the lists give 100000000000000000000 points|^qdo: the lists give more than/);
  assert.ok(Date.now() - t0 < 5000);
  writeFileSync(join(home, '.qdo', 'config.json'), JSON.stringify({ limits: { sweep_points: 5 } }));
  writeFileSync(join(home, 's.yaml'), 'jobs:\n  - {name: "p/a{{i}}", grid: {i: [1, 2, 3]}, command: [true]}\n  - {name: "p/b{{i}}", grid: {i: [1, 2, 3]}, command: [true]}\n');
  const s = await qdo(['sweep', 's.yaml'], opts);
  assert.is(s.code, 2, s.stderr);
  assert.match(s.stderr, /^qdo: the lists give 3 points, 3 more come from the groups before them; at most 5 are allowed in one sweep\nhint: .*limits\.sweep_points/);
  assert.equal(readdirSync(join(home, 'p')), []);
  writeFileSync(join(home, '.qdo', 'config.json'), JSON.stringify({ limits: { sweep_points: 6 } }));
  const ok = await qdo(['sweep', 's.yaml', '--dry-run'], opts);
  assert.is(ok.code, 0, ok.stderr);
  writeFileSync(join(home, '.qdo', 'config.json'), JSON.stringify({ limits: { sweep_points: 0 } }));
  const bad = await qdo(['sweep', 's.yaml', '--dry-run'], opts);
  assert.is(bad.code, 7);
  assert.match(bad.stderr, /"limits\.sweep_points": expected an integer >= 1, found 0/);
});

test.run();
