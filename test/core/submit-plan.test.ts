// The plan of a submit as data (src/core/submit-plan.ts): no disk, no scheduler.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { answerFields, answerRecord, intentRecord, planSubmit, undoPlan, type SubmitStep } from '../../src/core/submit-plan.js';
import { MANIFEST_SCHEMA, type Manifest } from '../../src/model/manifest.js';

const ID = 'a'.repeat(64);
const PARENT = 'b'.repeat(64);
const manifest: Manifest = {
  schema: MANIFEST_SCHEMA, project: 'p', name: 'j', version: 2, parent: PARENT, script: 'c'.repeat(64), resources: { time: 60 },
  scheduler: 'slurm', params: {}, env: {}, prologue: null, epilogue: null, created: '2026-11-21T09:30:00.000Z',
};
const who = { host: 'h', self: { host: 'h', pid: 7, start: 'x/1/2' }, now: '2026-11-21T09:30:00.000Z' };
const input = { manifest, id: ID, cluster: 'c', deps: ['41'], objects: [Buffer.from('x')], runDir: '/a/p/runs/j/2-aaaaaaaa', submitDir: '/a/p', script: '#!/bin/bash\n', schedulerKind: 'slurm' };

test('the steps of spec/submissions.md §Submitting, in order', () => {
  const plan = planSubmit(who, input, { hold: true });
  assert.equal(plan.steps.map((s) => s.do), ['store-objects', 'record-intent', 'store-manifest', 'move-ref', 'write-script', 'submit', 'record-answer']);
  const ref = plan.steps[3] as Extract<SubmitStep, { do: 'move-ref' }>;
  assert.equal([ref.next, ref.expect], [ID, PARENT]);
  const sub = plan.steps[5] as Extract<SubmitStep, { do: 'submit' }>;
  assert.equal(sub, { do: 'submit', scriptPath: '/a/p/runs/j/2-aaaaaaaa/job.slurm.sh', cwd: '/a/p', hold: true, tag: ID });
});

test('the intent names its submitter by host, pid and start', () => {
  const r = intentRecord(who, input);
  assert.equal([r.state, r.host, r.pid, r.pid_start, r.sched_id, r.after], ['submitting', 'h', 7, 'x/1/2', null, ['41']]);
  assert.not.ok('pid_start' in intentRecord({ ...who, self: { host: 'h', pid: 7, start: null } }, input));
});

test('undo: a refusal or failure takes back run folder and ref, and marks the record never submitted; an ambiguous answer nothing', () => {
  const steps = planSubmit(who, input).steps;
  assert.equal(undoPlan(steps.slice(0, 5), 'refused').map((u) => u.do), ['remove-run-folder', 'move-ref-back', 'mark-never-submitted']);
  assert.equal(undoPlan(steps.slice(0, 3), 'failed').map((u) => u.do), ['mark-never-submitted']);
  assert.equal(undoPlan(steps.slice(0, 1), 'failed'), []);
  assert.equal(undoPlan(steps.slice(0, 5), 'ambiguous'), []);
  assert.equal(undoPlan(steps.slice(0, 4), 'failed')[0], { do: 'move-ref-back', project: 'p', name: 'j', to: PARENT, from: ID });
});

test('the answer replaces a guessed not-submitted, but not a record that already found the job', () => {
  const intent = intentRecord(who, input);
  const f = answerFields('42', '2026-11-21T09:31:00.000Z', false);
  assert.is(answerRecord(intent, intent, f)!.state, 'pending');
  assert.is(answerRecord({ ...intent, state: 'not-submitted' }, intent, f)!.sched_id, '42');
  assert.is(answerRecord({ ...intent, state: 'running', sched_id: '42' }, intent, f), null);
  assert.is(answerRecord(null, intent, f)!.sched_id, '42');
});

test.run();
