// .qdo/cache/ended.json (store/ended-cache.ts; spec/submissions.md §Refresh): what status
// reads for ended jobs. A round trip keeps every field; a damaged, foreign or older file
// reads as empty; status uses a copy only while the ref points at it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { endedCachePath, readEndedCache, writeEndedCache } from '../../src/store/ended-cache.js';
import { layoutOf } from '../../src/store/layout.js';
import type { Submission } from '../../src/model/submission.js';
import { removeDir, tempDir, qdo } from '../helpers/cli.js';
import { ok, waitDone, readRecord } from '../helpers/jobs.js';

function rec(name: string, extra: Record<string, unknown> = {}): Submission {
  return { schema: 'qdo.submission/v1', id: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'), project: 'p/q', name, version: 3, scheduler: 'slurm', cluster: 'c', host: 'h', pid: 7, intent: '2026-11-21T09:00:00.000Z', submitted: '2026-11-21T09:00:01.000Z', sched_id: '42_1', after: ['x'], state: 'failed', state_source: 'accounting', state_time: '2026-11-21T09:10:00.000Z', exit_code: 3, reason: 'NonZeroExitCode', ...extra } as Submission;
}

test('round trip: every field, also the optional ones (sweep, array_job, collected)', async () => {
  const dir = tempDir();
  try {
    const l = layoutOf(dir);
    mkdirSync(l.dir);
    const a = rec('a');
    const b = rec('b', { sweep: { id: 'f'.repeat(64), index: 2 }, array_job: { base: '42', index: 1, chunk: 1, tag: 't' }, collected: '2026-11-22T00:00:00.000Z' });
    await writeEndedCache(l, new Map([['p/q/b', b], ['p/q/a', a]]));
    const back = readEndedCache(l);
    assert.equal([...back.keys()], ['p/q/a', 'p/q/b']);
    assert.equal(back.get('p/q/a'), a);
    assert.equal(back.get('p/q/b'), b);
    // Damaged, of another version, or holding a live state: ignored.
    for (const bad of ['{', '{"version": 1, "jobs": []}', JSON.stringify({ version: 2, jobs: [[...Object.values(rec('c', { state: 'running' })).slice(0, 18), null]] })]) {
      writeFileSync(endedCachePath(l), bad);
      assert.equal([...readEndedCache(l).keys()], [], bad.slice(0, 30));
    }
  } finally {
    removeDir(dir);
  }
});

test('status writes copies of ended jobs, uses them while the ref points there, drops them when it moves', async () => {
  const home = tempDir();
  const opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' as const };
  try {
    await ok(opts, ['project', 'add', 'p']);
    const first = JSON.parse(await ok(opts, ['submit', 'p/j', '--json', '--', 'true'])) as { id: string };
    await waitDone(opts, 'p/j');
    await ok(opts, ['status']);
    const l = layoutOf(home);
    assert.is(readEndedCache(l).get('p/j')!.id, first.id);
    // A copy that says something else than the record would show: proof status reads the copy.
    const doc = JSON.parse(readFileSync(endedCachePath(l), 'utf8')) as { jobs: unknown[][] };
    doc.jobs[0]![17] = 'from the cache';
    writeFileSync(endedCachePath(l), JSON.stringify(doc));
    assert.is(JSON.parse(await ok(opts, ['status', '--json'])).jobs[0].reason, 'from the cache');
    assert.is(readRecord(home, first.id).reason, null);
    // A new version: the copy is no longer used, and is replaced once that one has ended.
    const second = JSON.parse(await ok(opts, ['submit', 'p/j', '--json', '--', 'true'])) as { id: string };
    await waitDone(opts, 'p/j');
    const s = JSON.parse(await ok(opts, ['status', '--json'])).jobs[0];
    assert.is(s.id, second.id);
    assert.is(s.reason, null);
    assert.is(readEndedCache(l).get('p/j')!.id, second.id);
    // A name whose ref is deleted loses its copy.
    await ok(opts, ['update-ref', '-d', 'p/j']);
    await qdo(['status'], opts);
    assert.equal([...readEndedCache(l).keys()], []);
  } finally {
    removeDir(home);
  }
});

test.run();
