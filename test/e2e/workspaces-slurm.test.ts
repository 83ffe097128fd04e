// Issue 10 (first part) on the real Slurm, through the porcelain: a nested project runs its
// parent's template, which includes an allocation-wide shared resource; the ended run is
// archived to a second allocation when `qdo wait` sees it end, its local copy dropped by
// gc --archived and fetched back by qdo pull.
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { slurmSuite } from '../helpers/slurm.js';

await slurmSuite('shared resources and archives on Slurm', async (test) => {
  const home = tempDir('qdo-ws-home-');
  const arch = tempDir('qdo-ws-arch-');
  test.after(() => {
    removeDir(home);
    removeDir(arch);
  });
  const o: RunOptions = { home, env: { QDO_SCHEDULER: 'slurm' }, now: 'real' };
  const run = async (args: string[], want = 0) => {
    const r = await qdo(args, o);
    assert.is(r.code, want, `qdo ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  };
  await run(['init', arch]);
  await run(['project', 'add', 'paper']);
  await run(['project', 'add', 'paper/run']);
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ status_interval: 1 }));
  mkdirSync(join(home, 'paper/resources'), { recursive: true });
  writeFileSync(join(home, 'paper/resources/train.sh.njk'), '#!/bin/bash\n{% include "env.sh" %}echo "{{ job.project }} lr={{ lr }} on $QDO_JOB_ID" > "$QDO_RUN_DIR/out.csv"\n');
  writeFileSync(join(home, 'env.sh'), 'echo "shared env"\n');
  await run(['resource', 'add', '--shared', join(home, 'env.sh')]);
  mkdirSync(join(home, '.qdo/project-config'), { recursive: true });
  writeFileSync(join(home, '.qdo/project-config/paper+run.json'), JSON.stringify({ archive: arch }));

  test("a nested project runs its parent's template; the run is archived at its end, dropped, fetched back", async () => {
    const s = JSON.parse((await run(['submit', 'paper/run/train', '--script', 'train.sh.njk', '--set', 'lr=0.1', '--time', '5m', '--json'])).stdout);
    assert.is(s.scheduler, 'slurm');
    await run(['wait', 'paper/run/train', '--timeout', '3m']);
    assert.is((await run(['logs', 'paper/run/train'])).stdout, 'shared env\n');
    const copy = join(arch, `paper/run/runs/train/1-${s.id.slice(0, 8)}`);
    assert.is(readFileSync(join(copy, 'out.csv'), 'utf8'), `paper/run lr=0.1 on ${s.sched_id}\n`, 'archived when wait saw the end');
    const g = JSON.parse((await run(['gc', '--archived', '--json'])).stdout);
    assert.equal(g.archived.map((x: { job: string }) => x.job), ['paper/run/train']);
    assert.not.ok(existsSync(s.run_dir));
    await run(['logs', 'paper/run/train'], 3);
    await run(['pull', 'paper/run/train']);
    assert.is(readFileSync(join(s.run_dir, 'out.csv'), 'utf8'), `paper/run lr=0.1 on ${s.sched_id}\n`);
    assert.is((await run(['logs', 'paper/run/train'])).stdout, 'shared env\n');
  });
});
