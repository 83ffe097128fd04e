// Sweeps on the real Slurm (spec/sweeps.md): a 3×4 grid goes out as ONE array job, all 12
// named jobs complete with their own parameters, one point is retried alone; groups of a
// sweep file wait on each other's arrays; cancel by sweep id. Fails (does not skip) in CI
// when Slurm is missing (QDO_REQUIRE_SLURM=1).
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, type RunOptions } from '../helpers/cli.js';
import { scratchDir, slurmSuite } from '../helpers/slurm.js';

type Obj = Record<string, any>;

await slurmSuite('sweeps on Slurm', async (test) => {
  const home = scratchDir('sweep-e2e', test);
  const o: RunOptions = { home, env: { QDO_SCHEDULER: 'slurm' }, now: 'real' };
  const run = async (args: string[], want = 0) => {
    const r = await qdo(args, o);
    assert.is(r.code, want, `qdo ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const json = async (args: string[]): Promise<Obj> => {
    const at = args.indexOf('--');
    return JSON.parse((await run(at < 0 ? [...args, '--json'] : [...args.slice(0, at), '--json', ...args.slice(at)])).stdout);
  };
  await run(['project', 'add', 'paper']);
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ status_interval: 1 }));
  mkdirSync(join(home, 'paper/resources'), { recursive: true });
  writeFileSync(join(home, 'paper/resources/train.sh'), '#!/bin/bash\necho "lr={{ lr }} bs={{ bs }} job=$QDO_JOB_NAME param=$QDO_PARAM_lr"\n');
  const grid = ['submit', 'paper/train-lr{{lr}}-bs{{bs}}', '--script', 'train.sh', '--grid', 'lr=0.1,0.01,0.001', '--grid', 'bs=32,64,128,256', '--time', '5m'];

  test('a 3×4 grid is one array job; 12 named jobs complete with their parameters; re-run submits nothing', async () => {
    const r = await json(grid);
    assert.is(r.total, 12);
    assert.equal(r.chunks.map((c: Obj) => [c.packed, c.points.length]), [[true, 12]]);
    const bases = new Set(r.points.map((p: Obj) => String(p.sched_id).split('_')[0]));
    assert.is(bases.size, 1, `one array job, found ${[...bases].join(', ')}`);
    assert.equal(r.points.map((p: Obj) => p.sched_id), r.points.map((_: Obj, i: number) => `${r.chunks[0].sched_id}_${i}`));
    await run(['wait', `sweep:${r.sweep.slice(0, 8)}`, '--timeout', '5m']);
    const st = await json(['status', '--refresh', 'paper/train-*']);
    assert.is(st.jobs.length, 12);
    assert.ok(st.jobs.every((j: Obj) => j.state === 'completed'), JSON.stringify(st.jobs.map((j: Obj) => j.state)));
    for (const p of r.points) {
      assert.is(readFileSync(join(p.run_dir, 'stdout'), 'utf8'), `lr=${p.params.lr} bs=${p.params.bs} job=${p.name} param=${p.params.lr}\n`);
    }
    assert.is((await run(['logs', 'paper/train-lr0.01-bs128'])).stdout, 'lr=0.01 bs=128 job=train-lr0.01-bs128 param=0.01\n');
    const again = await json(grid);
    assert.equal([again.submitted, again.skipped], [0, 12]);
  });

  test('one point retried alone: only that name gets version 2, with twice the time', async () => {
    await run(['retry', 'paper/train-lr0.1-bs64', '--time', 'x2']);
    const st = await json(['status', 'paper/train-*']);
    const versions = Object.fromEntries(st.jobs.map((j: Obj) => [j.job, j.job_version]));
    assert.is(versions['paper/train-lr0.1-bs64'], 2);
    assert.is(Object.values(versions).filter((v) => v === 2).length, 1);
    await run(['wait', 'paper/train-lr0.1-bs64', '--timeout', '5m']);
    const show = await json(['show', 'paper/train-lr0.1-bs64']);
    assert.is(show.state, 'completed');
    const m = JSON.parse((await run(['cat-object', show.id])).stdout);
    assert.is(m.resources.time, 600);
    assert.is(m.version, 2);
    // Still one of the sweep's points: a re-run of the grid skips it.
    assert.is((await json(grid)).submitted, 0);
  });

  test('a sweep file: a group waits on every job of another (afterok on its array)', async () => {
    writeFileSync(
      join(home, 'sweep.yaml'),
      `defaults:
  resources: {time: 5m}
jobs:
  - id: prep
    name: paper/prep-{{i}}
    grid: {i: [1, 2, 3]}
    command: [bash, -c, 'sleep 2; date +%s%N > "$QDO_RUN_DIR/t"; echo prep {{ i }}']
  - name: paper/eval
    command: [bash, -c, 'date +%s%N > "$QDO_RUN_DIR/t"; echo eval']
    after: [prep]
`,
    );
    const r = await json(['sweep', 'sweep.yaml']);
    assert.equal(r.chunks.map((c: Obj) => [c.packed, c.points.length]), [
      [true, 3],
      [false, 1],
    ]);
    await run(['wait', `sweep:${r.sweep.slice(0, 8)}`, '--timeout', '5m']);
    const t = (p: Obj) => BigInt(readFileSync(join(p.run_dir, 't'), 'utf8').trim());
    const [p1, p2, p3, ev] = r.points;
    assert.ok(t(ev) > t(p1) && t(ev) > t(p2) && t(ev) > t(p3), 'eval started after every prep job ended');
    const sub = JSON.parse(readFileSync(join(home, '.qdo/submissions', ev.id.slice(0, 2), `${ev.id.slice(2)}.json`), 'utf8'));
    assert.equal(sub.after, [r.chunks[0].sched_id]);
  });

  test('cancel a whole sweep by its id; each element is its named job', async () => {
    const r = await json(['submit', 'paper/long-{{n}}', '--grid', 'n=1,2,3', '--time', '5m', '--', 'sleep', '300']);
    await run(['cancel', `sweep:${r.sweep.slice(0, 8)}`]);
    const w = await run(['wait', `sweep:${r.sweep.slice(0, 8)}`, '--timeout', '3m'], 1);
    assert.match(w.stdout + w.stderr, /cancelled/);
    const st = await json(['status', '--refresh', 'paper/long-*']);
    assert.equal(st.jobs.map((j: Obj) => [j.job, j.state]), [
      ['paper/long-1', 'cancelled'],
      ['paper/long-2', 'cancelled'],
      ['paper/long-3', 'cancelled'],
    ]);
  });
});
