// PBS Pro state normalisation (spec/scheduler-pbs.md §States): every letter, substates,
// Exit_status semantics; on captured records where they exist, on minimal records for the
// cases no public capture shows (positive non-zero and signal exits: README §Gaps).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseQstatJson } from '../../src/scheduler/pbs/parse-json.js';
import { parseQstatFull } from '../../src/scheduler/pbs/parse-text.js';
import { jobFromAttributes } from '../../src/scheduler/pbs/pbs-job.js';
import { pbsproJobState } from '../../src/scheduler/pbs/states.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');

const job = (a: Record<string, string>) => jobFromAttributes('1.s', a, {});
const st = (a: Record<string, string>) => {
  const s = pbsproJobState(job(a));
  return [s.state, s.exitCode, s.signal, s.reason, s.source];
};

test('captured JSON records', () => {
  const four = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_aurora_2022.1.7_4jobs.json')).jobs.map(pbsproJobState);
  assert.equal(
    four.map((s) => [s.state, s.raw, s.source]),
    [
      ['timeout', 'F', 'history'],
      ['timeout', 'F', 'history'],
      ['completed', 'F', 'history'],
      ['held', 'H', 'queue'],
    ],
  );
  const eight = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_aurora_2022.1.7_8jobs.json')).jobs.map(pbsproJobState);
  assert.equal(
    eight.map((s) => s.state),
    ['held', 'held', 'pending', 'cancelled', 'cancelled', 'held', 'held', 'held'],
  );
  assert.is(eight[2]!.reason, 'Not Running: Insufficient amount of resource: at_queue ');
  const fin = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_finished_exit0_openpbs19_RESERIALIZED.json')).jobs.map(pbsproJobState);
  assert.equal(fin.map((s) => [s.state, s.exitCode]), [['completed', 0]]);
  const held = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_held_user_openpbs19.json')).jobs.map(pbsproJobState);
  assert.equal(held.map((s) => [s.state, s.reason]), [['held', 'hold types: u']]);
});

test('captured text records: dependency hold (substate 22) is pending, not held', () => {
  const jobs = parseQstatFull(fx('pbspro/qstat-f-text/qstat_f_multi_Q_R_H_pbspro_epfl.txt')).map(pbsproJobState);
  assert.equal(
    jobs.map((s) => s.state),
    ['pending', 'pending', 'running', 'pending', 'running', 'pending'],
  );
  assert.is(jobs[3]!.reason, 'waiting for dependency afterok:69301.mycluster@mycluster.cluster');
  const [done] = parseQstatFull(fx('pbspro/qstat-f-text/qstat_xf_finished_exit0_palmetto.txt')).map(pbsproJobState);
  assert.equal([done!.state, done!.exitCode, done!.source], ['completed', 0, 'history']);
});

test('every state letter', () => {
  const letter = (l: string, extra: Record<string, string> = {}) => pbsproJobState(job({ job_state: l, ...extra })).state;
  assert.equal(
    ['Q', 'W', 'T', 'H', 'R', 'B', 'E', 'S', 'U', 'M', 'Z'].map((l) => letter(l)),
    ['pending', 'pending', 'pending', 'held', 'running', 'running', 'running', 'suspended', 'suspended', 'unknown', 'unknown'],
  );
  assert.is(letter('X', { Exit_status: '0' }), 'completed');
  assert.is(letter('F', { Exit_status: '0' }), 'completed');
  assert.is(pbsproJobState(job({ job_state: 'E' })).reason, 'exiting');
  assert.is(pbsproJobState(job({ job_state: 'Z' })).reason, 'unrecognised job_state "Z"');
});

test('holds: user hold is held; system hold with dependency is pending; user+system is held', () => {
  assert.equal(st({ job_state: 'H', Hold_Types: 'u', substate: '20' }).slice(0, 1), ['held']);
  assert.equal(st({ job_state: 'H', Hold_Types: 's', substate: '22', depend: 'afterok:1.s' }).slice(0, 1), ['pending']);
  assert.equal(st({ job_state: 'H', Hold_Types: 's', depend: 'afterok:1.s' }).slice(0, 1), ['pending']);
  assert.equal(st({ job_state: 'H', Hold_Types: 'us', substate: '22', depend: 'afterok:1.s' }).slice(0, 1), ['held']);
  assert.equal(st({ job_state: 'H', Hold_Types: 's', substate: '20' }).slice(0, 1), ['held']);
});

test('Exit_status: 0 ok, 1..255 failed, 256+N signal, deletion marks', () => {
  assert.equal(st({ job_state: 'F', Exit_status: '0', substate: '92' }), ['completed', 0, undefined, undefined, 'history']);
  assert.equal(st({ job_state: 'F', Exit_status: '3', substate: '93' }), ['failed', 3, undefined, undefined, 'history']);
  assert.equal(st({ job_state: 'F', Exit_status: '271', substate: '91' }), ['cancelled', null, 15, 'killed by SIGTERM', 'history']);
  assert.equal(st({ job_state: 'F', Exit_status: '265', substate: '91' }), ['cancelled', null, 9, 'killed by SIGKILL', 'history']);
  assert.equal(st({ job_state: 'F', Exit_status: '271', substate: '93' }), ['failed', null, 15, 'killed by SIGTERM', 'history']);
  assert.equal(st({ job_state: 'F', Exit_status: '267', substate: '93' }), ['failed', null, 11, 'killed by SIGSEGV', 'history']);
  assert.equal(st({ job_state: 'F', Exit_status: '1', substate: '91' }), ['cancelled', 1, undefined, 'deleted; the script exited with 1', 'history']);
  assert.equal(st({ job_state: 'F', Exit_status: '0', comment: 'Job run at x and terminated' }), ['cancelled', 0, undefined, 'Job run at x and terminated', 'history']);
});

test('older servers: a signal exit at the walltime limit, or a comment, is a timeout', () => {
  const a = { job_state: 'F', Exit_status: '271', substate: '93', 'resources_used.walltime': '00:02:32', 'Resource_List.walltime': '00:02:00' };
  assert.equal(st(a).slice(0, 3), ['timeout', null, 15]);
  assert.equal(st({ job_state: 'F', Exit_status: '265', comment: 'Job run at x and exceeded resource walltime' }).slice(0, 1), ['timeout']);
  assert.equal(st({ job_state: 'F', Exit_status: '137', comment: 'Job run at x and exceeded resource mem' }).slice(0, 2), ['out-of-memory', 137]);
});

test('negative Exit_status codes', () => {
  const n = (x: number) => st({ job_state: 'F', Exit_status: String(x), substate: '93' }).slice(0, 2);
  assert.equal(n(-29), ['timeout', null]);
  assert.equal(n(-27), ['out-of-memory', null]);
  assert.equal(n(-26), ['out-of-memory', null]);
  assert.equal(n(-31), ['out-of-memory', null]);
  assert.equal(n(-28), ['failed', null]);
  assert.equal(n(-20), ['node-fail', null]);
  assert.equal(n(-14), ['node-fail', null]);
  assert.equal(n(-11), ['failed', null]);
  assert.equal(n(-1), ['failed', null]);
  assert.equal(n(-99), ['failed', null]);
  assert.is(st({ job_state: 'F', Exit_status: '-99' })[3], 'Exit_status -99: the scheduler could not run the job');
});

test('finished without Exit_status: by substate, else unknown', () => {
  assert.equal(st({ job_state: 'F', substate: '91' }).slice(0, 1), ['cancelled']);
  assert.equal(st({ job_state: 'F', substate: '92' }).slice(0, 1), ['completed']);
  assert.equal(st({ job_state: 'F', substate: '93' }).slice(0, 1), ['failed']);
  assert.equal(st({ job_state: 'F' }).slice(0, 4), ['unknown', null, undefined, 'finished, but the scheduler reported no Exit_status']);
});

test.run();
