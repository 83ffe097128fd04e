// The pure half of sweeps (src/core/sweep-plan.ts): decisions without disk or scheduler.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { answered, judgeChunk, type Plan } from '../../src/core/sweep-plan.js';
import { intentRecord } from '../../src/core/submit-plan.js';
import { MANIFEST_SCHEMA, type Manifest } from '../../src/model/manifest.js';

const id = (c: string) => c.repeat(64);
const plan = (name: string, parentId: string | null): Plan => ({ index: 0, group: 0, params: {}, name, parentId, existing: null, skip: false });

test('judgeChunk: ref where the plan read it → keep; moved to this sweep → done; moved elsewhere → the chunk conflicts', () => {
  const refs = new Map<string, string>([['a', id('1')], ['b', id('2')], ['c', id('3')]]);
  const sweepOf = (v: string) => (v === id('2') ? 'S' : v === id('3') ? 'T' : undefined);
  const plans = [plan('a', id('1')), plan('b', null), plan('c', null), plan('d', null)];
  const j = judgeChunk(plans, 'S', (n) => refs.get(n) ?? null, sweepOf);
  assert.equal(j.keep.map((p) => p.name), ['a', 'd']);
  assert.equal(j.done.map((p) => p.name), ['b']);
  assert.is(j.moved?.name, 'c');
  // The first point of a group planned against "no version" while another run of the sweep made one: done, not kept.
  const k = judgeChunk([plan('b', null)], 'S', (n) => refs.get(n) ?? null, sweepOf);
  assert.equal([k.keep.length, k.done.length, k.moved], [0, 1, null]);
  // A ref that vanished (deleted) is a move too.
  assert.is(judgeChunk([plan('a', id('9'))], 'S', () => null, sweepOf).moved?.name, 'a');
});

test('answered: the scheduler\'s answer replaces a guessed not-submitted, keeps a record that found the job', () => {
  const m: Manifest = { schema: MANIFEST_SCHEMA, project: 'p', name: 'j', version: 1, parent: null, script: id('c'), resources: {}, scheduler: 'slurm', params: {}, env: {}, prologue: null, epilogue: null, created: '2026-11-21T09:30:00.000Z' };
  const intent = intentRecord({ host: 'h', self: { host: 'h', pid: 1, start: null }, now: '2026-11-21T09:30:00.000Z' }, { manifest: m, id: id('a'), cluster: 'c', deps: [] });
  const f = { sched_id: '7_1', state: 'pending' as const };
  assert.is((answered(intent, f)({ ...intent, state: 'not-submitted' }) as { sched_id: string }).sched_id, '7_1');
  assert.is(answered(intent, f)({ ...intent, state: 'running', sched_id: '7_1' }), null);
});

test.run();
