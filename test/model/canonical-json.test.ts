import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalBytes, canonicalize, isCanonical } from '../../src/model/canonical-json.js';

test('keys are sorted at every depth, no whitespace, final LF', () => {
  assert.is(canonicalBytes({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }).toString(), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}\n');
});

test('undefined members are dropped; unicode is kept as UTF-8', () => {
  assert.is(canonicalize({ a: undefined, é: 'ü' }), '{"é":"ü"}');
  assert.equal([...canonicalBytes({ k: 'ü' })].slice(6, 8), [0xc3, 0xbc]);
});

test('non-finite numbers are refused', () => {
  assert.throws(() => canonicalize({ a: Infinity }), /\$\.a is not a finite number/);
});

test('isCanonical accepts only the exact encoding', () => {
  assert.ok(isCanonical(Buffer.from('{"a":1}\n')));
  assert.not.ok(isCanonical(Buffer.from('{"a": 1}\n')));
  assert.not.ok(isCanonical(Buffer.from('{"b":1,"a":2}\n')));
  assert.not.ok(isCanonical(Buffer.from('{"a":1}')));
});

test.run();
