// TORQUE state normalisation (spec/scheduler-pbs.md §States, TORQUE table).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseQstatFull } from '../../src/scheduler/pbs/parse-text.js';
import { jobFromAttributes } from '../../src/scheduler/pbs/pbs-job.js';
import { torqueJobState } from '../../src/scheduler/pbs/states.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');
const st = (a: Record<string, string>, wrapper = false) => {
  const s = torqueJobState(jobFromAttributes('1.s', a, {}, wrapper));
  return [s.state, s.exitCode, s.signal, s.reason];
};

test('captured records: C/0 completed; C/271 after dependency deletion is cancelled; ICHEC mix', () => {
  const [a] = parseQstatFull(fx('torque/qstat_f_completed_exit0_torque_bcgsc.txt')).map(torqueJobState);
  assert.equal([a!.state, a!.raw, a!.source, a!.exitCode], ['completed', 'C', 'history', 0]);
  const [b] = parseQstatFull(fx('torque/qstat_f_completed_exit0_torque7_e4spro.txt')).map(torqueJobState);
  assert.equal([b!.state, b!.exitCode], ['completed', 0]);
  const [c] = parseQstatFull(fx('torque/qstat_f_array_subjob_deleted_exit271_torque_bcgsc.txt')).map(torqueJobState);
  assert.equal([c!.state, c!.signal, c!.exitCode], ['cancelled', 15, null]);
  assert.is(c!.reason, 'killed by SIGTERM: Job 48[].torque01.bcgsc.ca deleted because its dependency of array 43[].torque01.bcgsc.ca can never be satisfied');
  const many = parseQstatFull(fx('torque/qstat_f_multi_completed_exit271_torque_ichec.txt')).map(torqueJobState);
  assert.equal(
    many.map((s) => s.state),
    ['pending', 'running', 'running', 'cancelled', 'pending', 'pending', 'pending', 'pending', 'pending', 'cancelled'],
  );
  assert.is(many[0]!.reason, 'waiting for dependency afterok:549158.service1.head.cb3.ichec.ie@service1.cb3.ichec.ie');
});

test('Slurm wrapper captures: held shows as Q with Priority 0; C has no exit status (unknown)', () => {
  const live = parseQstatFull(fx('slurm-torque-wrapper/qstat_f_R_Qheld_Rarray.txt')).map(torqueJobState);
  assert.equal(
    live.map((s) => [s.id, s.state, s.raw]),
    [
      ['29', 'running', 'R'],
      ['30', 'held', 'Q'],
      ['31', 'running', 'R'],
    ],
  );
  const done = parseQstatFull(fx('slurm-torque-wrapper/qstat_f_C_after_exit3_cancel_array.txt')).map(torqueJobState);
  assert.equal(
    done.map((s) => [s.state, s.source, s.reason]),
    done.map(() => ['unknown', 'history', 'finished, but the scheduler reported no exit_status']),
  );
});

test('letters', () => {
  assert.equal(
    ['Q', 'W', 'T', 'H', 'R', 'E', 'S', 'U'].map((l) => st({ job_state: l })[0]),
    ['pending', 'pending', 'pending', 'held', 'running', 'running', 'suspended', 'unknown'],
  );
  // Priority 0 means held only in the wrapper's output; real TORQUE's Priority is -p.
  assert.is(st({ job_state: 'Q', Priority: '0' })[0], 'pending');
  assert.is(st({ job_state: 'Q', Priority: '0' }, true)[0], 'held');
});

test('exit_status: codes, signals, TORQUE negatives, walltime', () => {
  assert.equal(st({ job_state: 'C', exit_status: '2' }), ['failed', 2, undefined, undefined]);
  assert.equal(st({ job_state: 'C', exit_status: '271' }).slice(0, 3), ['cancelled', null, 15]);
  assert.equal(st({ job_state: 'C', exit_status: '265' }).slice(0, 3), ['cancelled', null, 9]);
  assert.equal(st({ job_state: 'C', exit_status: '267' }).slice(0, 3), ['failed', null, 11]);
  // TORQUE's walltime kill can be SIGKILL (265): the used walltime tells it from a qdel.
  assert.equal(st({ job_state: 'C', exit_status: '265', 'resources_used.walltime': '01:00:03', 'Resource_List.walltime': '01:00:00' }).slice(0, 3), ['timeout', null, 9]);
  assert.equal(st({ job_state: 'C', exit_status: '-11' }), ['timeout', null, undefined, 'exit_status -11: killed: exceeded its walltime']);
  assert.equal(st({ job_state: 'C', exit_status: '-10' }).slice(0, 1), ['out-of-memory']);
  assert.equal(st({ job_state: 'C', exit_status: '-12' }).slice(0, 1), ['failed']);
  assert.equal(st({ job_state: 'C', exit_status: '-4' }).slice(0, 1), ['node-fail']);
  assert.equal(st({ job_state: 'C' }).slice(0, 1), ['unknown']);
});

test.run();
