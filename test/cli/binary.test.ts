// The built binary and the single-file bundle, run as real processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BUNDLE, qdoProcess, tempDir, removeDir } from '../helpers/cli.js';

for (const bundle of [false, true]) {
  const what = bundle ? 'bundle' : 'binary';
  test(`${what}: a short session works end to end`, () => {
    const home = tempDir();
    try {
      assert.is(qdoProcess(['project', 'add', 'demo'], { home, bundle }).code, 0);
      const h = qdoProcess(['hash-object', '-w', '--stdin'], { home, bundle, stdin: 'hello\n' });
      assert.is(h.stdout, '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n');
      assert.is(qdoProcess(['cat-object', '5891b5b5'], { home, bundle }).stdout, 'hello\n');
      const bad = qdoProcess(['project', 'add', 'a//b'], { home, bundle });
      assert.is(bad.code, 2);
      assert.is(bad.stdout, '');
      assert.match(bad.stderr, /^qdo: invalid project name/);
      assert.is(qdoProcess(['show-ref'], { home, bundle }).code, 1);
    } finally {
      removeDir(home);
    }
  });
}

test('the bundle runs with no node_modules beside it', () => {
  const dir = tempDir('qdo-bundle-');
  try {
    assert.ok(existsSync(BUNDLE));
    const copy = join(dir, 'qdo.cjs');
    copyFileSync(BUNDLE, copy);
    const home = join(dir, 'home');
    const r = qdoProcess(['project', 'add', 'x'], { home, bundle: true, cwd: dir });
    assert.is(r.code, 0, r.stderr);
    // Run the copy explicitly (qdoProcess runs BUNDLE; check the copy too).
    const c = spawnSync(process.execPath, [copy, 'project', 'list'], { cwd: dir, env: { PATH: process.env.PATH, QDO_HOME: home }, encoding: 'utf8' });
    assert.is(c.status, 0, c.stderr);
    assert.match(c.stdout, /^PROJECT\s+ALLOCATION\nx\s+/);
    assert.ok(readFileSync(copy, 'utf8').startsWith('#!/usr/bin/env node\n'));
  } finally {
    removeDir(dir);
  }
});

test.run();
