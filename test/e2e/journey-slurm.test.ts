// The user's day on the real Slurm, through the porcelain only (issue 4's journey): submit
// from a template, supersede, status, wait, logs, cancel, a real TIMEOUT retried with more
// time, diff, gc. Fails (does not skip) in CI when Slurm is missing (QDO_REQUIRE_SLURM=1).
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, type RunOptions } from '../helpers/cli.js';
import { scratchDir, slurmSuite } from '../helpers/slurm.js';
import { timeLimit } from '../helpers/uvu-timed.js';

type Job = Record<string, unknown>;

await slurmSuite('the job lifecycle on Slurm', async (test) => {
  const home = scratchDir('journey', test);
  const o: RunOptions = { home, env: { QDO_SCHEDULER: 'slurm' }, now: 'real' };
  const run = async (args: string[], want = 0) => {
    const r = await qdo(args, o);
    assert.is(r.code, want, `qdo ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const jobOf = async (rev: string): Promise<Job> => JSON.parse((await run(['show', rev, '--json'])).stdout);
  // Asked every second in this test, not every 30 s.
  await run(['project', 'add', 'paper']);
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ status_interval: 1 }));
  mkdirSync(join(home, 'paper/resources'), { recursive: true });
  writeFileSync(join(home, 'paper/resources/train.sh'), '#!/bin/bash\necho "lr={{ lr }} on $QDO_JOB_ID"\nsleep {{ secs }}\necho done >&2\n');

  // Started first: Slurm enforces time limits in whole minutes, checked about every 30 s, so
  // a 1-minute job is stopped between 60 and ~95 s. 110 s is surely past that, and surely
  // within the 2 minutes of the retry (a job ending near the check can be recorded TIMEOUT
  // even though its script exited 0).
  const slow = JSON.parse((await run(['submit', 'paper/slow', '--script', 'train.sh', '--set', 'lr=0', '--set', 'secs=110', '--time', '1', '--json'])).stdout);

  test('submit from a template, wait, logs', async () => {
    const s = JSON.parse((await run(['submit', 'paper/train', '--script', 'train.sh', '--set', 'lr=0.1', '--set', 'secs=1', '--time', '5m', '--json'])).stdout);
    assert.is(s.scheduler, 'slurm');
    assert.match(s.sched_id, /^\d+$/);
    await run(['wait', 'paper/train', '--timeout', '3m']);
    const j = await jobOf('paper/train');
    assert.is(j.state, 'completed');
    assert.is((await run(['logs', 'paper/train'])).stdout, `lr=0.1 on ${s.sched_id}\n`);
    assert.is((await run(['logs', 'paper/train', '--err'])).stdout, 'done\n');
  });

  test('supersede: version 2, status shows it, diff names the change', async () => {
    const s = JSON.parse((await run(['submit', 'paper/train', '--set', 'lr=0.2', '--json'])).stdout);
    assert.is(s.job_version, 2);
    await run(['wait', 'paper/train', '--timeout', '3m']);
    const st = JSON.parse((await run(['status', '--json', '--all-versions', 'paper/train'])).stdout);
    assert.equal(st.jobs.map((j: Job) => [j.job_version, j.state, j.latest]), [
      [2, 'completed', true],
      [1, 'completed', false],
    ]);
    const d = JSON.parse((await run(['diff', 'paper/train@1', 'paper/train', '--json'])).stdout);
    assert.equal(d.params.changed, { lr: { a: '0.1', b: '0.2' } });
    assert.match(d.script.diff, /-echo "lr=0\.1 on \$QDO_JOB_ID"\n\+echo "lr=0\.2 on \$QDO_JOB_ID"/);
    assert.is((await run(['logs', 'paper/train@1'])).stdout.startsWith('lr=0.1 on '), true);
  });

  test('cancel a running job; wait reports it and exits 1', async () => {
    await run(['submit', 'paper/long', '--', 'sleep', '300']);
    await run(['cancel', 'paper/long']);
    const w = await run(['wait', 'paper/long', '--timeout', '2m'], 1);
    assert.match(w.stdout + w.stderr, /paper\/long.*cancelled/);
    assert.is((await jobOf('paper/long')).state, 'cancelled');
  });

  // Two waits of up to 4 minutes each (a 1-minute job that runs out, then its 2-minute retry).
  test('a real TIMEOUT, retried with twice the time, completes', timeLimit(9 * 60_000, async () => {
    await run(['wait', 'paper/slow', '--timeout', '4m'], 1);
    const t = await jobOf('paper/slow');
    assert.is(t.state, 'timeout', JSON.stringify(t));
    const r = JSON.parse((await run(['retry', 'paper/slow', '--time', 'x2', '--json'])).stdout);
    const again = r.retried[0];
    assert.is(again.job_version, 2);
    const m = JSON.parse((await run(['cat-object', again.id])).stdout);
    assert.is(m.resources.time, 120);
    assert.is(m.parent, slow.id);
    await run(['wait', 'paper/slow', '--timeout', '4m']);
    assert.is((await jobOf('paper/slow')).state, 'completed');
  }));

  test('gc keeps the latest version of each job, removes the older run folders', async () => {
    const v1 = (await jobOf('paper/train@1')) as { paths: { run_dir: string } };
    const v2 = (await jobOf('paper/train')) as { paths: { run_dir: string } };
    assert.ok(existsSync(v1.paths.run_dir));
    await run(['gc', '--keep', '1']);
    assert.not.ok(existsSync(v1.paths.run_dir));
    assert.ok(existsSync(v2.paths.run_dir));
    assert.is(readFileSync(join(v2.paths.run_dir, 'stdout'), 'utf8').startsWith('lr=0.2'), true);
    const log = JSON.parse((await run(['log', 'paper/train', '--json'])).stdout);
    assert.is(log.versions.length, 2);
    await run(['fsck']);
  });
});
