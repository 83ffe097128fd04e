// The pure Slurm renderer (spec/scheduler-slurm.md §Directives): exact directive headers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { SLURM_JOB_VARS } from '../../src/scheduler/job-vars.js';
import { dependencyValue, renderSlurm, slurmDirectives } from '../../src/scheduler/slurm/render.js';
import type { RenderSpec } from '../../src/scheduler/types.js';
import { renderWrapper } from '../../src/scheduler/wrapper.js';

const base = (over: Partial<RenderSpec> = {}): RenderSpec => ({
  jobName: 'fit',
  resources: {},
  script: 'echo hello\n',
  runDir: '/alloc/.qdo/runs/ab12',
  submitDir: '/alloc/proj',
  env: {},
  ...over,
});

const header = (spec: RenderSpec) => renderSlurm(spec).split('\n\n')[0];

test('minimal job: name, own output in the run folder, chdir', () => {
  assert.is(
    header(base()),
    `#!/bin/bash
#SBATCH --job-name=fit
#SBATCH --output=/alloc/.qdo/runs/ab12/slurm-%j.out
#SBATCH --chdir=/alloc/proj`,
  );
});

test('every resource, in the fixed order', () => {
  const spec = base({
    resources: {
      cpus: 4,
      tasks: 2,
      nodes: 1,
      mem: 4096,
      gpus: 2,
      time: 90061,
      partition: 'gpu',
      account: 'proj42',
      qos: 'long',
      constraint: 'skylake&ib',
      array: '1-10%2',
      job_name: 'my fit',
      mail: { user: 'a@b.org', events: ['begin', 'fail', 'end'] },
      extra: { slurm: ['--exclusive', '--reservation=maint'], pbs: ['-l place=scatter'] },
    },
    dependencies: [
      { type: 'afterok', ids: ['12', '13_4'] },
      { type: 'afterany', ids: ['20'] },
    ],
    tag: '9f2c4e1a7b3d',
  });
  assert.is(
    header(spec),
    `#!/bin/bash
#SBATCH --job-name="my fit"
#SBATCH --cpus-per-task=4
#SBATCH --ntasks=2
#SBATCH --nodes=1
#SBATCH --mem=4G
#SBATCH --gres=gpu:2
#SBATCH --time=1-01:01:01
#SBATCH --partition=gpu
#SBATCH --account=proj42
#SBATCH --qos=long
#SBATCH --constraint="skylake&ib"
#SBATCH --array=1-10%2
#SBATCH --dependency=afterok:12:13_4,afterany:20
#SBATCH --output=/alloc/.qdo/runs/ab12/slurm-%A_%a.out
#SBATCH --mail-user=a@b.org
#SBATCH --mail-type=BEGIN,FAIL,END
#SBATCH --comment=qdo:9f2c4e1a7b3d
#SBATCH --chdir=/alloc/proj
#SBATCH --exclusive
#SBATCH --reservation=maint`,
  );
});

test('mem-per-cpu in MiB, short walltime, gpus 0 omitted, stdout/stderr given', () => {
  assert.equal(
    slurmDirectives(base({ resources: { mem_per_cpu: 1500, time: 300, gpus: 0, stdout: 'logs/%x-%j.out', stderr: 'logs/%x-%j.err' } })),
    [
      '--job-name=fit',
      '--mem-per-cpu=1500M',
      '--time=00:05:00',
      '--output=logs/%x-%j.out',
      '--error=logs/%x-%j.err',
      '--chdir=/alloc/proj',
    ],
  );
});

test('paths with spaces are quoted, % in the run folder is doubled, no chdir for an unknown submit folder', () => {
  assert.equal(slurmDirectives(base({ runDir: '/data/my runs/50%', submitDir: '' })), [
    '--job-name=fit',
    '--output="/data/my runs/50%%/slurm-%j.out"',
  ]);
});

test('the script is the header, a blank line, then the common wrapper with Slurm job variables', () => {
  const spec = base({ resources: { cpus: 2 }, env: { QDO_PARAM_X: '1' } });
  const script = renderSlurm(spec);
  assert.is(script, `#!/bin/bash\n#SBATCH --job-name=fit\n#SBATCH --cpus-per-task=2\n#SBATCH --output=/alloc/.qdo/runs/ab12/slurm-%j.out\n#SBATCH --chdir=/alloc/proj\n\n${renderWrapper(spec, SLURM_JOB_VARS)}`);
  // sbatch stops reading directives at the first command: all of them come first.
  const firstCommand = script.split('\n').findIndex((l) => l !== '' && !l.startsWith('#'));
  assert.ok(script.split('\n').slice(firstCommand).every((l) => !l.startsWith('#SBATCH')));
  assert.is(renderSlurm(spec), script, 'pure: same spec, same text');
});

test('dependency values', () => {
  assert.is(dependencyValue([{ type: 'afternotok', ids: ['7'] }]), 'afternotok:7');
  assert.is(dependencyValue([{ type: 'after', ids: ['7_1', '7_2'] }]), 'after:7_1:7_2');
});

const usage = (spec: RenderSpec, field: RegExp) => {
  try {
    renderSlurm(spec);
    assert.unreachable('rendered');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, field);
  }
};

test('values Slurm cannot express are usage errors naming the field', () => {
  usage(base({ resources: { job_name: 'say "hi"' } }), /^resources\.job_name: .*'"'/);
  usage(base({ resources: { partition: 'a\\b' } }), /^resources\.partition:/);
  usage(base({ resources: { extra: { slurm: ['exclusive'] } } }), /^resources\.extra\.slurm\[0\]: expected an sbatch option/);
  usage(base({ dependencies: [{ type: 'afterok', ids: ['56.pbsserver'] }] }), /^dependencies\[0\]\.ids: expected Slurm job ids/);
  usage(base({ dependencies: [{ type: 'afterok', ids: [] }] }), /^dependencies\[0\]\.ids: expected at least one/);
  usage(base({ tag: 'a b' }), /^tag: /);
  usage(base({ resources: { mail: { events: ['sometimes'] } } }), /^resources\.mail\.events: /);
  usage(base({ runDir: 'relative/run' }), /absolute/);
});

test.run();
