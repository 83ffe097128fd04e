// qstat -x -f -F json parser on every captured JSON document (test/fixtures/pbs/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SchedulerError } from '../../src/errors.js';
import { parseQstatJson } from '../../src/scheduler/pbs/parse-json.js';
import { findJob } from '../../src/scheduler/pbs/pbs-job.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');
const AURORA = 'aurora-pbs-0001.hostmgmt.cm.aurora.alcf.anl.gov';

test('4-job Aurora capture: header, order, states, Exit_status -29 and 0, nested Resource_List', () => {
  const d = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_aurora_2022.1.7_4jobs.json'));
  assert.is(d.pbsVersion, '2022.1.7.20241004133957');
  assert.is(d.server, AURORA);
  assert.is(d.timestamp, 1752784748);
  assert.equal(
    d.jobs.map((j) => [j.id, j.jobState, j.substate, j.exitStatus, j.holdTypes]),
    [
      [`6617175.${AURORA}`, 'F', 93, -29, 'n'],
      [`6617182.${AURORA}`, 'F', 93, -29, 'n'],
      [`6631289.${AURORA}`, 'F', 92, 0, 'n'],
      [`4905472.${AURORA}`, 'H', 20, null, 'u'],
    ],
  );
  const j = d.jobs[0]!;
  assert.is(j.name, 'aurora_plinko_mov_r2_sim5');
  // "select":40 is a number in this capture (qstat turns JSON-looking values into numbers).
  assert.is(j.attributes['Resource_List.select'], '40');
  assert.is(j.attributes['Resource_List.walltime'], '06:00:00');
  assert.is(j.walltimeLimit, 6 * 3600);
  assert.is(j.walltimeUsed, 6 * 3600 + 1 * 60 + 24);
  assert.ok(j.comment!.endsWith('and exceeded resource walltime'));
  assert.is(j.variables.PBS_O_WORKDIR, '/lus/flare/projects/TwinBlood/rw303/moving_window_sycl_opf/harvey/opf_test');
  assert.is(j.depend, `beforeany:6617182.${AURORA}@${AURORA}`);
});

test('8-job Aurora capture: Q, user and system holds, deleted-while-queued without Exit_status', () => {
  const d = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_aurora_2022.1.7_8jobs.json'));
  assert.is(d.jobs.length, 8);
  const byState = d.jobs.map((j) => `${j.jobState}${j.substate}${j.holdTypes}`);
  assert.equal(byState, ['H20s', 'H20s', 'Q10n', 'F91n', 'F91n', 'H20u', 'H20u', 'H20u']);
  const deleted = d.jobs[3]!;
  assert.is(deleted.exitStatus, null);
  assert.ok(deleted.comment!.endsWith('and terminated'));
  assert.ok(deleted.attributes['estimated.exec_vnode']!.length > 10000);
});

test('single-job slices parse to the same record as in the multi-job capture', () => {
  const multi4 = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_aurora_2022.1.7_4jobs.json')).jobs;
  const multi8 = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_aurora_2022.1.7_8jobs.json')).jobs;
  const slices: Array<[string, string, typeof multi4]> = [
    ['qstat_xf_json_job_Q_queued_aurora_2022.1.7.json', '4683812', multi8],
    ['qstat_xf_json_job_H_user_hold_aurora_2022.1.7.json', '4905472', multi4],
    ['qstat_xf_json_job_H_system_hold_too_many_attempts_aurora_2022.1.7.json', '4345644', multi8],
    ['qstat_xf_json_job_F_exit0_aurora_2022.1.7.json', '6631289', multi4],
    ['qstat_xf_json_job_F_walltime_exit-29_aurora_2022.1.7.json', '6617175', multi4],
    ['qstat_xf_json_job_F_deleted_while_queued_aurora_2022.1.7.json', '4846771', multi8],
  ];
  for (const [file, seq, multi] of slices) {
    const one = parseQstatJson(fx(`pbspro/qstat-json/${file}`));
    assert.is(one.jobs.length, 1, file);
    assert.equal(one.jobs[0], findJob(`${seq}.${AURORA}`, multi), file);
  }
});

test('OpenPBS 19 held job and MetaCentrum running job (numeric Variable_List values)', () => {
  const held = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_held_user_openpbs19.json'));
  assert.is(held.pbsVersion, '19.0.0');
  assert.equal(held.jobs.map((j) => [j.id, j.jobState, j.holdTypes, j.substate]), [['157.pbs', 'H', 'u', 20]]);
  assert.is(held.jobs[0]!.attributes['Resource_List.select'], '1:ncpus=1');

  const run = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_running_pbs19_metacentrum.json'));
  const j = run.jobs[0]!;
  assert.is(j.id, '12860476.meta-pbs.metacentrum.cz');
  assert.is(j.jobState, 'R');
  assert.is(j.substate, 41);
  assert.is(j.variables.PBS_NUM_PPN, '2');
  assert.is(j.variables.TORQUE_RESC_TOTAL_MEM, '8589934592');
  assert.is(j.attributes['Resource_List.select'], '2:ncpus=2:mem=4gb:mpiprocs=2:ompthreads=1');
});

test('re-serialized buildtest JSON still parses (whitespace is irrelevant to the parser)', () => {
  const d = parseQstatJson(fx('pbspro/qstat-json/qstat_xf_json_finished_exit0_openpbs19_RESERIALIZED.json'));
  assert.equal(d.jobs.map((j) => [j.id, j.jobState, j.substate, j.exitStatus]), [['40.pbs', 'F', 92, 0]]);
});

test('cJSON TAB layout: the issue excerpt is not JSON (elided), a completed version of it parses', () => {
  const excerpt = fx('pbspro/qstat-json/qstat_f_json_cjson_format_excerpt_openpbs_issue2672.txt');
  const body = excerpt.slice(excerpt.indexOf('{'));
  try {
    parseQstatJson(body);
    assert.unreachable('elided excerpt parsed');
  } catch (e) {
    assert.instance(e, SchedulerError);
    assert.is((e as SchedulerError).code, 'scheduler-bad-output');
  }
  // Derived input: the reporter's "... job details" line replaced by two attributes in
  // the same cJSON layout ("key":<TAB>value), keeping the TAB indentation.
  const completed = body.replace(/^\s*\.\.\. job details\n/m, '\t\t\t"job_state":\t"F",\n\t\t\t"Exit_status":\t"271",\n');
  assert.ok(completed.includes('"Exit_status":\t"271"'));
  const d = parseQstatJson(completed);
  assert.is(d.pbsVersion, 'latest');
  assert.is(d.timestamp, 1745411711);
  assert.equal(d.jobs.map((j) => [j.id, j.name, j.jobState, j.exitStatus]), [['10.ip-10-0-6-176', 'STDIN', 'F', 271]]);
});

test('Exit_status given as a string (PBS 2025+) is read as a number', () => {
  const doc = fx('pbspro/qstat-json/qstat_xf_json_job_F_walltime_exit-29_aurora_2022.1.7.json').replace('"Exit_status":-29', '"Exit_status":"-29"');
  assert.ok(doc.includes('"Exit_status":"-29"'));
  assert.is(parseQstatJson(doc).jobs[0]!.exitStatus, -29);
});

test('server down: only the header on stdout, no jobs', () => {
  const a = parseQstatJson(fx('pbspro/errors/qstat_json_server_down_openpbs22.05.11.stdout'));
  assert.equal(a, { pbsVersion: '22.05.11', server: '6cfab3a0b8ac', timestamp: 1750053827, jobs: [] });
  const b = parseQstatJson(fx('pbspro/errors/qstat_json_no_route_pbspro2025.2.0.stdout'));
  assert.equal(b, { pbsVersion: '2025.2.0.20250218043111', server: 'aqua', timestamp: 1751498039, jobs: [] });
  assert.equal(parseQstatJson(''), { pbsVersion: null, server: null, timestamp: null, jobs: [] });
});

test('not an object / broken Jobs → scheduler-bad-output', () => {
  for (const bad of ['[1,2]', '{"Jobs": 3}', 'qstat: Unknown Job Id 1.x']) {
    try {
      parseQstatJson(bad);
      assert.unreachable(bad);
    } catch (e) {
      assert.is((e as SchedulerError).code, 'scheduler-bad-output', bad);
    }
  }
});

test.run();
