// Text `qstat -f` of PBS Pro (test/fixtures/pbs/pbspro/qstat-f-text) and the table
// formats qdo deliberately does not parse (pbspro/qstat-table).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAttributeLines, parseQstatFull } from '../../src/scheduler/pbs/parse-text.js';
import { splitVariableList } from '../../src/scheduler/pbs/pbs-job.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');

test('Palmetto finished job: TAB continuations joined, the empty wrap line ignored', () => {
  const [j, ...rest] = parseQstatFull(fx('pbspro/qstat-f-text/qstat_xf_finished_exit0_palmetto.txt'));
  assert.is(rest.length, 0);
  assert.is(j!.id, '7600424.pbs02');
  assert.is(j!.jobState, 'F');
  assert.is(j!.substate, 92);
  assert.is(j!.exitStatus, 0);
  // Error_Path filled its line exactly; the next (empty) line is not part of any value.
  assert.is(j!.attributes.Error_Path, 'login001.palmetto.clemson.edu:/home/atrikut/MPI/pi-mpi.e7600424');
  assert.is(j!.attributes.Output_Path, 'login001.palmetto.clemson.edu:/home/atrikut/MPI/pi-mpi.o7600424');
  assert.is(
    j!.attributes.exec_vnode,
    '(node0088:ncpus=2:mem=1048576kb:ngpus=0:nphis=0)+(node0094:ncpus=2:mem=1048576kb:ngpus=0:nphis=0)+(node0094:ncpus=2:mem=1048576kb:ngpus=0:nphis=0)+(node0085:ncpus=2:mem=1048576kb:ngpus=0:nphis=0)',
  );
  assert.ok(j!.comment!.endsWith(' and finished'));
  assert.is(j!.attributes['Resource_List.select'], '4:ncpus=2:mem=1gb:interconnect=1g:mpiprocs=2');
  assert.is(j!.walltimeUsed, 128);
  assert.is(j!.walltimeLimit, 300);
  assert.is(j!.variables.PBS_O_WORKDIR, '/home/atrikut/MPI');
  assert.is(
    j!.variables.PBS_O_PATH,
    '/software/examples/:/home/atrikut/local/bin:/usr/lib64/qt-3.3/bin:/opt/pbs/default/bin:/opt/gold/bin:/usr/local/bin:/bin:/usr/bin:/usr/local/sbin:/usr/sbin:/sbin:/opt/mx/bin:/home/atrikut/bin',
  );
  assert.is(j!.attributes.history_timestamp, '1481656302');
});

test('EPFL multi-job output: six jobs split on "Job Id:", values and variables intact', () => {
  const jobs = parseQstatFull(fx('pbspro/qstat-f-text/qstat_f_multi_Q_R_H_pbspro_epfl.txt'));
  assert.equal(
    jobs.map((j) => [j.id, j.jobState, j.substate, j.holdTypes]),
    [
      ['68350.mycluster', 'Q', 10, 'n'],
      ['68351.mycluster', 'Q', 10, 'n'],
      ['69301.mycluster', 'R', 42, 'n'],
      ['69302.mycluster', 'H', 22, 's'],
      ['74164.mycluster', 'R', 42, 'n'],
      ['74165.mycluster', 'H', 22, 's'],
    ],
  );
  const r = jobs[2]!;
  assert.is(r.depend, 'afterok:69299.mycluster@mycluster.cluster,beforeok:69302.mycluster@mycluster.cluster');
  assert.is(r.attributes.exec_vnode, '(b141:ncpus=16)+(b142:ncpus=16)+(b143:ncpus=16)+(b144:ncpus=16)');
  assert.is(r.comment, 'Job run at Sat Apr 20 at 01:36 on (b141:ncpus=16)+(b142:ncpus=16)+(b143:ncpus=16)+(b144:ncpus=16)');
  // The bash function entry holds an unescaped comma: it stays one variable.
  assert.is(r.variables.module, '() {  eval `/usr/bin/modulecmd bash $*`,}');
  assert.is(r.variables.LESSOPEN, '|/usr/bin/lesspipe.sh %s');
  assert.is(r.variables.MSM_HOME, '/usr/local/MegaRAID Storage Manager');
  assert.is(r.variables.PBS_O_WORKDIR, '/scratch/user02/QMMM-CuPhens/dbp/NOSE/RUN7');
  assert.is(
    r.variables.PATH,
    '/opt/xcat/bin:/opt/xcat/sbin:/usr/lib64/qt-3.3/bin:/usr/local/bin:/bin:/usr/bin:/usr/local/sbin:/usr/sbin:/sbin:/opt/pbs/default/bin:/opt/software/python/3.3.0/bin:/opt/software/bin',
  );
  // Job 74164: its comment filled the line; the blank line after it is not in the value.
  assert.is(jobs[4]!.comment, 'Job run at Mon Apr 22 at 07:17 on (b270:ncpus=16)+(b275:ncpus=16)');
  assert.is(jobs[4]!.attributes.etime, 'Mon Apr 22 07:17:34 2013');
  assert.is(jobs[4]!.attributes.Mail_Points, 'abe');
});

test('single-job slices equal the same jobs in the multi-job output', () => {
  const multi = parseQstatFull(fx('pbspro/qstat-f-text/qstat_f_multi_Q_R_H_pbspro_epfl.txt'));
  const running = parseQstatFull(fx('pbspro/qstat-f-text/qstat_f_running_pbspro_epfl.txt'));
  const held = parseQstatFull(fx('pbspro/qstat-f-text/qstat_f_held_dependency_pbspro_epfl.txt'));
  assert.equal(running, [multi[2]]);
  assert.equal(held, [multi[3]]);
});

test('grep excerpt without a "Job Id:" line: no job, but the attribute lines parse', () => {
  const text = fx('pbspro/qstat-f-text/qstat_f_array_parent_grep_array_artemis.txt');
  assert.equal(parseQstatFull(text), []);
  assert.equal(parseAttributeLines(text.split('\n')), {
    Submit_arguments: 'array_demo.pbs',
    array: 'True',
    array_state_count: 'Queued:0 Running:10 Exiting:0 Expired:0',
    array_indices_submitted: '1-10',
  });
});

test('tables (default, alternate, -t, -u) are never read as jobs', () => {
  const dir = join(root, 'test/fixtures/pbs/pbspro/qstat-table');
  const files = readdirSync(dir).sort();
  assert.equal(files, [
    'qstat_T_alt_array_B_openpbs_pr2237.txt',
    'qstat_alt_s1_comments_polaris.txt',
    'qstat_default_Q_H_R_truncated_polaris.txt',
    'qstat_default_array_B_openpbs_pr2237.txt',
    'qstat_default_running_palmetto.txt',
    'qstat_t_array_B_R_Q_ood_pr126.txt',
    'qstat_t_array_B_R_artemis.txt',
    'qstat_t_array_B_X_R_artemis.txt',
    'qstat_u_alt_array_queued_artemis.txt',
    'qstat_u_alt_running_palmetto.txt',
  ]);
  for (const f of files) {
    const text = fx(`pbspro/qstat-table/${f}`);
    assert.ok(text.trim().length > 0, f);
    assert.equal(parseQstatFull(text), [], f);
  }
});

test('splitVariableList: escaped commas, first "=", continuation entries', () => {
  assert.equal(splitVariableList('A=1,B=x=y,C=a\\,b,F=() { x,},G='), { A: '1', B: 'x=y', C: 'a,b', F: '() { x,}', G: '' });
  assert.equal(splitVariableList(''), {});
});

test('CRLF line ends are tolerated', () => {
  const jobs = parseQstatFull('Job Id: 1.s\r\n    job_state = R\r\n    Job_Name = a\r\n');
  assert.equal(
    jobs.map((j) => [j.id, j.jobState, j.name]),
    [['1.s', 'R', 'a']],
  );
});

test.run();
