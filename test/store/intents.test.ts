// writeIntents (store/intents.ts): a batch of versions' objects, records and manifests,
// written in groups whose fsyncs overlap the next group's writes. Whatever happens, a record
// is reported created exactly when it is in place, no manifest is in place without its record
// and the objects it names, and no temp file is left.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir, removeDir } from '../helpers/cli.js';
import { createAllocation, type Layout } from '../../src/store/layout.js';
import { objectId } from '../../src/model/object-id.js';
import { isTempName } from '../../src/store/atomic.js';
import { objectPath } from '../../src/store/objects.js';
import { submissionPath } from '../../src/store/submissions.js';
import { writeIntents, type Intent } from '../../src/store/intents.js';
import type { Submission } from '../../src/model/submission.js';

function intents(n: number): Intent[] {
  const shared = Buffer.from('#!/bin/bash\n# the template every point shares\n');
  const out: Intent[] = [];
  for (let i = 0; i < n; i++) {
    const script = Buffer.from(`#!/bin/bash\necho ${i}\n`);
    const bytes = Buffer.from(JSON.stringify({ point: i, script: objectId(script), template: objectId(shared) }) + '\n');
    const id = objectId(bytes);
    const record = {
      schema: 'qdo.submission/v1', id, project: 'p', name: `j${i}`, version: 1, scheduler: 'local', cluster: 'local@test', host: 'testhost', pid: 1,
      intent: '2026-11-21T09:30:00.000Z', submitted: null, sched_id: null, after: [], state: 'submitting', state_source: 'qdo', state_time: '2026-11-21T09:30:00.000Z', exit_code: null, reason: null,
    } as unknown as Submission;
    out.push({ objects: [[objectId(shared), shared], [objectId(script), script]], manifest: { id, bytes }, record });
  }
  return out;
}

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name));
}

/** The batch's invariants after writeIntents returned or threw. */
function check(l: Layout, batch: Intent[], created: number[]): void {
  assert.equal(files(l.dir).filter((f) => isTempName(f.split('/').pop()!)), [], 'no temp file left');
  const made = new Set(created);
  assert.is(made.size, created.length, 'each record reported once');
  for (const [i, it] of batch.entries()) {
    const rec = existsSync(submissionPath(l, it.record.id));
    assert.is(made.has(i), rec, `point ${i}: reported created exactly when its record is in place`);
    if (existsSync(objectPath(l, it.manifest.id))) {
      assert.ok(rec, `point ${i}: its manifest is in place, so is its record`);
      for (const [oid] of it.objects) assert.ok(existsSync(objectPath(l, oid)), `point ${i}: object ${oid} its manifest names is stored`);
    }
  }
}

test('a batch of three groups and more: everything in place, each record reported once, in order', async () => {
  const dir = tempDir('qdo-intents-');
  try {
    const { layout: l } = await createAllocation(dir);
    const batch = intents(700);
    const created: number[] = [];
    await writeIntents(l, batch, (i) => void created.push(i));
    assert.equal(created, batch.map((_, i) => i));
    check(l, batch, created);
    for (const it of batch) assert.ok(existsSync(objectPath(l, it.manifest.id)));
  } finally {
    removeDir(dir);
  }
});

test('a group that cannot be written (its record folder is a file) stops the batch with nothing half-done', async () => {
  for (const failing of [0, 1, 2]) {
    const dir = tempDir('qdo-intents-');
    try {
      const { layout: l } = await createAllocation(dir);
      const batch = intents(700);
      // A record of group `failing` (256 points each) whose folder is a file: its temp file cannot be opened.
      const victim = batch[failing * 256 + 17]!.record.id;
      const folder = submissionPath(l, victim).split('/').slice(0, -1).join('/');
      rmSync(folder, { recursive: true, force: true });
      mkdirSync(dirname(folder), { recursive: true });
      writeFileSync(folder, 'not a folder\n');
      const created: number[] = [];
      await writeIntents(l, batch, (i) => void created.push(i)).then(
        () => assert.unreachable('the batch should fail'),
        (e: NodeJS.ErrnoException) => assert.ok(e.code === 'ENOTDIR' || e.code === 'EEXIST', String(e)),
      );
      check(l, batch, created);
      // Nothing of the failing group or after it is in place (the group before it is dropped too
      // when the next cannot be written while its fsyncs run).
      for (const i of created) assert.ok(i < failing * 256, `point ${i} of a group at or after the failing one was not put in place`);
    } finally {
      removeDir(dir);
    }
  }
});

test.run();
