// SHA-256 in WebAssembly (src/util/sha256.ts) and object ids (src/model/object-id.ts) against
// node:crypto; the committed module bytes against what wat2wasm makes of the committed text.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/cli.js';
import { sha256Hex } from '../../src/util/sha256.js';
import { SHA256_WASM } from '../../src/util/sha256-wasm.js';
import { objectId } from '../../src/model/object-id.js';
import { randomHex8 } from '../../src/util/atomic-file.js';

const native = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('FIPS 180-4 examples', () => {
  assert.is(sha256Hex(Buffer.from('')), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.is(sha256Hex(Buffer.from('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.is(sha256Hex(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
});

test('every length up to five blocks, and random inputs up to 300 KB, as node:crypto has them', () => {
  const bytes = randomBytes(320);
  for (let n = 0; n <= 320; n++) assert.is(sha256Hex(bytes.subarray(0, n)), native(bytes.subarray(0, n)), `length ${n}`);
  for (let i = 0; i < 40; i++) {
    const b = randomBytes(Math.floor(Math.random() * 300_000));
    assert.is(sha256Hex(b), native(b), `length ${b.length}`);
  }
  // The module's memory grew for the large ones; a small input after them still hashes alone.
  assert.is(sha256Hex(Buffer.from('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('object ids: the same whichever way they are made (small ones in WebAssembly, then node:crypto)', () => {
  for (let i = 0; i < 200; i++) {
    const b = randomBytes(i * 97);
    assert.is(objectId(b), native(b));
  }
});

test('the committed module is what wat2wasm makes of the committed text (scripts/gen-sha256-wasm.mjs)', async () => {
  const gen = (await import(pathToFileURL(join(REPO, 'scripts/gen-sha256-wasm.mjs')).href)) as { wat: string; assemble(text: string): Buffer };
  const text = readFileSync(join(REPO, 'src/util/sha256.wat'), 'utf8');
  assert.is(text, gen.wat, 'src/util/sha256.wat is not what the generator writes: run node scripts/gen-sha256-wasm.mjs');
  // The digests above test the bytes; this, that they are the text's (.ci/run installs wabt).
  if (spawnSync('wat2wasm', ['--version']).status !== 0) return console.log('  wat2wasm not installed: skipped (apt-get install wabt)');
  assert.is(gen.assemble(text).toString('base64'), SHA256_WASM, 'src/util/sha256-wasm.ts is not the assembled text: run node scripts/gen-sha256-wasm.mjs');
});

test('randomHex8: 8 hex digits, 3,000 of them (near) all different', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    const h = randomHex8();
    assert.match(h, /^[0-9a-f]{8}$/);
    seen.add(h);
  }
  assert.ok(seen.size > 2990, `${seen.size} distinct of 3000`);
});

test.run();
