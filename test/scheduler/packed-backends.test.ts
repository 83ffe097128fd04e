// Packed arrays in each backend (spec/scheduler-*.md §Packed arrays): element ids, limits,
// and query/cancel/hold/release on element ids, with scripted runners replaying the
// commands (captured outputs where a capture exists).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SchedulerError, UsageError } from '../../src/errors.js';
import { LocalBackend } from '../../src/scheduler/local.js';
import { PbsProBackend } from '../../src/scheduler/pbs/backend-pbspro.js';
import { TorqueBackend } from '../../src/scheduler/pbs/backend-torque.js';
import { createBackend } from '../../src/scheduler/registry.js';
import { SlurmBackend } from '../../src/scheduler/slurm/backend.js';
import { slurmLimits } from '../../src/scheduler/slurm/conf.js';
import { SQUEUE_FORMAT } from '../../src/scheduler/slurm/parse.js';
import type { Backend, RenderSpec } from '../../src/scheduler/types.js';
import { rejectsScheduler } from '../helpers/assert.js';
import { fakeRunner } from './pbs-fake-runner.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const slurmFx = (p: string): string => readFileSync(join(root, 'test/fixtures/slurm', p), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'qdo-packed-backends-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const SQUEUE = (ids: string) => ['squeue', '-h', '-r', '-t', 'all', '-j', ids, '-O', SQUEUE_FORMAT];

const packed = (n: number, script = 'true\n'): RenderSpec => ({
  jobName: 'sweep',
  resources: {},
  script: '',
  runDir: '/a/arr',
  submitDir: '/a',
  env: {},
  elements: Array.from({ length: n }, (_, i) => ({ index: i, jobName: `p${i}`, runDir: `/a/runs/p${i}`, script, env: {} })),
});

function badId(b: Backend, base: string, index: number): void {
  try {
    b.elementId!(base, index);
    assert.unreachable(`${b.kind} elementId(${base}, ${index})`);
  } catch (e) {
    assert.instance(e, SchedulerError);
    assert.is((e as SchedulerError).code, 'scheduler-bad-id');
  }
}

test('Slurm: element i of 42 is 42_i; MaxArraySize and max_script_size are enforced at render', () => {
  const b = new SlurmBackend({ maxArraySize: 3, maxScriptBytes: 20_000 });
  assert.is(b.elementId('42', 3), '42_3');
  badId(b, '42_1', 0);
  badId(b, '42', -1);
  assert.is(new SlurmBackend().maxArraySize, 1000);
  assert.is(new SlurmBackend().maxScriptBytes, 4 * 1024 * 1024);
  assert.match(b.render(packed(3)), /#SBATCH --array=0-2\n/);
  try {
    b.render(packed(4));
    assert.unreachable();
  } catch (e) {
    assert.equal([(e as UsageError).code, (e as UsageError).data], ['array-too-large', { elements: 4, limit: 3 }]);
  }
  try {
    b.render(packed(2, `${'x'.repeat(20_000)}\n`));
    assert.unreachable();
  } catch (e) {
    assert.is((e as UsageError).code, 'script-too-large');
    assert.is((e as UsageError).data.elements, 2);
  }
});

test('Slurm: an element id is asked as itself (captured squeue: a held element)', async () => {
  const f = fakeRunner([{ argv: SQUEUE('43_3'), reply: { stdout: slurmFx('squeue-elements.txt') } }]);
  const s = (await new SlurmBackend({ runner: f.run }).query(['43_3'])).get('43_3')!;
  assert.equal([s.state, s.reason], ['held', 'JobHeldUser']);
});

test('registry: Slurm limits come from the slurm.conf $SLURM_CONF names', async () => {
  const conf = join(tmp, 'slurm.conf');
  writeFileSync(conf, 'ClusterName=x\nMaxArraySize=5001 # raised\nSchedulerParameters=bf_interval=1,max_script_size=8388608\n');
  const b = await createBackend('slurm', { spoolDir: '/unused', cpus: 1, env: { SLURM_CONF: conf } });
  assert.equal([b.maxArraySize, b.maxScriptBytes, b.elementId!('9', 1)], [5001, 8388608, '9_1']);
  const d = await createBackend('slurm', { spoolDir: '/unused', cpus: 1, env: { SLURM_CONF: join(tmp, 'missing.conf') } });
  assert.equal([d.maxArraySize, d.maxScriptBytes], [1000, 4 * 1024 * 1024]);
  // keys are case-insensitive; 0 means Slurm has arrays disabled; a commented line is not read
  assert.equal(slurmLimits('maxarraysize = 0\n#SchedulerParameters=max_script_size=1\n'), { maxArraySize: 0, maxScriptBytes: 4 * 1024 * 1024 });
});

test('PBS Pro: subjob ids; a one-element array is a plain job; 10000 elements; no element dependencies', () => {
  const b = new PbsProBackend();
  assert.is(b.elementId('123[].pbs01', 4), '123[4].pbs01');
  assert.is(b.elementId('123[]', 0), '123[0]');
  assert.is(b.elementId('124.pbs01', 0), '124.pbs01');
  badId(b, '124.pbs01', 1);
  badId(b, 'x', 0);
  assert.equal([b.maxArraySize, b.elementDependencies], [10_000, false]);
  assert.is(new PbsProBackend({ maxArraySize: 500 }).maxArraySize, 500);
});

test('PBS Pro: hold/release of a subjob are refused before any command; cancel and query take it', async () => {
  const f = fakeRunner([
    { argv: ['qdel', '123[4].pbs01'], reply: {} },
    // history off: the server no longer knows it; the element's own exit record answers
    { argv: ['qstat', '-x', '-f', '-F', 'json', '123[4].pbs01'], reply: { stderr: 'qstat: Unknown Job Id 123[4].pbs01\n', exitCode: 153 } },
  ]);
  const asked: string[] = [];
  const b = new PbsProBackend({
    runner: f.run,
    readExitRecord: async (id) => (asked.push(id), { id, state: 'completed', raw: 'exit 0', source: 'exit-record', exitCode: 0 }),
  });
  const e = await rejectsScheduler(b.hold(['123[4].pbs01']), 'scheduler-unsupported');
  assert.match(e.hint!, /123\[\]\.pbs01/);
  await rejectsScheduler(b.release(['9.pbs01', '123[4].pbs01']), 'scheduler-unsupported');
  assert.is(f.calls.length, 0);
  await b.cancel(['123[4].pbs01']);
  const s = (await b.query(['123[4].pbs01'])).get('123[4].pbs01')!;
  assert.equal([s.state, s.source], ['completed', 'exit-record']);
  assert.equal(asked, ['123[4].pbs01']);
  assert.is(f.left(), 0);
});

test('TORQUE: subjob ids; Slurm\'s wrapper\'s bare array id gives Slurm element ids, handled by Slurm\'s commands', async () => {
  const b0 = new TorqueBackend();
  assert.is(b0.elementId('7[].torque01.bcgsc.ca', 2), '7[2].torque01.bcgsc.ca');
  assert.is(b0.elementId('43', 3), '43_3');
  badId(b0, '43.torque01', 1);
  assert.is(b0.maxArraySize, 1000);
  const f = fakeRunner([
    { argv: SQUEUE('43_3'), reply: { stdout: slurmFx('squeue-elements.txt') } },
    { argv: ['qstat', '-f', '7[2].torque01'], reply: { stderr: 'qstat: Unknown Job Id Error 7[2].torque01\n', exitCode: 153 } },
    { argv: ['scancel', '43_3'], reply: {} },
    { argv: ['qdel', '7[2].torque01'], reply: {} },
    { argv: ['scontrol', 'hold', '43_3'], reply: {} },
    { argv: ['scontrol', 'release', '43_3'], reply: {} },
    { argv: ['qrls', '7[2].torque01'], reply: {} },
  ]);
  const b = new TorqueBackend({ runner: f.run });
  const m = await b.query(['43_3', '7[2].torque01']);
  assert.equal([...m.keys()], ['43_3', '7[2].torque01']);
  assert.equal([m.get('43_3')!.state, m.get('7[2].torque01')!.state], ['held', 'unknown']);
  await b.cancel(['43_3', '7[2].torque01']);
  await b.hold(['43_3']);
  await b.release(['7[2].torque01', '43_3']);
  assert.is(f.left(), 0);
});

test('local: element i of 7 is its array task 7_i; at most 10000', () => {
  const b = new LocalBackend({ spoolDir: join(tmp, 'spool'), cpus: 1 });
  assert.is(b.elementId('7', 3), '7_3');
  badId(b, '7_1', 0);
  assert.is(b.maxArraySize, 10_000);
});

test('plugins: elementId and limits pass through; without elementId packing is refused', async () => {
  const body = (withElements: boolean) => `export function createBackend() {
  return {
    render: (spec) => '#!/bin/bash\\n# ' + (spec.elements ? spec.elements.length : 0) + '\\n',
    submit: async () => '1', query: async () => new Map(), cancel: async () => {}, hold: async () => {}, release: async () => {},
    ${withElements ? "elementId: (base, i) => base === 'bad' ? 'has space' : base + '.' + i, maxArraySize: 50, maxScriptBytes: 1000, elementDependencies: false," : ''}
  };
}
`;
  writeFileSync(join(tmp, 'with.mjs'), body(true));
  writeFileSync(join(tmp, 'without.mjs'), body(false));
  const opts = { spoolDir: '/unused', cpus: 1, plugins: { modules: { w: join(tmp, 'with.mjs'), wo: join(tmp, 'without.mjs') }, check: async () => {} } };
  const w = await createBackend('w', opts);
  assert.equal([w.elementId!('9', 2), w.maxArraySize, w.maxScriptBytes, w.elementDependencies], ['9.2', 50, 1000, false]);
  assert.is(w.render(packed(3)), '#!/bin/bash\n# 3\n');
  try {
    w.elementId!('bad', 0);
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code: string }).code, 'bad-plugin');
  }
  const wo = await createBackend('wo', opts);
  assert.equal([wo.elementId, wo.maxArraySize], [undefined, undefined]);
  try {
    wo.render(packed(2));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, UsageError);
    assert.is((e as UsageError).code, 'packing-unsupported');
  }
});

test.run();
