// qsub's stdout → job id (spec/scheduler-pbs.md §Submit).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SchedulerError } from '../../src/errors.js';
import { isPbsJobId, parseQsubOutput } from '../../src/scheduler/pbs/parse-qsub.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');

test('captured qsub outputs', () => {
  assert.is(parseQsubOutput(fx('pbspro/qsub/qsub_success_palmetto.stdout')), '4256957.pbs02');
  assert.is(parseQsubOutput(fx('pbspro/qsub/qsub_success_artemis.stdout')), '463292.pbstraining');
  assert.is(parseQsubOutput(fx('pbspro/qsub/qsub_array_success_openpbs_pr2237.stdout')), '10[].Nile-extn');
  assert.is(parseQsubOutput(fx('torque/qsub_success_torque_bcgsc_MOCK.stdout')), '141.torque01.bcgsc.ca');
  assert.is(parseQsubOutput(fx('torque/qsub_array_success_torque_bcgsc_MOCK.stdout')), '142[].torque01.bcgsc.ca');
  assert.is(parseQsubOutput(fx('slurm-torque-wrapper/qsub_success.stdout')), '49');
});

test('a site banner before the id is skipped; no id is scheduler-bad-output', () => {
  assert.is(parseQsubOutput('Welcome to the cluster.\nYour account has 10 hours left.\n12.srv\n'), '12.srv');
  try {
    parseQsubOutput('There was an error running the Slurm sbatch command.\n');
    assert.unreachable();
  } catch (e) {
    assert.instance(e, SchedulerError);
    assert.is((e as SchedulerError).code, 'scheduler-bad-output');
  }
});

test('isPbsJobId', () => {
  for (const ok of ['1', '12.s', '4256957.pbs02', '10[].Nile-extn', '48[1].torque01.bcgsc.ca', '6617175.aurora-pbs-0001.hostmgmt.cm.aurora.alcf.anl.gov']) assert.ok(isPbsJobId(ok), ok);
  for (const bad of ['', '12_3', 'abc', '12 .s', '-1', '12.', '1;rm']) assert.not.ok(isPbsJobId(bad), bad);
});

test.run();
