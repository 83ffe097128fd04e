// TorqueBackend with a scripted runner replaying captured TORQUE and Slurm-wrapper outputs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TorqueBackend } from '../../src/scheduler/pbs/backend-torque.js';
import type { JobState } from '../../src/scheduler/types.js';
import { fakeRunner, type Expect } from './pbs-fake-runner.js';
import { rejectsScheduler } from '../helpers/assert.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');

function backend(script: Expect[], readExitRecord?: (id: string) => Promise<JobState | null>) {
  const f = fakeRunner(script);
  return { b: new TorqueBackend({ runner: f.run, readExitRecord }), ...f };
}


test('query: one text qstat -f for all ids (ICHEC, 10 jobs)', async () => {
  const ids = ['549159', '555716', '546437', '547637'];
  const { b, calls } = backend([{ argv: ['qstat', '-f', ...ids], reply: { stdout: fx('torque/qstat_f_multi_completed_exit271_torque_ichec.txt') } }]);
  const m = await b.query(ids);
  assert.is(calls.length, 1);
  assert.equal(
    ids.map((id) => [m.get(id)!.state, m.get(id)!.raw]),
    [
      ['pending', 'H'],
      ['running', 'R'],
      ['cancelled', 'C'],
      ['pending', 'Q'],
    ],
  );
});

test('query: qsub\'s short server name matches qstat\'s full one', async () => {
  const { b } = backend([{ argv: ['qstat', '-f', '9.torque01'], reply: { stdout: fx('torque/qstat_f_completed_exit0_torque_bcgsc.txt') } }]);
  const s = (await b.query(['9.torque01'])).get('9.torque01')!;
  assert.equal([s.id, s.state, s.exitCode, s.source], ['9.torque01', 'completed', 0, 'history']);
});

test('query: "Unknown Job Id Error" (exit 153) for a purged job → exit record, else unknown', async () => {
  const stderr = 'qstat: Unknown Job Id Error 77.torque01.bcgsc.ca\n';
  const one = backend(
    [{ argv: ['qstat', '-f', '9.torque01.bcgsc.ca', '77.torque01.bcgsc.ca'], reply: { stdout: fx('torque/qstat_f_completed_exit0_torque_bcgsc.txt'), stderr, exitCode: 153 } }],
    async (id) => ({ id, state: 'completed', raw: 'exit 0', source: 'exit-record', exitCode: 0 }),
  );
  const m = await one.b.query(['9.torque01.bcgsc.ca', '77.torque01.bcgsc.ca']);
  assert.equal([m.get('9.torque01.bcgsc.ca')!.source, m.get('77.torque01.bcgsc.ca')!.source], ['history', 'exit-record']);
  const two = backend([{ argv: ['qstat', '-f', '77.torque01.bcgsc.ca'], reply: { stderr, exitCode: 153 } }]);
  const u = (await two.b.query(['77.torque01.bcgsc.ca'])).get('77.torque01.bcgsc.ca')!;
  assert.equal([u.state, u.source], ['unknown', 'none']);
  assert.ok(u.reason!.startsWith('Unknown Job Id Error 77.torque01.bcgsc.ca'), u.reason);
});

test('query through Slurm\'s wrapper: silent omissions, held as Q/Priority 0, C answered by the exit record', async () => {
  const asked: string[] = [];
  const { b } = backend(
    [
      { argv: ['qstat', '-f', '29', '30', '31', '999999'], reply: { stdout: fx('slurm-torque-wrapper/qstat_f_R_Qheld_Rarray.txt') } },
      { argv: ['qstat', '-f', '29', '30', '31', '32'], reply: { stdout: fx('slurm-torque-wrapper/qstat_f_C_after_exit3_cancel_array.txt') } },
      { argv: ['qstat', '-f', '99999999'], reply: { stdout: fx('slurm-torque-wrapper/qstat_f_unknown_id.stdout'), stderr: fx('slurm-torque-wrapper/qstat_f_unknown_id.stderr'), exitCode: 153 } },
    ],
    async (id) => {
      asked.push(id);
      return id === '29' ? { id, state: 'failed', raw: 'exit 3', source: 'exit-record', exitCode: 3 } : null;
    },
  );
  const live = await b.query(['29', '30', '31', '999999']);
  assert.equal(
    ['29', '30', '31', '999999'].map((id) => live.get(id)!.state),
    ['running', 'held', 'running', 'unknown'],
  );
  assert.equal(asked, ['999999']);
  const done = await b.query(['29', '30', '31', '32']);
  assert.equal(done.get('29'), { id: '29', state: 'failed', raw: 'exit 3', source: 'exit-record', exitCode: 3 });
  assert.equal([done.get('30')!.state, done.get('30')!.raw, done.get('30')!.source], ['unknown', 'C', 'history']);
  const none = await b.query(['99999999']);
  assert.equal([none.get('99999999')!.state, none.get('99999999')!.reason], ['unknown', 'the TORQUE server did not list it']);
});

test('submit: ids, hold, TORQUE rejections keep the MSG= text', async () => {
  const { b } = backend([
    { argv: ['qsub', '/r/j.sh'], reply: { stdout: fx('torque/qsub_success_torque_bcgsc_MOCK.stdout') } },
    { argv: ['qsub', '-h', '/r/a.sh'], reply: { stdout: fx('torque/qsub_array_success_torque_bcgsc_MOCK.stdout') } },
    { argv: ['qsub', '/r/j.sh'], reply: { stdout: fx('slurm-torque-wrapper/qsub_success.stdout') } },
    { argv: ['qsub', '/r/j.sh'], reply: { stderr: fx('torque/qsub_exceeds_queue_limits_torque.stderr'), exitCode: 190 } },
    { argv: ['qsub', '/r/j.sh'], reply: { stderr: fx('torque/qsub_acl_rejected_torque.stderr'), exitCode: 159 } },
  ]);
  assert.is(await b.submit('/r/j.sh', { cwd: '/r' }), '141.torque01.bcgsc.ca');
  assert.is(await b.submit('/r/a.sh', { cwd: '/r', hold: true }), '142[].torque01.bcgsc.ca');
  assert.is(await b.submit('/r/j.sh', { cwd: '/r' }), '49');
  const lim = await rejectsScheduler(b.submit('/r/j.sh', { cwd: '/r' }), 'scheduler-rejected');
  assert.is(lim.message, 'qsub failed (exit 190): Job exceeds queue resource limits MSG=cannot locate feasible nodes');
  const acl = await rejectsScheduler(b.submit('/r/j.sh', { cwd: '/r' }), 'scheduler-rejected');
  assert.ok(acl.message.includes('MSG=user ACL rejected the submitting user'), acl.message);
});

test('submit: the wrapper\'s sbatch failure text (stdout) is the message', async () => {
  const out = "There was an error running the Slurm sbatch command.\nThe command was:\n'/usr/bin/sbatch j.sh 2>&1'\nand the output was:\n'sbatch: error: Batch job submission failed: Invalid partition name specified\n'\n";
  const { b } = backend([{ argv: ['qsub', '/r/j.sh'], reply: { stdout: out, exitCode: 1 } }]);
  const e = await rejectsScheduler(b.submit('/r/j.sh', { cwd: '/r' }), 'scheduler-rejected');
  assert.ok(e.message.includes('Invalid partition name specified'), e.message);
});

test('cancel/hold/release through the wrapper: silent qdel failure is "already gone"; qhold errors are on stdout', async () => {
  const { b, calls } = backend([
    { argv: ['qdel', '999999'], reply: { stdout: fx('slurm-torque-wrapper/qdel_unknown_job.stdout'), exitCode: 1 } },
    { argv: ['qdel', '5'], reply: { stdout: 'qdel: Kill job error on job id 5: Access/permission denied\n', exitCode: 1 } },
    { argv: ['qhold', '999999'], reply: { stdout: fx('slurm-torque-wrapper/qhold_unknown_job.stdout'), stderr: 'Use of uninitialized value $hold in string eq at /usr/bin/qhold line 97, <DATA> line 604.\n', exitCode: 1 } },
    { argv: ['qrls', '30'], reply: {} },
  ]);
  await b.cancel(['999999']);
  const denied = await rejectsScheduler(b.cancel(['5']), 'scheduler-rejected');
  assert.ok(denied.message.includes('Access/permission denied'), denied.message);
  const e = await rejectsScheduler(b.hold(['999999']), 'scheduler-rejected');
  assert.is(e.message, 'qhold failed (exit 1): Error on job id 999999: Invalid job id specified');
  await b.release(['30']);
  assert.is(calls.length, 4);
});

test('findByTag: qstat -f of all jobs, matched on Variable_List QDO_TAG', async () => {
  // Derived input: the bcgsc record with QDO_TAG appended to its Variable_List.
  const text = fx('torque/qstat_f_completed_exit0_torque_bcgsc.txt').replace('PBS_O_SERVER=torque01.bcgsc.ca\n', 'PBS_O_SERVER=torque01.bcgsc.ca,\n\tQDO_TAG=qdo:m-42\n');
  assert.ok(text.includes('QDO_TAG=qdo:m-42'));
  const { b } = backend([
    { argv: ['qstat', '-f'], reply: { stdout: text } },
    { argv: ['qstat', '-f'], reply: { stdout: fx('slurm-torque-wrapper/qstat_f_R_Qheld_Rarray.txt') } },
  ]);
  assert.is(await b.findByTag('m-42'), '9.torque01.bcgsc.ca');
  assert.is(await b.findByTag('m-42'), null);
});

test('render is the TORQUE renderer', () => {
  const b = new TorqueBackend({ runner: fakeRunner([]).run });
  assert.ok(b.render({ jobName: 'a', resources: { cpus: 2 }, script: 'true\n', runDir: '/r', submitDir: '/s', env: {} }).includes('\n#PBS -l nodes=1:ppn=2\n'));
  assert.is(b.kind, 'torque');
});

test.run();
