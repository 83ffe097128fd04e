// PBS Pro renderer: golden directive lists and whole scripts (spec/scheduler-pbs.md §PBS Pro directives).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Resources } from '../../src/model/resources.js';
import { PBS_JOB_VARS } from '../../src/scheduler/job-vars.js';
import { pbsJobName } from '../../src/scheduler/pbs/render-common.js';
import { pbsproArray, pbsproDirectives, pbsproSelect, renderPbsPro } from '../../src/scheduler/pbs/render-pbspro.js';
import { renderWrapper } from '../../src/scheduler/wrapper.js';
import { throwsUsage } from '../helpers/assert.js';
import { renderSpec } from '../helpers/render-spec.js';



test('whole script: shebang, #PBS lines, blank line, the common wrapper with PBS variables', () => {
  const s = renderSpec({ cpus: 2, time: 5400 });
  const text = renderPbsPro(s);
  const head = [
    '#!/bin/bash',
    '#PBS -N sim-1',
    '#PBS -S /bin/bash',
    '#PBS -l select=1:ncpus=2:mpiprocs=1',
    '#PBS -l walltime=01:30:00',
    '#PBS -j oe',
    '#PBS -o /scratch/u/p/runs/sim-1/3/pbs.out',
    '',
    '',
  ].join('\n');
  assert.is(text, head + renderWrapper(s, PBS_JOB_VARS));
  assert.ok(text.includes('export QDO_JOB_ID="${PBS_JOBID:-}"'));
});

test('everything at once: golden directive list', () => {
  const s = renderSpec(
    {
      cpus: 4,
      tasks: 5,
      nodes: 2,
      mem: 8192,
      gpus: 1,
      time: 30 * 3600 + 5,
      partition: 'workq',
      account: 'proj1',
      constraint: 'model=skylake',
      array: '0-9:3%2',
      mail: { user: 'a@b.c', events: ['begin', 'fail'] },
      extra: { pbs: ['-l place=excl', '-r n'], slurm: ['--exclusive'] },
    },
    { dependencies: [{ type: 'afterok', ids: ['12.srv', '13[].srv'] }, { type: 'afterany', ids: ['14'] }], tag: 'm-0123abc' },
  );
  assert.equal(pbsproDirectives(s), [
    '-N sim-1',
    '-S /bin/bash',
    '-l select=1:ncpus=8:mpiprocs=2:ompthreads=4:mem=8gb:ngpus=1:model=skylake+1:ncpus=12:mpiprocs=3:ompthreads=4:mem=8gb:ngpus=1:model=skylake',
    '-l place=scatter',
    '-l walltime=30:00:05',
    '-q workq',
    '-A proj1',
    '-J 0-9:3%2',
    '-W depend=afterok:12.srv:13[].srv,afterany:14',
    '-j oe',
    '-o /scratch/u/p/runs/sim-1/3/pbs.^array_index^.out',
    '-M a@b.c',
    '-m ab',
    '-v QDO_TAG=qdo:m-0123abc',
    '-l place=excl',
    '-r n',
  ]);
});

test('select: nodes, tasks and cpus (the mapping table in the spec)', () => {
  const sel = (r: Resources) => pbsproSelect(r);
  assert.is(sel({}), null);
  assert.is(sel({ time: 60, partition: 'q' }), null);
  assert.equal(sel({ cpus: 8 }), { select: '1:ncpus=8:mpiprocs=1' });
  assert.equal(sel({ tasks: 4 }), { select: '4:ncpus=1:mpiprocs=1' });
  assert.equal(sel({ tasks: 4, cpus: 2, mem_per_cpu: 1000 }), { select: '4:ncpus=2:mpiprocs=1:mem=2000mb' });
  assert.equal(sel({ nodes: 1, tasks: 4, cpus: 2 }), { select: '1:ncpus=8:mpiprocs=4:ompthreads=2' });
  assert.equal(sel({ nodes: 2 }), { select: '2:ncpus=1:mpiprocs=1', place: 'scatter' });
  assert.equal(sel({ nodes: 2, tasks: 64, cpus: 1, mem: 1536 }), { select: '2:ncpus=32:mpiprocs=32:ompthreads=1:mem=1536mb', place: 'scatter' });
  assert.equal(sel({ nodes: 3, tasks: 4 }), { select: '2:ncpus=1:mpiprocs=1+1:ncpus=2:mpiprocs=2:ompthreads=1', place: 'scatter' });
  assert.equal(sel({ mem: 4096 }), { select: '1:ncpus=1:mpiprocs=1:mem=4gb' });
  assert.equal(sel({ gpus: 0 }), { select: '1:ncpus=1:mpiprocs=1' });
  assert.equal(sel({ gpus: 2, cpus: 4 }), { select: '1:ncpus=4:mpiprocs=1:ngpus=2' });
  assert.equal(sel({ constraint: 'model=sky&ib=True' }), { select: '1:ncpus=1:mpiprocs=1:model=sky:ib=True' });
});

test('select: what cannot be placed is a UsageError naming the field', () => {
  throwsUsage(() => pbsproSelect({ tasks: 4, mem: 4096 }), 'resources.mem');
  throwsUsage(() => pbsproSelect({ tasks: 4, gpus: 1 }), 'resources.gpus');
  throwsUsage(() => pbsproSelect({ nodes: 4, tasks: 2 }), 'resources.tasks');
  throwsUsage(() => pbsproSelect({ constraint: 'skylake' }), 'resources.constraint');
  throwsUsage(() => pbsproSelect({ constraint: 'a=1|b=2' }), 'resources.constraint');
});

test('arrays: ranges, steps and %max pass; lists and single indices are refused', () => {
  assert.is(pbsproArray('1-10'), '1-10');
  assert.is(pbsproArray('0-99:2'), '0-99:2');
  assert.is(pbsproArray('1-100%10'), '1-100%10');
  const e = throwsUsage(() => pbsproArray('1,3,5'), 'resources.array');
  assert.is(e.code, 'bad-resource');
  throwsUsage(() => pbsproArray('7'), 'resources.array');
  throwsUsage(() => pbsproArray('5-5'), 'resources.array');
  throwsUsage(() => renderPbsPro(renderSpec({ array: '1-3,7' })), 'resources.array');
});

test('qos is refused with a hint about --sched-arg', () => {
  const e = throwsUsage(() => pbsproDirectives(renderSpec({ qos: 'high' })), 'resources.qos');
  assert.ok(e.hint!.includes("--sched-arg='-l qos=high'"), e.hint);
  assert.not.ok(e.hint!.includes('resources.extra'), 'no setting users cannot reach');
});

test('output: stdout alone takes stderr too; both given; relative paths are in the run folder', () => {
  const d = (r: Resources) => pbsproDirectives(renderSpec(r)).filter((x) => /^-(j|o|e) /.test(x));
  assert.equal(d({ stdout: 'out.txt' }), ['-j oe', '-o /scratch/u/p/runs/sim-1/3/out.txt']);
  assert.equal(d({ stdout: '/tmp/o', stderr: 'e' }), ['-o /tmp/o', '-e /scratch/u/p/runs/sim-1/3/e']);
  assert.equal(d({ stderr: '/tmp/e' }), ['-o /scratch/u/p/runs/sim-1/3/pbs.out', '-e /tmp/e']);
  assert.equal(pbsproDirectives(renderSpec({}, { runDir: '/a b/run' })).at(-1), '-o "/a b/run/pbs.out"');
  throwsUsage(() => pbsproDirectives(renderSpec({ stdout: 'a"b' })), 'resources.stdout');
});

test('mail events map to a, b, e', () => {
  const m = (events: string[]) => pbsproDirectives(renderSpec({ mail: { events } })).filter((x) => x.startsWith('-m '));
  assert.equal(m(['end']), ['-m e']);
  assert.equal(m(['fail', 'begin', 'end']), ['-m abe']);
  assert.equal(m(['all']), ['-m abe']);
});

test('job names follow PBS rules; resources.job_name wins over the qdo name', () => {
  assert.is(pbsJobName('sim-1', 'pbspro'), 'sim-1');
  assert.is(pbsJobName('_x', 'pbspro'), 'q_x');
  assert.is(pbsJobName('1run', 'pbspro'), '1run');
  assert.is(pbsJobName('1run', 'torque'), 'q1run');
  assert.is(pbsJobName('a b/c#d', 'pbspro'), 'a_b_c_d');
  assert.is(pbsJobName('x'.repeat(300), 'pbspro').length, 230);
  assert.is(pbsproDirectives(renderSpec({ job_name: 'my name' }))[0], '-N my_name');
});

test('tags and dependencies are checked', () => {
  throwsUsage(() => pbsproDirectives(renderSpec({}, { tag: 'a b' })), 'tag');
  throwsUsage(() => pbsproDirectives(renderSpec({}, { dependencies: [{ type: 'afterok', ids: ['12_3'] }] })), 'dependencies[0].ids');
  throwsUsage(() => pbsproDirectives(renderSpec({}, { dependencies: [{ type: 'afterok', ids: [] }] })), 'dependencies[0].ids');
  throwsUsage(() => pbsproDirectives(renderSpec({ extra: { pbs: ['place=excl'] } })), 'resources.extra.pbs[0]');
});

test('rendering is pure: same spec, same text', () => {
  const s = renderSpec({ cpus: 3, nodes: 2, tasks: 2 }, { tag: 't1', env: { B: '2', A: 'x y' } });
  assert.is(renderPbsPro(s), renderPbsPro(structuredClone(s)));
});

test.run();
