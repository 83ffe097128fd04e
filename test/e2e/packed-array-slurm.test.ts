// Packed arrays on the real Slurm (spec/scheduler-common.md §Packed arrays,
// spec/scheduler-slurm.md §Packed arrays): a 3×4 grid as ONE sbatch, each element a job of
// its own with its own run folder; element ids for query, dependencies and cancel; a
// 1,000-element script accepted by sbatch. Short jobs are submitted at import time so they
// run while other files' tests do (uvu imports every file before it runs the first test);
// the sleeping arrays only when their test starts, or they would have slept out by then.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { TorqueBackend } from '../../src/scheduler/pbs/backend-torque.js';
import { SlurmBackend } from '../../src/scheduler/slurm/backend.js';
import { TERMINAL_STATES, type ElementSpec, type JobState } from '../../src/scheduler/types.js';
import { lazily, readEndRecord, scratchDir, slurmSuite, started, submitSpec, waitFor, waitState } from '../helpers/slurm.js';

const done = (s: JobState) => TERMINAL_STATES.has(s.state);

await slurmSuite('packed array on Slurm (e2e)', (test) => {
  const root = scratchDir('packed-e2e', test);
  const b = new SlurmBackend();
  const runsOf = (name: string) => join(root, 'proj', 'runs', name, '1-0123abcd');

  // The 3×4 grid: lr × bs, one element per point, each with its own parameters.
  const points = [0.1, 0.01, 0.001].flatMap((lr) => [16, 32, 64, 128].map((bs) => ({ lr: String(lr), bs: String(bs) })));
  const gridElements: ElementSpec[] = points.map((p, i) => ({
    index: i,
    jobName: `train-lr${p.lr}-bs${p.bs}`,
    runDir: runsOf(`train-lr${p.lr}-bs${p.bs}`),
    script: 'echo "name=$QDO_JOB_NAME lr=$QDO_PARAM_LR bs=$QDO_PARAM_BS"\necho "to stderr" >&2\n',
    env: { QDO_PARAM_LR: p.lr, QDO_PARAM_BS: p.bs },
    tag: `m${String(i).padStart(4, '0')}`,
  }));
  const grid = started(submitSpec(b, root, 'grid', { jobName: 'train', tag: `grid-${process.pid}`, elements: gridElements }));
  // Submitted right away, while element 3 is still known to slurmctld.
  const after3 = started(
    grid.then((g) => submitSpec(b, root, 'after3', { script: 'date -u +%s%N\n', dependencies: [{ type: 'afterok', ids: [b.elementId(g.id, 3)] }] })),
  );
  const sleepers: ElementSpec[] = [0, 1, 2].map((i) => ({ index: i, jobName: `sleep-${i}`, runDir: runsOf(`sleep-${i}`), script: 'sleep 300\n', env: {} }));
  const sleeper = lazily(() => submitSpec(b, root, 'sleepers', { jobName: 'sleepers', elements: sleepers }));
  // The same through Slurm's TORQUE wrapper (qsub -t): elements are Slurm's <id>_<i>,
  // which the TORQUE backend asks Slurm's own commands about (spec/scheduler-pbs.md §Packed arrays).
  const t = new TorqueBackend();
  const torqueEls: ElementSpec[] = [0, 1, 2].map((i) => ({
    index: i,
    jobName: `tq-${i}`,
    runDir: runsOf(`tq-${i}`),
    script: i === 2 ? 'sleep 300\n' : 'echo "tq $QDO_PARAM_I"\n',
    env: { QDO_PARAM_I: String(i) },
  }));
  const torque = lazily(() => submitSpec(t, root, 'torque', { jobName: 'tq', elements: torqueEls }));
  // A test that failed half-way leaves no sleeping element behind.
  test.after(async () => {
    for (const [backend, job] of [[b, sleeper.value], [t, torque.value]] as const) {
      const j = await job?.catch(() => undefined);
      if (j) await backend.cancel([j.id]).catch(() => undefined);
    }
  });

  test('a 3×4 grid is one array job; every element ends completed with its own output and records', async () => {
    const g = await grid;
    assert.match(readFileSync(g.scriptPath, 'utf8'), /^#SBATCH --array=0-11$/m);
    await waitState(b, g.id, done, 120_000, 'the whole array ended');
    const ids = gridElements.map((e) => b.elementId(g.id, e.index));
    const states = await b.query(ids);
    for (const e of gridElements) {
      const id = b.elementId(g.id, e.index);
      const s = states.get(id)!;
      assert.equal([id, s.state, s.exitCode], [id, 'completed', 0]);
      const p = points[e.index]!;
      assert.is(readFileSync(join(e.runDir, 'stdout'), 'utf8'), `name=${e.jobName} lr=${p.lr} bs=${p.bs}\n`);
      assert.is(readFileSync(join(e.runDir, 'stderr'), 'utf8'), 'to stderr\n');
      assert.is(readEndRecord(e.runDir)?.exit_code, 0);
      assert.ok(existsSync(join(e.runDir, 'qdo-start.json')));
      assert.ok(!existsSync(join(e.runDir, 'slurm-' + g.id + '.out')), "Slurm's own output is not in the element's folder");
    }
    // Slurm's own output files, one per element, are in the array's folder only.
    const own = readdirSync(g.runDir).filter((f) => f.startsWith('slurm-')).sort();
    assert.equal(own, gridElements.map((e) => `slurm-${g.id}_${e.index}.out`).sort());
  });

  test('query by element id, asked alone, gives completed', async () => {
    const g = await grid;
    const id = b.elementId(g.id, 7);
    const s = await waitState(b, id, done, 60_000, 'an end');
    assert.equal([s.id, s.state, s.exitCode], [id, 'completed', 0]);
  });

  test('a job waiting on one element (afterok:<array>_3) runs after that element', async () => {
    const g = await grid;
    const j = await after3;
    const s = await waitState(b, j.id, done, 120_000, 'an end');
    assert.is(s.state, 'completed');
    const ranAt = Number(readFileSync(join(j.runDir, 'stdout'), 'utf8').trim()) / 1e9;
    const elementEnd = Date.parse(readEndRecord(gridElements[3]!.runDir)!.time) / 1000;
    assert.ok(ranAt >= elementEnd - 1, `dependent of ${b.elementId(g.id, 3)} ran at ${ranAt}, the element ended at ${elementEnd}`);
  });

  test('cancelling one element of a sleeping array stops that element only', async () => {
    const sl = await sleeper();
    const one = b.elementId(sl.id, 1);
    await waitState(b, one, (s) => s.state === 'running', 60_000, 'running');
    await waitFor('element 1 start record', async () => (existsSync(join(sleepers[1]!.runDir, 'qdo-start.json')) ? true : undefined), 30_000, 100);
    await b.cancel([one]);
    const s = await waitState(b, one, done, 30_000, 'an end');
    assert.is(s.state, 'cancelled');
    const others = await b.query([b.elementId(sl.id, 0), b.elementId(sl.id, 2)]);
    assert.equal(
      [...others.values()].map((x) => x.state),
      ['running', 'running'],
    );
    await waitFor('element 1 end record', async () => (readEndRecord(sleepers[1]!.runDir)?.exit_code != null ? true : undefined), 30_000, 100);
    // Slurm signals every process of the element; the wrapper usually sees TERM first and
    // records it, but may see its script die first (143, no signal: spec/submissions.md
    // §Refresh leaves such an end to the scheduler, which said cancelled above).
    const end = readEndRecord(sleepers[1]!.runDir)!;
    assert.ok(end.signal === 'TERM' || (end.signal === null && end.exit_code === 143), JSON.stringify(end));
    assert.ok(!existsSync(join(sleepers[0]!.runDir, 'qdo-end.json')), 'element 0 still running');
    await b.cancel([sl.id]);
    await waitState(b, sl.id, (x) => x.state === 'cancelled', 30_000, 'cancelled');
  });

  test("TORQUE (Slurm's wrapper): qsub -t packs; element ids query and cancel through Slurm", async () => {
    const j = await torque();
    assert.match(readFileSync(j.scriptPath, 'utf8'), /^#PBS -t 0-2$/m);
    assert.match(j.id, /^\d+$/);
    for (const i of [0, 1]) {
      const s = await waitState(t, t.elementId(j.id, i), done, 120_000, 'an end');
      assert.equal([s.state, s.exitCode], ['completed', 0]);
      assert.is(readFileSync(join(torqueEls[i]!.runDir, 'stdout'), 'utf8'), `tq ${i}\n`);
    }
    const last = t.elementId(j.id, 2);
    await waitState(t, last, (s) => s.state === 'running', 60_000, 'running');
    await waitFor('element 2 start record', async () => (existsSync(join(torqueEls[2]!.runDir, 'qdo-start.json')) ? true : undefined), 30_000, 100);
    await t.cancel([last]);
    assert.is((await waitState(t, last, done, 30_000, 'an end')).state, 'cancelled');
  });

  test('1,000 elements: sbatch takes the script; element 999 is addressable while held', async () => {
    const many: ElementSpec[] = Array.from({ length: 1000 }, (_, i) => ({
      index: i,
      jobName: `big-${i}`,
      runDir: runsOf(`big-${i}`),
      script: `# point ${i}\necho "lr=$QDO_PARAM_LR seed=${i}"\npython3 train.py --lr "$QDO_PARAM_LR" --seed ${i} --out "$QDO_RUN_DIR/model.pt"\n`,
      env: { QDO_PARAM_LR: String(i / 1000), QDO_PARAM_SEED: String(i) },
      tag: `0123456789abcdef0123456789abcdef01234${String(i).padStart(3, '0')}`,
    }));
    const big = await submitSpec(b, root, 'big', { jobName: 'big', elements: many }, true);
    try {
      const size = readFileSync(big.scriptPath).length;
      assert.ok(size < b.maxScriptBytes / 4, `${size} bytes`);
      const m = await b.query([big.id, b.elementId(big.id, 999)]);
      assert.is(m.get(big.id)!.state, 'held');
      assert.is(m.get(b.elementId(big.id, 999))!.state, 'held');
    } finally {
      await b.cancel([big.id]);
    }
  });
});
