// Sweep files checked (spec/sweeps.md §File format): defaults, groups, and errors that name
// the file and the path in the document.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSweepDocument } from '../../src/model/sweep-file.js';

function fails(doc: unknown, message: string): void {
  try {
    parseSweepDocument(doc, 'sweep.yaml');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'bad-sweep-file');
    assert.is((e as { exitCode?: number }).exitCode, 2);
    assert.is((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected: ${message}`);
}

test('defaults apply to every group; a group overrides them key by key', () => {
  const def = parseSweepDocument(
    {
      scheduler: 'slurm',
      defaults: { script: 'train.sh', resources: { time: '1h', cpus: 4 }, set: { epochs: '10' }, env: { A: '1' }, after: ['other/job'], retry_on: 'node-fail' },
      jobs: [
        { id: 'prep', name: 'p/prep', command: ['echo', 'hi'] },
        { name: 'p/train-{{lr}}', grid: { lr: ['0.1', 0.01] }, resources: { time: '2h' }, set: { epochs: 20 }, after: ['prep'] },
      ],
    },
    'sweep.yaml',
  );
  assert.is(def.scheduler, 'slurm');
  const [prep, train] = def.groups;
  assert.is(prep!.id, 'prep');
  assert.equal(prep!.command, ['echo', 'hi']);
  assert.is(prep!.script, undefined);
  assert.equal(prep!.afterRevs, ['other/job']);
  assert.is(train!.id, 'p/train-{{lr}}');
  assert.is(train!.script, 'train.sh');
  assert.equal(train!.resources, { time: '2h', cpus: '4' });
  assert.equal(train!.set, { epochs: '20' });
  assert.equal(train!.env, { A: '1' });
  assert.equal(train!.grids, [{ key: 'lr', values: ['0.1', '0.01'], field: 'sweep.yaml: jobs[1].grid.lr' }]);
  assert.equal(train!.afterGroups, [0]);
  assert.equal(train!.afterRevs, ['other/job']);
  assert.is(train!.retryOn, 'node-fail');
});

test('after: a group id, or a name template of an earlier group; later groups are refused', () => {
  const def = parseSweepDocument({ jobs: [{ name: 'p/a', command: ['x'] }, { name: 'p/b-{{i}}', grid: { i: [1] }, command: ['x'], after: ['p/a', 'p/zzz'] }] }, 'f.json');
  assert.equal(def.groups[1]!.afterGroups, [0]);
  assert.equal(def.groups[1]!.afterRevs, ['p/zzz']);
  fails({ jobs: [{ name: 'p/a', command: ['x'], after: ['b'] }, { id: 'b', name: 'p/b', command: ['x'] }] }, 'sweep.yaml: jobs[0].after[0]: "b" is a group listed after this one; list the groups a group waits on before it');
  fails({ jobs: [{ id: 'a', name: 'p/a', command: ['x'], after: ['a'] }] }, 'sweep.yaml: jobs[0].after[0]: a group cannot wait on itself');
});

test('errors name the file and the path in the document', () => {
  fails([], 'sweep.yaml: expected a mapping, found []');
  fails({ job: [] }, 'sweep.yaml: job: unknown key (expected one of scheduler, defaults, jobs)');
  fails({}, 'sweep.yaml: no "jobs:" list');
  fails({ jobs: [] }, 'sweep.yaml: jobs: expected at least one job group');
  fails({ jobs: [{ name: 'p/a', command: ['x'] }, { name: 'p/b', command: ['x'], grid: { lr: '0.1,0.2' } }] }, 'sweep.yaml: jobs[1].grid.lr: expected a list, found "0.1,0.2"');
  fails({ jobs: [{ name: 'p/a', command: ['x'], grid: { lr: [] } }] }, 'sweep.yaml: jobs[0].grid.lr: expected at least one value');
  fails({ jobs: [{ name: 'p/a', command: ['x'], grid: { lr: [null] } }] }, 'sweep.yaml: jobs[0].grid.lr[0]: expected a value (text or number), found null');
  fails({ jobs: [{ name: 'p/a', command: ['x'], grid: { '1lr': [1] } }] }, 'sweep.yaml: jobs[0].grid.1lr: "1lr" is not a valid name (letters, digits, "_"; not starting with a digit)');
  try {
    parseSweepDocument({ jobs: [{ name: 'p/a', command: ['x'], resources: { walltime: '1h' } }] }, 'sweep.yaml');
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /^sweep.yaml: jobs\[0\].resources.walltime: unknown resource \(expected one of cpus, tasks, /);
  }
});

test('more errors: unknown keys, missing name or script, both script and command, duplicate ids', () => {
  fails({ jobs: [{ name: 'p/a', command: ['x'], grdi: {} }] }, 'sweep.yaml: jobs[0].grdi: unknown key (expected one of id, name, grid, zip, points, script, command, resources, set, env, after, prologue, epilogue, retry_on, notify, workdir, env_name, sched_args)');
  fails({ jobs: [{ command: ['x'] }] }, 'sweep.yaml: jobs[0]: no "name" (PROJECT/NAME-TEMPLATE, e.g. paper/train-lr{{lr}})');
  fails({ jobs: [{ name: 'p/a' }] }, 'sweep.yaml: jobs[0]: no script or command (here or in defaults)');
  fails({ jobs: [{ name: 'p/a', script: 's.sh', command: ['x'] }] }, 'sweep.yaml: jobs[0]: give script or command, not both');
  fails({ jobs: [{ name: 'p/a', command: 'echo hi' }] }, 'sweep.yaml: jobs[0].command: expected a list, found "echo hi"');
  fails({ jobs: [{ name: 'p/a', command: ['x'] }, { name: 'p/a', command: ['y'] }] }, 'sweep.yaml: jobs[1].name: "p/a" is also the id of jobs[0]; give each group its own id');
  fails({ defaults: { name: 'x' }, jobs: [{ name: 'p/a', command: ['x'] }] }, 'sweep.yaml: defaults.name: unknown key (expected one of script, command, resources, set, env, after, prologue, epilogue, retry_on, notify, workdir, env_name, sched_args)');
  fails({ jobs: [{ name: 'p/a', command: ['x'], points: [{ a: 1 }, 'b'] }] }, 'sweep.yaml: jobs[0].points[1]: expected a mapping, found "b"');
});

test('a group overrides a default command with its own script and the other way round', () => {
  const def = parseSweepDocument({ defaults: { command: ['echo'] }, jobs: [{ name: 'p/a', script: 's.sh' }, { name: 'p/b' }] }, 'f');
  assert.is(def.groups[0]!.script, 's.sh');
  assert.is(def.groups[0]!.command, undefined);
  assert.equal(def.groups[1]!.command, ['echo']);
});

test.run();
