// The worked examples in spec/ are checked here, so the spec cannot drift from the code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/cli.js';
import { canonicalBytes } from '../../src/model/canonical-json.js';
import { parseManifest, encodeManifest } from '../../src/model/manifest.js';
import { objectId } from '../../src/model/object-id.js';
import { parsePacked, parseJournal } from '../../src/store/refs.js';
import { checkEndedCache, endedCachePath, endedNames, readEndedCache } from '../../src/store/ended-cache.js';
import { layoutOf } from '../../src/store/layout.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { removeDir, tempDir } from '../helpers/cli.js';

const manifestMd = readFileSync(join(REPO, 'spec/manifest.md'), 'utf8');

function block(md: string, tag: string): string {
  const m = new RegExp('```\\w* ' + tag + '\\n([\\s\\S]*?)\\n```\\n(?:id `([0-9a-f]{64})`)?').exec(md);
  if (!m) throw new Error(`no block ${tag}`);
  return m[1]!;
}
function idAfter(md: string, tag: string): string {
  const m = new RegExp('```\\w* ' + tag + '\\n[\\s\\S]*?\\n```\\n(?:[^\\n]*\\n)?id `([0-9a-f]{64})`').exec(md);
  if (!m) throw new Error(`no id after ${tag}`);
  return m[1]!;
}

test('script example: bytes hash to the stated id', () => {
  const bytes = Buffer.from(JSON.parse(block(manifestMd, 'example-script')) as string);
  assert.is(objectId(bytes), idAfter(manifestMd, 'example-script'));
});

for (const tag of ['example-manifest-1', 'example-manifest-2']) {
  test(`${tag}: canonical, valid, and hashes to the stated id`, () => {
    const bytes = Buffer.from(block(manifestMd, tag) + '\n');
    assert.ok(canonicalBytes(JSON.parse(bytes.toString())).equals(bytes), 'bytes are canonical');
    const m = parseManifest(bytes, tag);
    assert.is(encodeManifest(m).id, idAfter(manifestMd, tag));
    assert.is(objectId(bytes), idAfter(manifestMd, tag));
  });
}

test('manifest 2 is the child of manifest 1', () => {
  const m2 = parseManifest(Buffer.from(block(manifestMd, 'example-manifest-2') + '\n'), 'm2');
  assert.is(m2.parent, idAfter(manifestMd, 'example-manifest-1'));
  assert.is(m2.version, 2);
  assert.ok(manifestMd.includes('objects/3f/ebda3708daf1b65f56c7bc6986b42c815d78b278c39860e745208f2cdf4136'));
});

test('objects.md canonical JSON example', () => {
  const md = readFileSync(join(REPO, 'spec/objects.md'), 'utf8');
  const bytes = canonicalBytes({ b: 1, a: [true, null] });
  assert.is(bytes.toString(), '{"a":[true,null],"b":1}\n');
  assert.ok(md.includes(objectId(bytes)), 'objects.md states the id');
});

test('refs.md journal example parses', () => {
  const md = readFileSync(join(REPO, 'spec/refs.md'), 'utf8');
  const line = md.split('\n').find((l) => l.startsWith('train 918407'))!;
  const j = parseJournal(line + '\n', 'refs.md');
  assert.equal(j.entries, [{ name: 'train', next: '918407999c81b63a8c2843ef1131ab21e8e382966a737db826ecb854156d1784', prev: '3febda3708daf1b65f56c7bc6986b42c815d78b278c39860e745208f2cdf4136' }]);
  const packed = parsePacked('train 3febda3708daf1b65f56c7bc6986b42c815d78b278c39860e745208f2cdf4136\n', 'x');
  assert.is(packed.get('train'), '3febda3708daf1b65f56c7bc6986b42c815d78b278c39860e745208f2cdf4136');
});

test('hash-object.md example', () => {
  const md = readFileSync(join(REPO, 'spec/plumbing/hash-object.md'), 'utf8');
  assert.ok(md.includes(objectId(Buffer.from('hello\n'))));
});

test('submissions.md: the ended-jobs cache example is a file the cache reads (one copy, of p/j)', () => {
  const md = readFileSync(join(REPO, 'spec/submissions.md'), 'utf8');
  const dir = tempDir();
  try {
    const l = layoutOf(dir);
    mkdirSync(l.cache, { recursive: true });
    writeFileSync(endedCachePath(l), block(md, 'example-ended-cache') + '\n');
    const c = readEndedCache(l);
    assert.equal(endedNames(c, 'p'), ['j']);
    assert.equal(checkEndedCache(l), { state: 'ok', copies: 1, skipped: 0, stale: 0, problem: null });
    assert.equal(c.folders.get('3f'), { ino: 1835011, mtimeMs: 1795254600123.4568, ctimeMs: 1795254600123.4568 });
  } finally {
    removeDir(dir);
  }
});

test.run();
