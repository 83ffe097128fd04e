// Packed arrays in each renderer's directives (spec/scheduler-slurm.md, scheduler-pbs.md,
// local-backend.md §Packed arrays): the array range 0..n-1, the scheduler's own output
// file in the array's folder, dependencies on elements where the scheduler has them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { parseDirectives, renderDirectives } from '../../src/scheduler/local/directives.js';
import { pbsproDirectives } from '../../src/scheduler/pbs/render-pbspro.js';
import { torqueDirectives } from '../../src/scheduler/pbs/render-torque.js';
import { slurmDirectives } from '../../src/scheduler/slurm/render.js';
import type { RenderSpec } from '../../src/scheduler/types.js';

const packed = (n: number, over: Partial<RenderSpec> = {}): RenderSpec => ({
  jobName: 'sweep',
  resources: { time: 600 },
  script: '',
  runDir: '/alloc/proj/runs/.arrays/a1',
  submitDir: '/alloc/proj',
  env: {},
  tag: 'chunk-0123',
  elements: Array.from({ length: n }, (_, i) => ({ index: i, jobName: `p${i}`, runDir: `/alloc/proj/runs/p${i}/1-aa`, script: 'true\n', env: {} })),
  ...over,
});

function refuses(f: () => unknown, code: string, msg: RegExp): void {
  try {
    f();
    assert.unreachable('expected a UsageError');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.is((e as UsageError).code, code);
    assert.match((e as UsageError).message, msg);
  }
}

test('Slurm: --array=0-(n-1), its own output per element in the array folder, the tag on the whole array', () => {
  assert.equal(slurmDirectives(packed(12)), [
    '--job-name=sweep',
    '--time=00:10:00',
    '--array=0-11',
    '--output=/alloc/proj/runs/.arrays/a1/slurm-%A_%a.out',
    '--comment=qdo:chunk-0123',
    '--chdir=/alloc/proj',
  ]);
  assert.ok(slurmDirectives(packed(1)).includes('--array=0-0'), 'Slurm takes a one-index array');
});

test('Slurm: dependencies may name elements', () => {
  const d = slurmDirectives(packed(2, { dependencies: [{ type: 'afterok', ids: ['42_3', '43'] }] }));
  assert.ok(d.includes('--dependency=afterok:42_3:43'), d.join(' '));
});

test('PBS Pro: -J 0-(n-1); a single element is a plain job (no one-index arrays)', () => {
  assert.equal(pbsproDirectives(packed(12)), [
    '-N sweep',
    '-S /bin/bash',
    '-l walltime=00:10:00',
    '-J 0-11',
    '-j oe',
    '-o /alloc/proj/runs/.arrays/a1/pbs.^array_index^.out',
    '-v QDO_TAG=qdo:chunk-0123',
  ]);
  const one = pbsproDirectives(packed(1));
  assert.ok(!one.some((d) => d.startsWith('-J')), one.join(' '));
  assert.ok(one.includes('-o /alloc/proj/runs/.arrays/a1/pbs.out'));
});

test('PBS Pro: waiting on a whole array is fine, on one subjob is refused with the array to use', () => {
  const ok = pbsproDirectives(packed(2, { dependencies: [{ type: 'afterok', ids: ['12[].srv', '13.srv'] }] }));
  assert.ok(ok.includes('-W depend=afterok:12[].srv:13.srv'), ok.join(' '));
  try {
    pbsproDirectives(packed(2, { dependencies: [{ type: 'afterany', ids: ['12[3].srv'] }] }));
    assert.unreachable();
  } catch (e) {
    assert.is((e as UsageError).code, 'bad-dependency');
    assert.match((e as UsageError).message, /PBS Pro cannot make a job wait on one subjob, found "12\[3\]\.srv"/);
    assert.match((e as UsageError).hint!, /12\[\]\.srv/);
  }
});

test('TORQUE: -t 0-(n-1) even for one element; subjob and Slurm-wrapper element dependencies', () => {
  const d = torqueDirectives(packed(3, { dependencies: [{ type: 'afterok', ids: ['7[2].torque01', '8_1'] }] }));
  assert.ok(d.includes('-t 0-2'), d.join(' '));
  assert.ok(d.includes('-W depend=afterok:7[2].torque01:8_1'), d.join(' '));
  assert.ok(d.includes('-o /alloc/proj/runs/.arrays/a1/torque.out'));
  assert.ok(torqueDirectives(packed(1)).includes('-t 0-0'));
  refuses(() => torqueDirectives(packed(1, { dependencies: [{ type: 'afterok', ids: ['8-1'] }] })), 'bad-dependency', /TORQUE job ids/);
});

test('local: array=0-(n-1) read back by parseDirectives; dependencies on array tasks', () => {
  const lines = renderDirectives(packed(4, { dependencies: [{ type: 'afterok', ids: ['7_3', '8'] }] }));
  assert.ok(lines.includes('#QDO_LOCAL array=0-3'), lines.join('\n'));
  assert.ok(lines.includes('#QDO_LOCAL depend=afterok:7_3:8'));
  const d = parseDirectives(`#!/bin/bash\n${lines.join('\n')}\n\ntrue\n`);
  assert.equal([d.array, d.depend, d.tag], ['0-3', 'afterok:7_3:8', 'chunk-0123']);
  refuses(() => renderDirectives(packed(1, { dependencies: [{ type: 'afterok', ids: ['7[3]'] }] })), 'bad-dependency', /array task like 7_3/);
  refuses(() => renderDirectives(packed(10_001)), 'bad-resource', /at most 10000 tasks/);
});

test('every renderer refuses a packed array with resources.array', () => {
  const s = packed(2, { resources: { array: '1-5' } });
  for (const f of [slurmDirectives, pbsproDirectives, torqueDirectives, renderDirectives]) refuses(() => f(s), 'bad-packed-array', /resources\.array/);
});

test.run();
