// A packed chunk's answer (spec/sweeps.md §Answer): one file per chunk, not an answer
// written into each point's record. The records stay `submitting` on disk and read as
// answered; a state the scheduler reports later is written into the record itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSubmission } from '../../src/model/submission.js';
import { answeredByChunk, type ChunkAnswer } from '../../src/model/chunk-answer.js';
import { layoutOf } from '../../src/store/layout.js';
import { submissionPath } from '../../src/store/submissions.js';
import { qdo } from '../helpers/cli.js';
import { ok, readRecord, useLocalHome } from '../helpers/jobs.js';

const h = useLocalHome(test, 'qdo-chunk-answer-');

async function heldSweep(n: number): Promise<{ points: any[]; tag: string; answer: string }> {
  const r = JSON.parse(await ok(h.opts, ['submit', 'p/j{{ i }}', '--grid', `i=${Array.from({ length: n }, (_, i) => i).join(',')}`, '--hold', '--json', '--', 'true']));
  const tag = r.points[0].array_job.tag as string;
  return { points: r.points, tag, answer: join(h.home, '.qdo', 'sweeps', tag, 'answer.json') };
}

/** Makes the submitter of the record gone (a pid no process has): recovery may then settle it. */
function submitterGone(id: string): void {
  writeFileSync(submissionPath(layoutOf(h.home), id), encodeSubmission({ ...readRecord(h.home, id), pid: 999_999_999 }));
}

async function statusJson(...args: string[]): Promise<any[]> {
  return JSON.parse(await ok(h.opts, ['status', '--json', ...args])).jobs;
}

test('a held packed sweep: one answer file, records still submitting on disk, every reader sees them held', async () => {
  const { points, tag, answer } = await heldSweep(5);
  assert.ok(points.every((p, i) => p.state === 'held' && p.sched_id === `${points[0].array_job.base}_${i}`));
  const a = JSON.parse(readFileSync(answer, 'utf8'));
  assert.equal([a.schema, a.tag, a.state, a.scheduler], ['qdo.chunk-answer/v1', tag, 'held', 'local']);
  assert.equal(a.elements, points.map((p) => p.sched_id));
  for (const p of points) {
    const raw = readRecord(h.home, p.id);
    assert.equal([raw.state, raw.sched_id, (raw.array_job as any).base], ['submitting', null, null], 'the record file itself is not rewritten');
    submitterGone(p.id);
  }
  const jobs = await statusJson();
  assert.equal(jobs.map((j) => [j.name, j.state, j.sched_id]), points.map((p, i) => [`j${i}`, 'held', p.sched_id]));
  // A status that only hears the queue confirm `held` writes nothing.
  assert.is(readRecord(h.home, points[0].id).state, 'submitting');
  // show and fsck agree: no stuck submission, although the submitter is gone.
  assert.match(await ok(h.opts, ['show', 'p/j3']), /held/);
  const f = await qdo(['fsck'], h.opts);
  assert.is(f.code, 0, f.stdout + f.stderr);
  assert.not.match(f.stdout, /stuck-submission/);
  // A change the scheduler reports is written into the record, whole.
  await ok(h.opts, ['cancel', 'p/j2']);
  assert.equal((await statusJson('p/j1', 'p/j2', '--refresh')).map((j) => j.state), ['held', 'cancelled']);
  const rec = readRecord(h.home, points[2].id);
  assert.equal([rec.state, rec.sched_id, (rec.array_job as any).base], ['cancelled', points[2].sched_id, points[0].array_job.base]);
  assert.is(readRecord(h.home, points[1].id).state, 'submitting');
});

test('a point a refresh guessed not-submitted meanwhile reads as answered: the answer proves the scheduler took it', async () => {
  const { points } = await heldSweep(2);
  const path = submissionPath(layoutOf(h.home), points[1].id);
  const raw = readRecord(h.home, points[1].id);
  writeFileSync(path, encodeSubmission({ ...raw, pid: 999_999_999, state: 'not-submitted', reason: 'the submitting qdo stopped before the scheduler took the job' }));
  const jobs = await statusJson();
  assert.equal(jobs.map((j) => [j.state, j.sched_id]), points.map((p) => ['held', p.sched_id]));
});

test('an answer file that cannot be used: its points read as submitting, recovery finds the array by its tag, fsck names the file', async () => {
  const { points, answer } = await heldSweep(3);
  writeFileSync(answer, '{"schema": "qdo.chunk-answer/v1", "tag": "not this one"}\n');
  for (const p of points) submitterGone(p.id);
  const f = await qdo(['fsck', '--json'], h.opts);
  assert.is(f.code, 1);
  const found = JSON.parse(f.stdout).findings.filter((x: any) => x.code === 'bad-chunk-answer');
  assert.equal(found.map((x: any) => [x.severity, x.subject]), [['error', answer]]);
  assert.match(found[0].detail, /field tag: expected/);
  // The submitter is gone: status looks the chunk up by its tag and records each point.
  // (Recovery records the scheduler's waiting state; the next query says held.)
  assert.equal((await statusJson('--refresh')).map((j) => j.sched_id), points.map((p) => p.sched_id));
  const jobs = await statusJson('--refresh');
  assert.equal(jobs.map((j) => [j.state, j.sched_id]), points.map((p) => ['held', p.sched_id]));
  assert.equal(points.map((p) => readRecord(h.home, p.id).sched_id), points.map((p) => p.sched_id));
  assert.ok(existsSync(answer));
});

test('answeredByChunk: only a point of that chunk, on that scheduler and cluster, without a scheduler id', () => {
  const answer: ChunkAnswer = { schema: 'qdo.chunk-answer/v1', tag: 't1', scheduler: 'slurm', cluster: 'c', base: '42', elements: ['42_0', '42_1'], submitted: '2026-01-01T00:00:00.000Z', state: 'pending' };
  const rec = { schema: 'qdo.submission/v1', id: 'a'.repeat(64), project: 'p', name: 'j', version: 1, scheduler: 'slurm', cluster: 'c', host: 'h', pid: 1, intent: '2026-01-01T00:00:00.000Z', submitted: null, sched_id: null, after: [], state: 'submitting', state_source: 'qdo', state_time: '2026-01-01T00:00:00.000Z', exit_code: null, reason: null, array_job: { base: null, index: 1, chunk: 1, tag: 't1' } } as any;
  const got = answeredByChunk(rec, answer)!;
  assert.equal([got.state, got.sched_id, got.submitted, (got.array_job as any).base, got.state_source], ['pending', '42_1', answer.submitted, '42', 'qdo']);
  assert.is(answeredByChunk({ ...rec, array_job: { ...rec.array_job, tag: 't2' } }, answer), null);
  assert.is(answeredByChunk({ ...rec, cluster: 'other' }, answer), null);
  assert.is(answeredByChunk({ ...rec, scheduler: 'pbs' }, answer), null);
  assert.is(answeredByChunk({ ...rec, array_job: { ...rec.array_job, index: 2 } }, answer), null);
  assert.is(answeredByChunk({ ...rec, sched_id: '7', state: 'running' }, answer), null);
  assert.is(answeredByChunk({ ...rec, state: 'cancelled' }, answer), null);
  assert.is(answeredByChunk({ ...rec, state: 'not-submitted' }, answer)!.sched_id, '42_1');
});

test('the chunk folder holds the answer beside the array script; nothing else is added per point', async () => {
  const { tag } = await heldSweep(3);
  assert.equal(readdirSync(join(h.home, '.qdo', 'sweeps', tag)).sort(), ['answer.json', 'array.local.sh']);
});

test.run();
