import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, removeDir } from '../helpers/cli.js';
import { createAllocation, openAllocation, probeAllocation } from '../../src/store/layout.js';
import { findObjectsByPrefix, listObjectFiles, objectPath, readObject, removeEmptyShards, writeObject } from '../../src/store/objects.js';
import { objectId } from '../../src/model/object-id.js';
import { RepositoryError, NotFoundError } from '../../src/errors.js';
import { rejects } from '../helpers/assert.js';

let dir = '';
test.before.each(() => {
  dir = tempDir();
});
test.after.each(() => removeDir(dir));

test('create is idempotent and writes the format file', async () => {
  const a = await createAllocation(dir);
  assert.ok(a.created);
  const b = await createAllocation(dir);
  assert.not.ok(b.created);
  assert.equal(await probeAllocation(dir), { kind: 'ok', version: 1 });
  assert.equal(readdirSync(dir), ['.qdo']);
});

test('a shard folder another gc removes while the objects are listed is skipped, not an error', async () => {
  const { layout } = await createAllocation(dir);
  const ids: string[] = [];
  for (let i = 0; ids.map((x) => x.slice(0, 2)).filter((v, k, a) => a.indexOf(v) === k).length < 2; i++) ids.push(await writeObject(layout, Buffer.from(`object ${i}\n`)));
  const shards = [...new Set(ids.map((x) => x.slice(0, 2)))].sort();
  const seen: string[] = [];
  for await (const o of listObjectFiles(layout)) {
    seen.push(o.name);
    if (seen.length === 1) {
      // The first shard is being read: every later one goes away (emptied by a gc --prune, then its folder removed).
      for (const s of shards.slice(1)) rmSync(join(layout.objects, s), { recursive: true });
      await removeEmptyShards(layout.objects);
    }
  }
  assert.ok(seen.length >= 1);
  assert.ok(seen.every((n) => ids.some((x) => x.slice(0, 2) === shards[0] && x.slice(2) === n)), 'only the first shard was listed');
});

test('newer format is refused and nothing is written', async () => {
  const { layout } = await createAllocation(dir);
  chmodSync(layout.format, 0o644);
  writeFileSync(layout.format, 'qdo-format 2\n');
  await rejects(() => openAllocation(dir), (e: unknown) => e instanceof RepositoryError && e.code === 'newer-format' && /format 2/.test(e.message));
  await rejects(() => createAllocation(dir), /format 2/);
});

test('a foreign .qdo is refused', async () => {
  const { layout } = await createAllocation(dir);
  removeDir(layout.format);
  await rejects(() => openAllocation(dir), (e: unknown) => e instanceof RepositoryError && e.code === 'foreign-qdo');
});

test('write, read, verify, prefix lookup', async () => {
  const { layout } = await createAllocation(dir);
  const bytes = Buffer.from('hello\n');
  const id = await writeObject(layout, bytes);
  assert.is(id, objectId(bytes));
  assert.is(objectPath(layout, id), join(dir, '.qdo/objects', id.slice(0, 2), id.slice(2)));
  assert.is((statSync(objectPath(layout, id)).mode & 0o777).toString(8), '444');
  assert.ok((await readObject(layout, id)).equals(bytes));
  assert.equal(await findObjectsByPrefix(layout, id.slice(0, 6)), [id]);
  assert.is(await writeObject(layout, bytes), id, 'rewrite is a no-op');
  assert.equal(readdirSync(join(layout.objects, id.slice(0, 2))), [id.slice(2)], 'no temp files left');
});

test('a damaged object is detected on read', async () => {
  const { layout } = await createAllocation(dir);
  const id = await writeObject(layout, Buffer.from('x'));
  chmodSync(objectPath(layout, id), 0o644);
  writeFileSync(objectPath(layout, id), 'y');
  await rejects(() => readObject(layout, id), (e: unknown) => e instanceof RepositoryError && e.code === 'hash-mismatch' && (e.message.includes(objectPath(layout, id))));
});

test('missing object is not-found', async () => {
  const { layout } = await createAllocation(dir);
  await rejects(() => readObject(layout, 'a'.repeat(64)), (e: unknown) => e instanceof NotFoundError);
});

test.run();
