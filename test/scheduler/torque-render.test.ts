// TORQUE renderer: golden directive lists and whole scripts (spec/scheduler-pbs.md §TORQUE directives).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Resources } from '../../src/model/resources.js';
import { TORQUE_JOB_VARS } from '../../src/scheduler/job-vars.js';
import { renderTorque, torqueArray, torqueDirectives, torqueNodes } from '../../src/scheduler/pbs/render-torque.js';
import { renderWrapper } from '../../src/scheduler/wrapper.js';
import { throwsUsage } from '../helpers/assert.js';
import { renderSpec } from '../helpers/render-spec.js';



test('whole script: shebang, #PBS lines, the common wrapper with TORQUE variables', () => {
  const s = renderSpec({ cpus: 2, time: 90 });
  const head = ['#!/bin/bash', '#PBS -N sim-1', '#PBS -S /bin/bash', '#PBS -l nodes=1:ppn=2', '#PBS -l walltime=00:01:30', '#PBS -j oe', '#PBS -o /scratch/u/p/runs/sim-1/3/torque.out', '', ''].join(
    '\n',
  );
  assert.is(renderTorque(s), head + renderWrapper(s, TORQUE_JOB_VARS));
  assert.ok(renderTorque(s).includes('export QDO_JOB_ID="${PBS_JOBID:-${SLURM_JOB_ID:-}}"'));
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
      partition: 'batch',
      account: 'proj1',
      constraint: 'bigmem&ib',
      array: '0-9:3,20%2',
      mail: { user: 'a@b.c', events: ['end'] },
      extra: { torque: ['-l naccesspolicy=singlejob'], pbs: ['-r n'] },
    },
    { dependencies: [{ type: 'afterok', ids: ['12.srv', '13[].srv'] }, { type: 'after', ids: ['14[]'] }], tag: 'm-0123abc' },
  );
  assert.equal(torqueDirectives(s), [
    '-N sim-1',
    '-S /bin/bash',
    '-l nodes=1:ppn=8:gpus=1:bigmem:ib+1:ppn=12:gpus=1:bigmem:ib',
    '-l walltime=30:00:05',
    '-l mem=16gb',
    '-q batch',
    '-A proj1',
    '-t 0,3,6,9,20%2',
    '-W depend=afterok:12.srv,afterokarray:13[].srv,afterstartarray:14[]',
    '-j oe',
    '-o /scratch/u/p/runs/sim-1/3/torque.out',
    '-M a@b.c',
    '-m e',
    '-v QDO_TAG=qdo:m-0123abc',
    '-l naccesspolicy=singlejob',
  ]);
});

test('nodes=N:ppn=P mapping', () => {
  assert.is(torqueNodes({}), null);
  assert.is(torqueNodes({ mem: 100 }), null);
  assert.is(torqueNodes({ cpus: 8 }), '1:ppn=8');
  assert.is(torqueNodes({ tasks: 4, cpus: 2 }), '1:ppn=8');
  assert.is(torqueNodes({ nodes: 2 }), '2:ppn=1');
  assert.is(torqueNodes({ nodes: 2, tasks: 48 }), '2:ppn=24');
  assert.is(torqueNodes({ nodes: 3, tasks: 4 }), '2:ppn=1+1:ppn=2');
  assert.is(torqueNodes({ gpus: 2 }), '1:ppn=1:gpus=2');
  assert.is(torqueNodes({ constraint: 'fast,ib' }), '1:ppn=1:fast:ib');
  throwsUsage(() => torqueNodes({ nodes: 3, tasks: 2 }), 'resources.tasks');
  throwsUsage(() => torqueNodes({ constraint: 'a|b' }), 'resources.constraint');
});

test('memory: mem is per node (TORQUE mem is per job), mem_per_cpu is pmem', () => {
  const d = (r: Resources) => torqueDirectives(renderSpec(r)).filter((x) => x.startsWith('-l mem') || x.startsWith('-l pmem'));
  assert.equal(d({ mem: 1000 }), ['-l mem=1000mb']);
  assert.equal(d({ mem: 2048, nodes: 3 }), ['-l mem=6gb']);
  assert.equal(d({ mem_per_cpu: 512 }), ['-l pmem=512mb']);
});

test('arrays: lists and %max pass, steps are written out', () => {
  assert.is(torqueArray('1-10'), '1-10');
  assert.is(torqueArray('1,3,5'), '1,3,5');
  assert.is(torqueArray('1-100%10'), '1-100%10');
  assert.is(torqueArray('0-9:3'), '0,3,6,9');
  assert.is(torqueArray('2-3:5'), '2');
});

test('qos is refused; extra must be options', () => {
  const e = throwsUsage(() => torqueDirectives(renderSpec({ qos: 'high' })), 'resources.qos');
  assert.ok(e.hint!.includes("--sched-arg='-l qos=high'"), e.hint);
  assert.not.ok(e.hint!.includes('resources.extra'), 'no setting users cannot reach');
  throwsUsage(() => torqueDirectives(renderSpec({ extra: { torque: ['nodes=2'] } })), 'resources.extra.torque[0]');
});

test('job names: first character must be a letter', () => {
  assert.is(torqueDirectives(renderSpec({ job_name: '2nd run' }))[0], '-N q2nd_run');
  assert.is(torqueDirectives(renderSpec({}, { jobName: 'fit.v2' }))[0], '-N fit.v2');
});

test.run();
