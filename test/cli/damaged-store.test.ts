// A damaged .qdo (spec/exit-codes.md: 7): a typed message naming what is wrong and the fix,
// never an internal error; one bad job hides no other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { layoutOf } from '../../src/store/layout.js';
import { objectPath } from '../../src/store/objects.js';
import { writeObject } from '../../src/store/objects.js';
import { updateRef } from '../../src/store/refs.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-damaged-');
  opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
  for (const j of ['a', 'b']) assert.is((await qdo(['submit', `p/${j}`, '--hold', '--', 'true'], opts)).code, 0);
});
test.after.each(async () => {
  await qdo(['cancel', 'p/*'], opts);
  removeDir(home);
});

test('one dangling ref: status lists the other jobs, names the bad one, exits 7', async () => {
  // A version made by plumbing (no record), whose manifest is then lost.
  const l = layoutOf(home);
  const ghost = 'c'.repeat(64);
  await updateRef(l, { project: 'p', name: 'x', next: ghost });
  const r = await qdo(['status'], opts);
  assert.is(r.code, 7, r.stderr);
  assert.match(r.stdout, /p\/a/);
  assert.match(r.stdout, /p\/b/);
  assert.match(r.stderr, /^qdo: p\/x: no object c{64}/m);
  assert.match(r.stderr, /^hint: /m);
  const j = await qdo(['status', '--json'], opts);
  assert.is(j.code, 7);
  const v = JSON.parse(j.stdout);
  assert.equal([v.jobs.length, v.problems[0].subject, v.problems[0].code], [2, 'p/x', 'no-such-object']);
  // gc --prune will not guess what the lost manifest named: exit 7, nothing removed.
  const g = await qdo(['gc', '--prune'], opts);
  assert.is(g.code, 7, g.stderr);
  assert.match(g.stderr, /nothing was pruned/);
});

test('.qdo/refs is a file: exit 7 naming it, never an internal error', async () => {
  const l = layoutOf(home);
  rmSync(l.refs, { recursive: true });
  writeFileSync(l.refs, 'not a folder\n');
  for (const args of [['status'], ['submit', 'p/c', '--hold', '--', 'true'], ['gc', '--prune']]) {
    const r = await qdo(args, opts);
    assert.is(r.code, 7, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /\.qdo\/refs/);
    assert.not.match(r.stderr, /internal error/);
  }
  const f = await qdo(['fsck'], opts);
  assert.is(f.code, 1);
  assert.match(f.stdout, /^error unreadable-file .*\/\.qdo\/refs: cannot be read: a file where the refs folder belongs$/m);
});

test('a stale lock folder with files in it is taken over; a file where a lock folder belongs is exit 7', async () => {
  const l = layoutOf(home);
  const lock = join(l.refs, 'p.refs.lock');
  mkdirSync(lock);
  writeFileSync(join(lock, 'junk'), 'x');
  const old = new Date(Date.now() - 60_000);
  utimesSync(lock, old, old);
  assert.is((await qdo(['submit', 'p/c', '--hold', '--', 'true'], opts)).code, 0);
  rmSync(lock, { recursive: true, force: true });
  writeFileSync(lock, 'x');
  const r = await qdo(['submit', 'p/d', '--hold', '--', 'true'], opts);
  assert.is(r.code, 7, r.stderr);
  assert.match(r.stderr, /p\.refs\.lock is not a lock folder/);
  rmSync(lock);
});

test('an object file replaced by garbage or a folder: a typed error', async () => {
  const l = layoutOf(home);
  const id = await writeObject(l, Buffer.from('x\n'));
  rmSync(objectPath(l, id), { force: true });
  mkdirSync(objectPath(l, id));
  const r = await qdo(['cat-object', id], opts);
  assert.is(r.code, 7, r.stderr);
  assert.not.match(r.stderr, /internal error/);
});

test.run();
