// Submit and template includes use the resource search order of src/core/resources.ts
// (spec/layout.md §Resources): a nested project runs its parent's template, includes come
// from the same roots, and PROJECT:NAME names another project's resource.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { waitDone } from '../helpers/jobs.js';

let home = '';
let scratch = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-res-home-');
  scratch = tempDir('qdo-res-scratch-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['init', scratch], opts)).code, 0);
  for (const [p, where] of [['a', home], ['a/b', scratch], ['a/b/c', scratch], ['x', scratch]] as const) {
    const r = await qdo(['project', 'add', p, '--alloc', where], opts);
    assert.is(r.code, 0, r.stderr);
  }
});
test.after.each(() => {
  removeDir(home);
  removeDir(scratch);
});

function put(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

test('submit: a nested project runs its parent template, includes come from the same roots, PROJECT:NAME across projects', async () => {
  put(join(home, 'a/resources/train.sh.njk'), '#!/bin/bash\n{% include "env.sh" %}echo {{ job.project }} lr={{ lr }}\n');
  put(join(scratch, 'resources/env.sh'), 'echo shared-env\n');
  const r = await qdo(['submit', 'a/b/c/train', '--script', 'train.sh.njk', '--set', 'lr=0.1', '--json'], opts);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const m = JSON.parse((await qdo(['cat-object', out.id], opts)).stdout);
  assert.equal(m.template.kind, 'resource');
  assert.equal(m.template.name, 'train.sh.njk');
  assert.is((await qdo(['cat-object', m.template.object], opts)).stdout, readFileSync(join(home, 'a/resources/train.sh.njk'), 'utf8'), 'the exact bytes used');
  const done = await waitDone(opts, 'a/b/c/train');
  assert.is(done.state, 'completed');
  assert.is(readFileSync(join(out.run_dir, 'stdout'), 'utf8'), 'shared-env\na/b/c lr=0.1\n');

  // Another project names it explicitly; a bare resubmit re-reads it from there.
  const x = JSON.parse((await qdo(['submit', 'x/t', '--script', 'a/b/c:train.sh.njk', '--set', 'lr=1', '--dry-run', '--json'], opts)).stdout);
  assert.match(x.script, /echo shared-env\necho x lr=1\n/, 'x sees scratch/resources/env.sh too');
  await qdo(['submit', 'x/t', '--script', 'a/b/c:train.sh.njk', '--set', 'lr=1'], opts);
  put(join(home, 'a/resources/train.sh.njk'), '#!/bin/bash\necho edited {{ lr }}\n');
  const again = JSON.parse((await qdo(['submit', 'x/t', '--dry-run', '--json'], opts)).stdout);
  assert.match(again.script, /echo edited 1\n/);
  const miss = await qdo(['submit', 'x/t', '--script', 'a:nope.sh', '--dry-run'], opts);
  assert.is(miss.code, 3);
  assert.match(miss.stderr, /no resource "nope.sh" in project a/);
  // Not a project before the colon: a file of that name.
  put(join(home, 'w/q:f.sh'), 'echo file\n');
  const file = await qdo(['submit', 'x/f', '--script', 'q:f.sh', '--dry-run'], { ...opts, cwd: join(home, 'w') });
  assert.is(file.code, 0, file.stderr);
  assert.match(file.stdout, /echo file/);
});

test('an include missing from every root names the first folder; a parent shadows the allocation', async () => {
  put(join(scratch, 'a/b/resources/t.sh'), '{% include "lib.sh" %}');
  put(join(scratch, 'resources/lib.sh'), 'echo alloc-lib\n');
  put(join(home, 'a/resources/lib.sh'), 'echo a-lib\n');
  const d = await qdo(['submit', 'a/b/c/j', '--script', 't.sh', '--dry-run'], opts);
  assert.is(d.code, 0, d.stderr);
  assert.match(d.stdout, /echo a-lib/);
  put(join(scratch, 'a/b/resources/t.sh'), '{% include "missing.sh" %}');
  const e = await qdo(['submit', 'a/b/c/j', '--script', 't.sh', '--dry-run'], opts);
  assert.is(e.code, 2);
  assert.match(e.stderr, /missing\.sh/);
});

test("a sweep in a nested project takes its parent's template too; its points match a plain submit", async () => {
  put(join(home, 'a/resources/g.sh'), '#!/bin/bash\n{% include "env.sh" %}echo {{ lr }}\n');
  put(join(scratch, 'resources/env.sh'), 'echo env\n');
  const r = await qdo(['submit', 'a/b/c/g-{{lr}}', '--script', 'g.sh', '--grid', 'lr=1,2', '--dry-run', '--json'], opts);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.total, 2);
  assert.match(out.chunks[0].script, /echo env\n/);
  const one = JSON.parse((await qdo(['submit', 'a/b/c/g-2', '--script', 'g.sh', '--set', 'lr=2', '--dry-run', '--json'], opts)).stdout);
  assert.match(one.script, /echo env\necho 2\n/);
});

test.run();
