import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLeafName, checkProjectName, projectFileKey, projectFromFileKey } from '../../src/model/names.js';

test('valid project names', () => {
  for (const n of ['paper', 'paper/run', 'a.b_c-d/E9', 'x/y.hidden', 'v1.2']) assert.is(checkProjectName(n), n);
});

test('invalid project names name the problem', () => {
  const cases: [string, RegExp][] = [
    ['', /an empty segment/],
    ['a//b', /an empty segment/],
    ['a/', /an empty segment/],
    ['/a', /an empty segment/],
    ['a/./b', /the segment "\."/],
    ['..', /the segment "\.\."/],
    ['-x', /a leading "-"/],
    ['.qdo', /a leading "\." in "\.qdo"/],
    ['.qdo/objects', /a leading "\."/],
    ['x/.hidden', /a leading "\."/],
    ['.QDO', /a leading "\."/],
    ['a/-x', /a leading "-"/],
    ['a b', /the character " "/],
    ['a+b', /the character "\+"/],
    ['ü', /the character "ü"/],
  ];
  for (const [n, re] of cases) assert.throws(() => checkProjectName(n), re, n);
});

test('job names are one segment', () => {
  assert.is(checkLeafName('train-lr0.1'), 'train-lr0.1');
  assert.throws(() => checkLeafName('a/b'), /may not contain "\/"/);
  for (const n of ['.qdo', '.x', '..', '.']) assert.throws(() => checkLeafName(n), /a leading "\."|the segment/, n);
});

test('refs file keys map one-to-one', () => {
  assert.is(projectFileKey('paper/run'), 'paper+run');
  assert.is(projectFromFileKey('paper+run'), 'paper/run');
});

test.run();
