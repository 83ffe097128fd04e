// Jobs the controller has purged (spec/scheduler-slurm.md §Purged jobs), on the real Slurm:
// squeue says "Invalid job id specified"; the state must come from sacct, or with
// accounting off from the job's own exit record, and otherwise be 'unknown', never 'failed'.
// Needs a small MinJobAge (test/cluster/slurm-up.sh with SLURMBOX_MINJOBAGE=5): with 5 s,
// 22.05 drops a finished job from squeue about 5–15 s after it ends.
import * as assert from 'uvu/assert';
import { runCommand } from '../../src/scheduler/runner.js';
import { SlurmBackend } from '../../src/scheduler/slurm/backend.js';
import { exitRecordReader, scratchDir, slurmConfig, slurmSuite, started, submitSpec, waitFor, type E2EJob } from '../helpers/slurm.js';

const MAX_MIN_JOB_AGE = 30;

/** Resolves once squeue no longer knows the job. */
async function purged(job: E2EJob, minJobAge: number): Promise<void> {
  await waitFor(
    `squeue to forget job ${job.id} (MinJobAge ${minJobAge} s)`,
    async () => {
      try {
        const r = await runCommand(['squeue', '-h', '-t', 'all', '-j', job.id, '-o', '%i'], { retries: 0 });
        return r.stdout.trim() === '' ? true : undefined;
      } catch (e) {
        if (/Invalid job id specified/.test(String((e as { data?: { stderr?: string } }).data?.stderr))) return true;
        throw e;
      }
    },
    (minJobAge + 90) * 1000,
    1000,
  );
}

await slurmSuite('slurm purged jobs (e2e)', async (test) => {
  const minJobAge = parseInt((await slurmConfig('MinJobAge')) ?? '300', 10);
  const storage = (await slurmConfig('AccountingStorageType')) ?? '';
  if (minJobAge === 0 || minJobAge > MAX_MIN_JOB_AGE) {
    const why = `MinJobAge is ${minJobAge} s here; start Slurm with SLURMBOX_MINJOBAGE=5 bash test/cluster/slurm-up.sh`;
    if (process.env.QDO_REQUIRE_SLURM === '1') {
      test('MinJobAge is small enough to see a purge', () => {
        throw new Error(why);
      });
    } else {
      console.log(`skipping slurm purged jobs (e2e): ${why}`);
    }
    return;
  }

  const root = scratchDir('slurm-purge', test);
  const submitter = new SlurmBackend();
  const ok = started(submitSpec(submitter, root, 'ok', { script: 'echo done\n' }));
  const bad = started(submitSpec(submitter, root, 'bad', { script: 'exit 3\n' }));
  const gone = started(Promise.all([ok, bad]).then(([a, c]) => Promise.all([purged(a, minJobAge), purged(c, minJobAge)])));

  test('with accounting: purged jobs are answered by ONE sacct call', async () => {
    await gone;
    const [a, c] = [await ok, await bad];
    const calls: string[][] = [];
    const b = new SlurmBackend({ runner: (argv, o) => (calls.push(argv), runCommand(argv, o)) });
    const m = await b.query([a.id, c.id]);
    assert.equal(calls.map((x) => x[0]), ['squeue', 'sacct']);
    if (storage.endsWith('/none')) {
      // No accounting on this cluster: auto mode learns that and answers unknown.
      assert.is(m.get(a.id)!.state, 'unknown');
      assert.match(m.get(a.id)!.reason!, /accounting storage is disabled/);
      return;
    }
    assert.equal([m.get(a.id)!.state, m.get(a.id)!.source, m.get(a.id)!.exitCode], ['completed', 'accounting', 0]);
    assert.equal([m.get(c.id)!.state, m.get(c.id)!.source, m.get(c.id)!.exitCode], ['failed', 'accounting', 3]);
  });

  test('with accounting off: the exit record answers; without one, unknown (never failed)', async () => {
    await gone;
    const [a, c] = [await ok, await bad];
    const calls: string[][] = [];
    const runner = (argv: string[], o?: Parameters<typeof runCommand>[1]) => (calls.push(argv), runCommand(argv, o));
    const withRecords = new SlurmBackend({
      runner,
      accounting: 'off',
      readExitRecord: exitRecordReader(new Map([[a.id, a.runDir], [c.id, c.runDir]])),
    });
    const m = await withRecords.query([a.id, c.id]);
    assert.equal(calls.map((x) => x[0]), ['squeue']);
    assert.equal([m.get(a.id)!.state, m.get(a.id)!.source, m.get(a.id)!.exitCode], ['completed', 'exit-record', 0]);
    assert.equal([m.get(c.id)!.state, m.get(c.id)!.source, m.get(c.id)!.exitCode], ['failed', 'exit-record', 3]);

    const bare = new SlurmBackend({ accounting: 'off' });
    const u = await bare.query([a.id, c.id]);
    assert.equal(u.get(c.id), { id: c.id, state: 'unknown', raw: '', source: 'none', reason: 'not in squeue; accounting is off' });
  });
});
