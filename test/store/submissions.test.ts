// Submission record writes (spec/submissions.md §Writes): intent created once, changes under
// the record's lock against what is on disk now, compare-and-swap refusing a stale copy, and
// no lost update among concurrent processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/cli.js';
import { createAllocation } from '../../src/store/layout.js';
import { SUBMISSION_SCHEMA, type Submission } from '../../src/model/submission.js';
import { casSubmission, changeSubmission, changeSubmissions, createSubmission, readSubmission, submissionPath } from '../../src/store/submissions.js';
import { QdoError } from '../../src/errors.js';

const ID = 'ab' + 'c'.repeat(62);
function intent(): Submission {
  const t = '2026-12-06T10:00:00.000Z';
  return {
    schema: SUBMISSION_SCHEMA, id: ID, project: 'p', name: 'j', version: 1, scheduler: 'local', cluster: 'local@h', host: 'h', pid: 1,
    intent: t, submitted: null, sched_id: null, after: [], state: 'submitting', state_source: 'qdo', state_time: t, exit_code: null, reason: null,
  };
}

test('createSubmission writes the intent once; a second create is a conflict and changes nothing', async () => {
  const root = tempDir();
  try {
    const { layout } = await createAllocation(root);
    await createSubmission(layout, intent());
    const again = await createSubmission(layout, { ...intent(), reason: 'second' }).then(() => null, (e: unknown) => e);
    assert.ok(again instanceof QdoError && again.code === 'record-exists', String(again));
    assert.is((await readSubmission(layout, ID))!.reason, null);
    // No temp file is left beside it.
    assert.equal(readdirSync(dirname(submissionPath(layout, ID))), [`${ID.slice(2)}.json`]);
  } finally {
    removeDir(root);
  }
});

test('casSubmission writes only over the copy it decided from; a stale writer leaves the newer record', async () => {
  const root = tempDir();
  try {
    const { layout } = await createAllocation(root);
    const read = intent();
    await createSubmission(layout, read);
    // The submitter records the scheduler's answer...
    const held = await changeSubmission(layout, ID, (cur) => ({ ...cur!, state: 'held', sched_id: '42', submitted: cur!.intent }));
    assert.is(held!.state, 'held');
    // ...then a refresh that read the intent earlier tries to write its guess.
    const r = await casSubmission(layout, read, { ...read, state: 'not-submitted', reason: 'guess' });
    assert.is(r.ok, false);
    assert.is(r.current!.state, 'held');
    assert.is((await readSubmission(layout, ID))!.state, 'held');
    // Against the current copy it applies.
    const r2 = await casSubmission(layout, r.current!, { ...r.current!, state: 'running' });
    assert.is(r2.ok, true);
    assert.is((await readSubmission(layout, ID))!.state, 'running');
  } finally {
    removeDir(root);
  }
});

test('changeSubmission: null leaves the record, delete removes it, no record and nothing to create takes no lock', async () => {
  const root = tempDir();
  try {
    const { layout } = await createAllocation(root);
    assert.is(await changeSubmission(layout, ID, () => null), null);
    assert.is(await changeSubmission(layout, ID, () => 'delete'), null);
    await createSubmission(layout, intent());
    assert.is((await changeSubmission(layout, ID, () => null))!.state, 'submitting');
    assert.is(await changeSubmission(layout, ID, () => 'delete'), null);
    assert.is(await readSubmission(layout, ID), null);
  } finally {
    removeDir(root);
  }
});

test('concurrent changes from 4 processes: every read-modify-write lands, none is lost', async () => {
  const root = tempDir();
  try {
    const { layout } = await createAllocation(root);
    await createSubmission(layout, intent());
    const worker = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'record-worker.js');
    const N = 25;
    const codes = await Promise.all(
      ['a', 'b', 'c', 'd'].map(
        (who) =>
          new Promise<number>((resolve) => {
            const c = spawn(process.execPath, [worker, root, ID, who, String(N)], { stdio: ['ignore', 'ignore', 'inherit'] });
            c.on('close', (code) => resolve(code ?? -1));
          }),
      ),
    );
    assert.equal(codes, [0, 0, 0, 0]);
    const marks = (await readSubmission(layout, ID))!.reason!.split(',').filter((x) => x !== '');
    assert.is(marks.length, 4 * N);
    for (const who of ['a', 'b', 'c', 'd']) {
      // Each worker's own marks appear in its order.
      assert.equal(marks.filter((m) => m.startsWith(who)), Array.from({ length: N }, (_, i) => `${who}${i}`));
    }
  } finally {
    removeDir(root);
  }
});

test('changeSubmissions: many records in batches, each decided under its lock from disk; concurrent single changes are not lost', async () => {
  const root = tempDir();
  try {
    const { layout } = await createAllocation(root);
    // 150 records over several shard folders (more than one batch), and 2 ids with none.
    const ids = Array.from({ length: 150 }, (_, i) => (i % 7).toString(16).padStart(2, '0') + i.toString(16).padStart(62, '0'));
    for (const id of ids) await createSubmission(layout, { ...intent(), id, reason: '' });
    const missing = ['ff' + '1'.repeat(62), 'fe' + '2'.repeat(62)];
    const mark = (cur: Submission | null, m: string) => (cur ? { ...cur, reason: `${cur.reason ?? ''},${m}` } : null);
    const all = [...ids, ...missing];
    const [after] = await Promise.all([
      changeSubmissions(layout, all, (id, cur) => (id === ids[3] ? null : mark(cur, 'batch'))),
      // Single writers on the same records at the same time (as a refresh would).
      Promise.all(ids.map((id) => changeSubmission(layout, id, (cur) => mark(cur, 'single')))),
    ]);
    assert.is(after.length, all.length);
    for (let i = 0; i < ids.length; i++) {
      const marks = (await readSubmission(layout, ids[i]!))!.reason!.split(',').filter((x) => x !== '');
      assert.equal(marks.sort(), i === 3 ? ['single'] : ['batch', 'single'], ids[i]);
      assert.ok(after[i]!.reason!.includes(i === 3 ? '' : 'batch'));
    }
    assert.is(after[ids.length], null);
    assert.is(await readSubmission(layout, missing[0]!), null);
    // No temp file or lock is left.
    for (const shard of new Set(ids.map((id) => dirname(submissionPath(layout, id))))) {
      assert.ok(readdirSync(shard).every((n) => /^[0-9a-f]{62}\.json$/.test(n)), readdirSync(shard).join(' '));
    }
  } finally {
    removeDir(root);
  }
});

test.run();
