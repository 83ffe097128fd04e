// updateRefs: many compare-and-swaps of one project under one lock and one append
// (spec/refs.md §Updating, batches).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createAllocation, type Layout } from '../../src/store/layout.js';
import { readRefs, refsPaths, updateRef, updateRefs } from '../../src/store/refs.js';
import { removeDir, tempDir } from '../helpers/cli.js';

let dir = '';
let l: Layout;
const id = (c: string) => c.repeat(64);
test.before.each(async () => {
  dir = tempDir('qdo-refs-batch-');
  l = (await createAllocation(dir)).layout;
});
test.after.each(() => removeDir(dir));

test('all entries in one append; readers see every ref moved', async () => {
  await updateRef(l, { project: 'p', name: 'a', next: id('1') });
  await updateRefs(l, 'p', [
    { name: 'a', next: id('2'), expect: id('1') },
    { name: 'b', next: id('3'), expect: null },
    { name: 'c', next: id('4') },
  ]);
  assert.equal(Object.fromEntries(await readRefs(l, 'p')), { a: id('2'), b: id('3'), c: id('4') });
  assert.is(readFileSync(refsPaths(l, 'p').journal, 'utf8').trim().split('\n').length, 4);
});

test('one expected value wrong: nothing is written, exit 4 ref-moved naming the ref', async () => {
  await updateRef(l, { project: 'p', name: 'a', next: id('1') });
  const before = readFileSync(refsPaths(l, 'p').journal, 'utf8');
  let err: unknown;
  await updateRefs(l, 'p', [
    { name: 'b', next: id('3'), expect: null },
    { name: 'a', next: id('2'), expect: id('9') },
  ]).catch((e) => (err = e));
  assert.equal([(err as { code: string }).code, (err as { exitCode: number }).exitCode], ['ref-moved', 4]);
  assert.match((err as Error).message, /^ref p\/a is at 1{64}, not at 9{64}/);
  assert.is(readFileSync(refsPaths(l, 'p').journal, 'utf8'), before);
  assert.equal(Object.fromEntries(await readRefs(l, 'p')), { a: id('1') });
});

test('a batch past the fold threshold folds the journal into the packed file', async () => {
  const many = Array.from({ length: 300 }, (_, i) => ({ name: `j${i}`, next: id('5'), expect: null }));
  await updateRefs(l, 'p', many);
  assert.is((await readRefs(l, 'p')).size, 300);
  assert.is(readFileSync(refsPaths(l, 'p').packed, 'utf8').split('\n').filter(Boolean).length, 300);
});

test.run();
