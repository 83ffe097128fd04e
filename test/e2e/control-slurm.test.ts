// qdo hold, release, cancel and wait on the real Slurm, through the CLI in-process
// (spec/porcelain.md §qdo cancel|hold|release, §qdo wait). The clock is real here: wait
// must learn a cancel from squeue, which refresh asks only once per status interval
// (set to 2 s for this allocation).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { main } from '../../src/cli/main.js';
import { testContext, type RunResult } from '../helpers/cli.js';
import { removeScratch, scratchDir, slurmSuite, waitFor } from '../helpers/slurm.js';

await slurmSuite('qdo cancel/hold/release/wait on Slurm (e2e)', (test) => {
  const home = scratchDir('control-slurm');
  const env = { QDO_SCHEDULER: 'slurm' };

  async function run(args: string[]): Promise<RunResult> {
    let out = '';
    let err = '';
    const ctx = { ...testContext({ home, env }), now: () => new Date() };
    const code = await main(args, { stdout: (c) => void (out += c.toString()), stderr: (c) => void (err += c), readStdin: async () => Buffer.alloc(0), isTTY: false, color: false }, ctx);
    return { code, stdout: out, stderr: err };
  }

  async function state(job: string): Promise<string> {
    const r = await run(['status', '--json', '--refresh', job]);
    assert.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).jobs[0].state;
  }

  test.after(async () => {
    await run(['cancel', 'p']); // nothing left queued if a test failed half-way
  });
  test.after(() => removeScratch(home));

  test('hold and release a held job, cancel a running one, wait exits 1 naming it', async () => {
    assert.is((await run(['project', 'add', 'p'])).code, 0);
    writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ status_interval: 2 }) + '\n');
    const a = await run(['submit', 'p/a', '--hold', '--time', '5', '--json', '--', 'true']);
    assert.is(a.code, 0, a.stderr);
    const b = await run(['submit', 'p/b', '--time', '5', '--json', '--', 'sleep', '300']);
    assert.is(b.code, 0, b.stderr);
    const { sched_id: bId, run_dir: bDir } = JSON.parse(b.stdout);

    const h = await run(['hold', 'p/a', '--json']);
    assert.is(h.code, 0, h.stderr);
    assert.is(JSON.parse(h.stdout).jobs[0].outcome, 'done');
    assert.is(await state('p/a'), 'held', 'squeue says held');

    const r = await run(['release', 'p/a']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /^p\/a@1: released \(slurm job \d+\)\n$/);

    await waitFor('p/b to run', async () => ((await state('p/b')) === 'running' ? true : undefined), 60_000);
    // Slurm says RUNNING before the wrapper has set its traps; cancel once it is under way.
    await waitFor('p/b to start its script', async () => (existsSync(join(bDir, 'qdo-start.json')) ? true : undefined), 30_000, 100);
    const c = await run(['cancel', 'p/b']);
    assert.is(c.code, 0, c.stderr);
    assert.is(c.stdout, `p/b@1: cancel requested (slurm job ${bId})\n`);

    const w = await run(['wait', 'p/*', '--timeout', '2m', '--json']);
    assert.is(w.code, 1, w.stderr);
    const out = JSON.parse(w.stdout);
    assert.is(out.outcome, 'failed');
    assert.equal(
      out.jobs.map((j: { job: string; state: string }) => [j.job, j.state]),
      [
        ['p/a', 'completed'],
        ['p/b', 'cancelled'],
      ],
    );
    const human = await run(['wait', 'p/*']);
    assert.is(human.code, 1);
    assert.match(human.stdout, /^1 of 2 job\(s\) did not complete:\n {2}p\/b@1 cancelled/);

    // Ended jobs are not sent to Slurm again, and that is not an error.
    const again = await run(['cancel', 'p/a', 'p/b']);
    assert.is(again.code, 0, again.stderr);
    assert.is(again.stdout, 'p/a@1 already completed: nothing to cancel\np/b@1 already cancelled: nothing to cancel\n');
  });
});
