// Text `qstat -f` of TORQUE (test/fixtures/pbs/torque) and of Slurm's TORQUE-dialect
// wrapper (test/fixtures/pbs/slurm-torque-wrapper, captured on this machine).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseQstatFull } from '../../src/scheduler/pbs/parse-text.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');

test('bcgsc completed job: 8-space continuations, exit_status 0, lowercase TORQUE attributes', () => {
  const [j, ...rest] = parseQstatFull(fx('torque/qstat_f_completed_exit0_torque_bcgsc.txt'));
  assert.is(rest.length, 0);
  assert.is(j!.id, '9.torque01.bcgsc.ca');
  assert.is(j!.jobState, 'C');
  assert.is(j!.exitStatus, 0);
  assert.is(j!.substate, null);
  assert.is(j!.slurmWrapper, false);
  assert.is(j!.attributes.Error_Path, 'torque01.bcgsc.ca:/projects/trans_scratch/validations/workspace/creisle/temp/subtest.sh.e9');
  // init_work_dir filled its line; the empty line after it is not part of the value.
  assert.is(j!.attributes.init_work_dir, '/projects/trans_scratch/validations/workspace/creisle/temp');
  assert.is(j!.attributes.request_version, '1');
  assert.is(j!.attributes.comp_time, 'Tue May 29 09:38:01 2018');
  assert.is(j!.variables.PBS_O_WORKDIR, '/projects/trans_scratch/validations/workspace/creisle/temp');
  assert.is(j!.walltimeUsed, 60);
  assert.is(j!.walltimeLimit, 3600);
});

test('bcgsc array subjob deleted by dependency: exit_status 271, raw multi-line BASH_FUNC value', () => {
  const [j] = parseQstatFull(fx('torque/qstat_f_array_subjob_deleted_exit271_torque_bcgsc.txt'));
  assert.is(j!.id, '48[1].torque01.bcgsc.ca');
  assert.is(j!.exitStatus, 271);
  assert.is(j!.attributes.job_array_id, '1');
  assert.is(j!.depend, 'afterokarray:43[].torque01.bcgsc.ca');
  assert.is(j!.comment, 'Job 48[].torque01.bcgsc.ca deleted because its dependency of array 43[].torque01.bcgsc.ca can never be satisfied');
  assert.is(j!.variables['BASH_FUNC_module()'], '() {  eval `/usr/bin/modulecmd bash $*`\\\n}');
  assert.is(j!.variables.SACCT_FORMAT, 'jobid%-18,jobname%45,user%-8,reqmem,elapsed,state,MaxRSS,AveRSS,Partition');
  assert.is(j!.variables.PBS_ARRAYID, '1');
  assert.is(j!.attributes.euser, 'creisle');
  assert.ok(j!.attributes.submit_args!.startsWith('-j oe -l mem=12000mb -l walltime=16:00:00 -V -W depend=afterokarray:43[].torque01.bcgsc.ca -N MA_mock'));
});

test('TORQUE 7 completed job with req_information.* attributes', () => {
  const [j] = parseQstatFull(fx('torque/qstat_f_completed_exit0_torque7_e4spro.txt'));
  assert.is(j!.id, '40680075.e4spro-cluster');
  assert.is(j!.exitStatus, 0);
  assert.is(j!.attributes['req_information.task_usage.0.task.0.host'], 'ac-d160-0-0');
  assert.is(j!.attributes['req_information.hostlist.0'], 'ac-d160-0-0:ppn=1');
  assert.is(j!.attributes.Output_Path, 'e4spro-cluster:/home/adaptive50/Documents/buildtest/var/tests/generic.torque.e4spro/sleep/hostname_test/b10fea47/stage/hostname_test.o');
  assert.is(j!.attributes.total_runtime, '6.235349');
});

test('ICHEC 10 jobs: TAB continuations, multi-line sched_hint with blank lines, H/R/C/Q', () => {
  const jobs = parseQstatFull(fx('torque/qstat_f_multi_completed_exit271_torque_ichec.txt'));
  assert.equal(
    jobs.map((j) => [j.id, j.jobState, j.exitStatus]),
    [
      ['549159', 'H', null],
      ['555716', 'R', null],
      ['556491', 'R', null],
      ['546437', 'C', 271],
      ['547637', 'Q', null],
      ['547683', 'Q', null],
      ['549004', 'Q', null],
      ['549005', 'Q', null],
      ['549008', 'Q', null],
      ['543984', 'C', 271],
    ],
  );
  const h = jobs[0]!;
  assert.is(h.holdTypes, 's');
  assert.is(h.depend, 'afterok:549158.service1.head.cb3.ichec.ie@service1.cb3.ichec.ie');
  assert.is(h.attributes.Output_Path, 'host.domain:/some/path/to/sth/GLmore/down/the/path/ASSP-1R.o549159');
  const c = jobs[9]!;
  const hint = c.attributes.sched_hint!;
  assert.ok(hint.startsWith('Post job file processing error; job 543984 on host r2i7n17\n\nUnable to copy file 543984.OU to'), hint);
  assert.ok(hint.includes('\n*** error from copy\n/bin/cp: cannot stat `543984.OU\': No such file or directory\n*** end error output'), hint);
  assert.ok(hint.includes('\n\nUnable to copy file 543984.ER to /some/path/on/the/cluster/something_Mp=318.,NVF=1e5'), hint);
  assert.ok(hint.endsWith('*** end error output'), hint);
  assert.is(c.attributes.etime, 'Wed Jun 17 09:16:05 2015');
  assert.is(c.attributes.submit_args, 'args_XX.extxyz -l nodes=32:ppn=24,walltime=71:59:59 -v RESUME=true,SMP=24,NND=32,NOPFS=false -d /some/path/ /some/other/path/NIx/que/runN.sth');
});

test('Slurm wrapper: TAB-indented attributes, "Job Id:<TAB>", held shown as Q with Priority 0', () => {
  const jobs = parseQstatFull(fx('slurm-torque-wrapper/qstat_f_R_Qheld_Rarray.txt'));
  assert.equal(
    jobs.map((j) => [j.id, j.jobState, j.attributes.Priority, j.slurmWrapper, j.name]),
    [
      ['29', 'R', '4294901736', true, 'qdo-probe'],
      ['30', 'Q', '0', true, 'qdo-probe'],
      ['31', 'R', '4294901735', true, 'qdo-probe'],
    ],
  );
  assert.is(jobs[0]!.walltimeLimit, 120);
  assert.is(jobs[0]!.attributes['Resource_List.ncpus'], '1');
  assert.is(jobs[0]!.attributes.euser, 'root(0)');
  assert.equal(jobs[0]!.variables, {});
});

test('Slurm wrapper after the jobs ended: C without exit status', () => {
  const jobs = parseQstatFull(fx('slurm-torque-wrapper/qstat_f_C_after_exit3_cancel_array.txt'));
  assert.equal(
    jobs.map((j) => [j.id, j.jobState, j.exitStatus]),
    [
      ['29', 'C', null],
      ['30', 'C', null],
      ['32', 'C', null],
      ['31', 'C', null],
    ],
  );
  assert.is(jobs[1]!.attributes.exec_host, undefined);
  assert.is(parseQstatFull(fx('slurm-torque-wrapper/qstat_f_unknown_id.stdout')).length, 0);
});

test.run();
