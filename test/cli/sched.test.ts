// qdo sched render/submit/query from the CLI: golden scripts for every built-in scheduler
// from one recorded job version, bad input, and a real run on the local backend.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, tempDir, removeDir, scrub } from '../helpers/cli.js';
import { assertGolden } from '../helpers/golden.js';
import { createAllocation } from '../../src/store/layout.js';
import { writeManifest } from '../../src/store/manifests.js';
import { writeObject } from '../../src/store/objects.js';
import { updateRef } from '../../src/store/refs.js';
import { MANIFEST_SCHEMA } from '../../src/model/manifest.js';

let home = '';
test.before.each(() => {
  home = tempDir();
});
test.after.each(() => removeDir(home));

async function recordJob(resources: Record<string, unknown>): Promise<string> {
  const { layout } = await createAllocation(home);
  await qdo(['project', 'add', 'paper'], { home });
  const script = await writeObject(layout, Buffer.from('#!/bin/bash\necho "lr=$QDO_PARAM_lr on $QDO_NCPUS cpus, $FROM_PROLOGUE"\n'));
  const pro = await writeObject(layout, Buffer.from('export FROM_PROLOGUE=prologue-ran\n'));
  const id = await writeManifest(layout, {
    schema: MANIFEST_SCHEMA, project: 'paper', name: 'train', version: 1, parent: null, script, resources, scheduler: 'slurm',
    params: { lr: '0.1' }, env: { OMP_NUM_THREADS: '4' }, prologue: pro, epilogue: null, created: '2026-11-21T09:30:00.000Z',
  });
  await updateRef(layout, { project: 'paper', name: 'train', next: id, expect: null });
  return id;
}

for (const kind of ['slurm', 'pbs', 'torque', 'local']) {
  test(`render ${kind} from a recorded version (golden)`, async () => {
    await recordJob({ cpus: 4, nodes: 1, mem: 8192, time: 5400, ...(kind === 'local' ? {} : { partition: 'batch', account: 'proj42' }) });
    const r = await qdo(['sched', 'render', 'paper/train', '--for', kind], { home });
    assert.is(r.code, 0, r.stderr);
    assertGolden(`sched-render-${kind}.txt`, scrub(r.stdout, home));
    assert.ok(r.stdout.includes('echo "lr=$QDO_PARAM_lr on $QDO_NCPUS cpus, $FROM_PROLOGUE"'), 'the script is inside');
  });
}

test('render: inexpressible resources and bad flags name the field', async () => {
  await recordJob({ cpus: 2, qos: 'high' });
  const pbs = await qdo(['sched', 'render', 'paper/train', '--for', 'pbs'], { home });
  assert.is(pbs.code, 2);
  assert.match(pbs.stderr, /qos/);
  const mem = await qdo(['sched', 'render', '--for', 'slurm', '--mem', '4Q', '--', 'true'], { home });
  assert.is(mem.code, 2);
  assert.match(mem.stderr, /--mem: expected a size like/);
  const set = await qdo(['sched', 'render', '--for', 'slurm', '--set', 'lr', '--', 'true'], { home });
  assert.is(set.code, 2);
  assert.is(set.stderr, 'qdo: --set "lr": expected KEY=VALUE\n');
  const none = await qdo(['sched', 'render', '--for', 'slurm'], { home });
  assert.is(none.code, 2);
  const unknown = await qdo(['sched', 'render', 'paper/trian', '--for', 'slurm'], { home });
  assert.is(unknown.code, 3);
  assert.match(unknown.stderr, /did you mean "train"/);
});

test('submit and query on the local backend, for real', async () => {
  const id = await recordJob({ cpus: 1 });
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ scheduler: 'local', local_cpus: 2 }));
  const s = await qdo(['sched', 'submit', 'paper/train', '--json'], { home });
  assert.is(s.code, 0, s.stderr);
  const sub = JSON.parse(s.stdout);
  assert.is(sub.scheduler, 'local');
  assert.is(sub.run_dir, join(home, 'paper/runs/train', `1-${id.slice(0, 8)}`));
  let line = '';
  for (let i = 0; i < 100; i++) {
    line = (await qdo(['sched', 'query', sub.id], { home })).stdout;
    if (/ completed /.test(line)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.is(line, `${sub.id} completed exit-record 0 COMPLETED\n`);
  assert.is(readFileSync(join(sub.run_dir, 'stdout'), 'utf8'), 'lr=0.1 on 1 cpus, prologue-ran\n');
  const fail = JSON.parse((await qdo(['sched', 'submit', '--json', '--name', 'bad', '--', 'sh', '-c', 'echo oops >&2; exit 3'], { home })).stdout);
  for (let i = 0; i < 100; i++) {
    line = (await qdo(['sched', 'query', fail.id], { home })).stdout;
    if (/ failed /.test(line)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.is(line, `${fail.id} failed exit-record 3 FAILED\n`);
  assert.is(readFileSync(join(home, 'qdo-runs/bad/stderr'), 'utf8'), 'oops\n');
  // Local jobs start with the environment of the qdo command (not of whatever process hosts it).
  const env = JSON.parse((await qdo(['sched', 'submit', '--json', '--name', 'env', '--', 'sh', '-c', 'echo "$FROM_CALLER"'], { home, env: { FROM_CALLER: 'caller-env' } })).stdout);
  for (let i = 0; i < 100; i++) {
    if (/ completed /.test((await qdo(['sched', 'query', env.id], { home })).stdout)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.is(readFileSync(join(home, 'qdo-runs/env/stdout'), 'utf8'), 'caller-env\n');
  const q = await qdo(['sched', 'query', '999999', '--json'], { home });
  assert.equal(JSON.parse(q.stdout).jobs[0].state, 'unknown');
});

test('render and submit --script FILE --set: the script is a template, rendered through the sandbox', async () => {
  writeFileSync(join(home, 'train.sh'), '#!/bin/bash\necho "lr={{ lr }} job={{ job.name }} cpus={{ resources.cpus }} on {{ scheduler }}"\n');
  const r = await qdo(['sched', 'render', '--script', 'train.sh', '--set', 'lr=0.1', '--cpus', '2', '--for', 'local'], { home });
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes("echo \"lr=0.1 job=train cpus=2 on local\""), r.stdout);
  assert.not.ok(r.stdout.includes('{{'));
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ scheduler: 'local' }));
  const s = JSON.parse((await qdo(['sched', 'submit', '--json', '--script', 'train.sh', '--set', 'lr=0.2', '--cpus', '1'], { home })).stdout);
  for (let i = 0; i < 200 && !/ completed /.test((await qdo(['sched', 'query', s.id], { home })).stdout); i++) await new Promise((res) => setTimeout(res, 100));
  assert.is(readFileSync(join(s.run_dir, 'stdout'), 'utf8'), 'lr=0.2 job=train cpus=1 on local\n');
  // Strict and sandboxed as qdo submit: an undefined name and a reach for JavaScript are exit 2.
  writeFileSync(join(home, 'bad.sh'), 'echo {{ nope }}\n');
  const bad = await qdo(['sched', 'render', '--script', 'bad.sh', '--for', 'local'], { home });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /nope/);
  writeFileSync(join(home, 'evil.sh'), '{{ range.constructor("return process")() }}\n');
  assert.is((await qdo(['sched', 'render', '--script', 'evil.sh', '--for', 'local'], { home })).code, 2);
  // Commands render too.
  const c = await qdo(['sched', 'render', '--for', 'local', '--set', 'x=7', '--', 'echo', '{{ x }}'], { home });
  assert.ok(c.stdout.includes("'#!/bin/bash\necho 7\n'") || c.stdout.includes('echo 7'), c.stdout);
});

test.run();
