// Sweep identity (spec/sweeps.md §Sweep id) and the record fields sweeps add (§Records).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chunkTag, sweepFieldProblems, sweepId, type SweepDefinition } from '../../src/model/sweep.js';
import { submissionProblems } from '../../src/model/submission.js';

const def = (over: Partial<SweepDefinition['groups'][0]> = {}): SweepDefinition => ({
  groups: [
    {
      project: 'p',
      name: 'train-lr{{lr}}',
      template: { kind: 'resource', name: 'train.sh', object: 'a'.repeat(64) },
      points: [{ lr: '0.1' }, { lr: '0.01' }],
      resources: { time: 3600 },
      env: {},
      prologue: null,
      epilogue: null,
      after: [],
      after_groups: [],
      retry: null,
      notify: null,
      scheduler: 'slurm',
      ...over,
    },
  ],
});

test('the sweep id is the hash of the definition: stable, and key order does not matter', () => {
  const id = sweepId(def());
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.is(sweepId(def()), id);
  // Pinned: the id is part of every manifest a sweep makes; changing it silently would make re-runs submit everything again.
  assert.is(id, 'c40ddb15651a403b400d33bd4d7e330813fb0f58ab83cbef7931575962f056cf');
  const reordered = def({ resources: { time: 3600 }, points: [{ lr: '0.1' }, { lr: '0.01' }] });
  assert.is(sweepId(reordered), id);
});

test('anything that changes what runs changes the id; the clock is not part of it', () => {
  const id = sweepId(def());
  assert.is.not(sweepId(def({ points: [{ lr: '0.1' }] })), id);
  assert.is.not(sweepId(def({ points: [{ lr: '0.01' }, { lr: '0.1' }] })), id);
  assert.is.not(sweepId(def({ resources: { time: 7200 } })), id);
  assert.is.not(sweepId(def({ scheduler: 'pbs' })), id);
  assert.is.not(sweepId(def({ template: { kind: 'resource', name: 'train.sh', object: 'b'.repeat(64) } })), id);
  assert.is.not(sweepId(def({ env: { A: '1' } })), id);
});

test('chunk tags: sweep, chunk number and members; tag characters only', () => {
  const s = 'f'.repeat(64);
  const t = chunkTag(s, 2, ['a', 'b']);
  assert.match(t, /^f{16}\.2\.[0-9a-f]{12}$/);
  assert.is(chunkTag(s, 2, ['a', 'b']), t);
  assert.is.not(chunkTag(s, 2, ['a', 'c']), t);
  assert.is.not(chunkTag(s, 3, ['a', 'b']), t);
});

test('record fields sweep and array_job are checked when present', () => {
  assert.equal(sweepFieldProblems({}), []);
  assert.equal(sweepFieldProblems({ sweep: { id: 'a'.repeat(64), index: 0 }, array_job: { base: null, index: 3, chunk: 1, tag: 't' } }), []);
  assert.equal(sweepFieldProblems({ array_job: { base: '12', index: 0, chunk: 2, tag: 't' } }), []);
  assert.match(sweepFieldProblems({ sweep: { id: 'x', index: 0 } })[0]!, /^sweep: expected/);
  assert.match(sweepFieldProblems({ array_job: { base: '12', index: -1, chunk: 1, tag: 't' } })[0]!, /^array_job: expected/);
  const rec = {
    schema: 'qdo.submission/v1',
    id: 'c'.repeat(64),
    project: 'p',
    name: 'j',
    version: 1,
    scheduler: 'slurm',
    cluster: 'c',
    host: 'h',
    pid: 1,
    intent: '2026-11-21T09:30:00.000Z',
    submitted: null,
    sched_id: null,
    after: [],
    state: 'submitting',
    state_source: 'qdo',
    state_time: '2026-11-21T09:30:00.000Z',
    exit_code: null,
    reason: null,
  };
  assert.equal(submissionProblems(rec), []);
  assert.equal(submissionProblems({ ...rec, array_job: { base: null, index: 0, chunk: 0, tag: 't' } }).length, 1);
});

test.run();
