// stderr classification on every captured error output (test/fixtures/pbs/pbspro/errors,
// torque/*.stderr, the Slurm wrapper's captures) and the kill line in job output.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyPbsStderr, pbsCommandError, type PbsErrorLine } from '../../src/scheduler/pbs/parse-errors.js';
import { parseKillMessage } from '../../src/scheduler/pbs/parse-job-output.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');

// Every *.stderr file of pbspro/errors, with what it must be classified as.
const EXPECTED: Record<string, PbsErrorLine[]> = {
  'qdel_cannot_connect_to_mom_pbspro2026.0.0.stderr': [{ kind: 'transient', message: 'Server could not connect to MOM 15382347.aqua' }],
  'qdel_job_has_finished_artemis.stderr': [{ kind: 'job-finished', message: 'Job has finished' }],
  'qstat_B_server_down_refused_openpbs_issue2070.stderr': [
    { kind: 'transient', message: 'cannot connect to server ninano-TRX40-AORUS-PRO-WIFI (errno=111) (Connection refused)' },
  ],
  // The usage text after the message is dropped.
  'qstat_conflicting_options_pbspro2022.1.1.stderr': [{ kind: 'permanent', message: 'conflicting options.' }],
  'qstat_job_has_finished_palmetto.stderr': [
    { kind: 'job-finished', id: '4256957.pbs02', message: '4256957.pbs02 Job has finished, use -x or -H to obtain historical job information' },
  ],
  'qstat_json_no_route_pbspro2025.2.0.stderr': [{ kind: 'transient', message: 'cannot connect to server aqua (errno=15010) (No route to host)' }],
  'qstat_json_server_down_openpbs22.05.11.stderr': [{ kind: 'transient', message: 'cannot connect to server 6cfab3a0b8ac (errno=15010) (Connection refused)' }],
  'qstat_premature_end_of_message_pbspro2026.0.0.stderr': [{ kind: 'transient', message: 'Premature end of message 15458627.aqua' }],
  'qstat_server_down_refused_pbspro18.2.6.stderr': [{ kind: 'transient', message: 'cannot connect to server localhost (errno=111) (Connection refused)' }],
  'qstat_server_down_refused_pbspro2022.1.7.stderr': [{ kind: 'transient', message: 'cannot connect to server localhost (errno=15010) (Connection refused)' }],
  'qstat_server_timeout_pbspro2022.1.7.stderr': [{ kind: 'transient', message: 'cannot connect to server google.com (errno=15010) (Connection timed out)' }],
  'qstat_server_unknown_host_pbspro2022.1.7.stderr': [{ kind: 'transient', message: 'cannot connect to server dummy (errno=15008) (Unknown Host.)' }],
  'qstat_unknown_job_id_artemis.stderr': [{ kind: 'unknown-job', id: '596901.pbsserver', message: 'Unknown Job Id 596901.pbsserver' }],
  'qsub_hook_reject_account_alcf.stderr': [{ kind: 'permanent', message: 'Account_Name is required to be set.' }],
  'qsub_hook_reject_filesystems_alcf.stderr': [{ kind: 'permanent', message: 'Resource: filesystems is required to be set.' }],
  'qsub_per_user_limit_alcf.stderr': [{ kind: 'permanent', message: "would exceed queue generic's per-user limit" }],
  'qsub_premature_end_of_message_pbspro.stderr': [{ kind: 'transient', message: 'Premature end of message' }],
  'qsub_rejected_by_all_destinations_alcf.stderr': [{ kind: 'permanent', message: 'Job rejected by all possible destinations' }],
  'qsub_violates_limits_alcf.stderr': [{ kind: 'permanent', message: 'Job violates queue and/or server resource limits' }],
};

test('every PBS Pro error capture is classified', () => {
  const files = readdirSync(join(root, 'test/fixtures/pbs/pbspro/errors')).filter((f) => f.endsWith('.stderr'));
  assert.equal(files.sort(), Object.keys(EXPECTED).sort());
  for (const f of files) assert.equal(classifyPbsStderr(fx(`pbspro/errors/${f}`)), EXPECTED[f], f);
});

test('TORQUE captures: limits and ACL rejections are permanent, with the server\'s message', () => {
  assert.equal(classifyPbsStderr(fx('torque/qsub_exceeds_queue_limits_torque.stderr')), [
    { kind: 'permanent', message: 'Job exceeds queue resource limits MSG=cannot locate feasible nodes' },
  ]);
  assert.equal(classifyPbsStderr(fx('torque/qsub_acl_rejected_torque.stderr')), [
    { kind: 'permanent', message: 'Unauthorized Request  MSG=user ACL rejected the submitting user: user amessina@argo.ictp.it, queue cm1' },
  ]);
  // TORQUE's form, as quoted by SARA's LSG documentation and several job managers.
  assert.equal(classifyPbsStderr('qstat: Unknown Job Id Error 6401.gb-ui-kun.els.sara.nl\n'), [
    { kind: 'unknown-job', id: '6401.gb-ui-kun.els.sara.nl', message: 'Unknown Job Id Error 6401.gb-ui-kun.els.sara.nl' },
  ]);
  assert.equal(classifyPbsStderr('qstat: Unknown Job Id Error\n'), [{ kind: 'unknown-job', message: 'Unknown Job Id Error' }]);
});

test('interactive qsub chatter: the warning is a warning, the rest is not an error kind that hides', () => {
  const lines = classifyPbsStderr(fx('pbspro/qsub/qsub_interactive_palmetto.stderr'));
  assert.equal(lines[0], { kind: 'warning', message: 'Interactive jobs will be treated as not rerunnable' });
  assert.is(lines.length, 3);
});

test('Slurm wrapper: Perl warnings are ignored, the qhold error is permanent', () => {
  const w = 'Use of uninitialized value $hold in string eq at /usr/bin/qhold line 97, <DATA> line 604.\n';
  assert.equal(classifyPbsStderr(w + w), []);
  assert.equal(classifyPbsStderr(fx('slurm-torque-wrapper/qhold_unknown_job.stdout')), [
    { kind: 'permanent', message: 'Error on job id 999999: Invalid job id specified' },
  ]);
  assert.equal(classifyPbsStderr(fx('slurm-torque-wrapper/qdel_unknown_job.stdout')), []);
});

test('pbsCommandError: transient → scheduler-unavailable, else scheduler-rejected with the message', () => {
  const down = pbsCommandError(['qstat', '-x'], { stdout: '', stderr: fx('pbspro/errors/qstat_server_down_refused_pbspro2022.1.7.stderr'), exitCode: 255 }, 'pbspro');
  assert.is(down.code, 'scheduler-unavailable');
  assert.is(down.exitCode, 6);
  assert.is(down.data.transient, true);
  assert.ok(down.message.includes('cannot connect to server localhost'), down.message);
  const lim = pbsCommandError(['qsub', 'job.sh'], { stdout: '', stderr: fx('pbspro/errors/qsub_violates_limits_alcf.stderr'), exitCode: 188 }, 'pbspro');
  assert.is(lim.code, 'scheduler-rejected');
  assert.is(lim.message, 'qsub failed (exit 188): Job violates queue and/or server resource limits');
  assert.is(lim.data.transient, false);
});

test('kill line in job output', () => {
  assert.equal(parseKillMessage(fx('pbspro/job-output/walltime_kill_message_pbspro2026.0.0.txt')), { resource: 'walltime', used: '1206', limit: '1200' });
  assert.equal(parseKillMessage('hello\nPBS: job killed: walltime 10 exceeded limit 1\n'), { resource: 'walltime', used: '10', limit: '1' });
  assert.is(parseKillMessage('all fine\n'), null);
});

test.run();
