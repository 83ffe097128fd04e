// fsck's reading of every object (src/store/object-check.ts): on worker threads above
// WORKER_MIN_OBJECTS, on this thread below; both give the same answers, in path order, for
// good objects, manifests, damaged and unreadable files, temp files and strays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, removeDir } from '../helpers/cli.js';
import { createAllocation } from '../../src/store/layout.js';
import { objectPath, writeObject } from '../../src/store/objects.js';
import { checkObjectFiles, MANIFEST_MARK, WORKER_MIN_OBJECTS, type CheckedObject } from '../../src/store/object-check.js';

let dir = '';
test.before.each(() => {
  dir = tempDir();
});
test.after.each(() => removeDir(dir));

async function all(it: AsyncGenerator<CheckedObject>): Promise<CheckedObject[]> {
  const out: CheckedObject[] = [];
  for await (const o of it) out.push(o);
  return out;
}

test('workers and this thread: the same answers in the same order (good, manifest-like, damaged, unreadable, temp, stray)', async () => {
  const { layout: l } = await createAllocation(dir);
  const ids: string[] = [];
  for (let i = 0; i < WORKER_MIN_OBJECTS + 50; i++) {
    const body = i % 3 === 0 ? `{${MANIFEST_MARK},"n":${i}}\n` : `#!/bin/sh\necho ${i}\n`;
    ids.push(await writeObject(l, Buffer.from(body)));
  }
  // One larger than the read buffer (64 KB), one damaged, one unreadable, a temp file, a stray.
  ids.push(await writeObject(l, Buffer.alloc(200_000, 'x')));
  writeFileSync(objectPath(l, ids[1]!), 'changed\n');
  const locked = objectPath(l, ids[2]!);
  chmodSync(locked, 0o000);
  writeFileSync(join(l.objects, ids[3]!.slice(0, 2), '.tmp-x.tmp-0123abcd'), 'partial');
  mkdirSync(join(l.objects, 'zz'), { recursive: true });
  writeFileSync(join(l.objects, 'zz', 'stray'), 'x');
  try {
    const viaWorkers = await all(checkObjectFiles(l));
    const here = await all(checkObjectFiles(l, { workers: false }));
    assert.is(viaWorkers.length, here.length);
    assert.equal(viaWorkers, here);
    const byId = new Map(here.filter((o) => o.id !== null).map((o) => [o.id!, o.read]));
    const r0 = byId.get(ids[0]!) as { actual: string; bytes: Buffer | null };
    assert.is(r0.actual, ids[0]);
    assert.ok(r0.bytes !== null && r0.bytes.includes(MANIFEST_MARK), 'a manifest-like object comes with its bytes');
    assert.is((byId.get(ids[4]!) as { bytes: Buffer | null }).bytes, null, 'a script does not');
    assert.not.equal((byId.get(ids[1]!) as { actual: string }).actual, ids[1], 'damaged: another hash');
    assert.is((byId.get(ids.at(-1)!) as { actual: string }).actual, ids.at(-1), 'a file over 64 KB read whole');
    if (process.getuid?.() !== 0) assert.equal(byId.get(ids[2]!), { error: 'EACCES' });
    assert.ok(here.some((o) => o.name.startsWith('.tmp-') && o.read === null));
    assert.ok(here.some((o) => o.name === 'stray' && o.id === null && o.read === null));
    const paths = here.map((o) => o.path);
    assert.equal(paths, [...paths].sort(), 'in path order');
  } finally {
    chmodSync(locked, 0o644);
  }
});

test.run();
