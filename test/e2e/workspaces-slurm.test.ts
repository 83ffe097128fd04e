// Issue 10 on the real Slurm, through the porcelain: a nested project runs its parent's
// template, which includes an allocation-wide shared resource and writes its output with a
// relative path (the run folder is the working folder); the ended run is archived to a
// second allocation when `qdo wait` sees it end, its local copy dropped by gc --archived
// and fetched back by qdo pull. Two versions writing out.csv keep both; a container
// environment runs (a stand-in apptainer that records its arguments); --check refuses a
// job asking more CPUs than the node has, writing nothing.
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
  writeFileSync(join(home, 'paper/resources/train.sh.njk'), '#!/bin/bash\n{% include "env.sh" %}echo "{{ job.project }} lr={{ lr }} on $QDO_JOB_ID" > out.csv\n');
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

  test('two versions writing out.csv relatively keep both; artifacts J@1 and J@2 differ', async () => {
    const a = JSON.parse((await run(['submit', '--json', 'paper/w', '--time', '5m', '--', 'bash', '-c', 'echo one > out.csv'])).stdout);
    const b = JSON.parse((await run(['submit', '--json', 'paper/w', '--time', '5m', '--', 'bash', '-c', 'echo second > out.csv'])).stdout);
    await run(['wait', 'paper/w@1', 'paper/w@2', '--timeout', '3m']);
    assert.is(readFileSync(join(a.run_dir, 'out.csv'), 'utf8'), 'one\n');
    assert.is(readFileSync(join(b.run_dir, 'out.csv'), 'utf8'), 'second\n');
    const list = async (rev: string) => JSON.parse((await run(['artifacts', rev, '*.csv', '--json'])).stdout).files.map((f: { path: string; size: number }) => `${f.path} ${f.size}`);
    assert.equal(await list('paper/w@1'), ['out.csv 4']);
    assert.equal(await list('paper/w@2'), ['out.csv 7']);
    assert.match((await run(['diff', 'paper/w@1', 'paper/w@2', '--artifacts'])).stdout, /out\.csv: 4 B → 7 B/);
  });

  test('array tasks and packed sweep elements write out.csv into their own folders; TORQUE (Slurm\'s qsub) too', async () => {
    const arr = JSON.parse((await run(['submit', '--json', 'paper/arr', '--array', '1-2', '--time', '5m', '--', 'bash', '-c', 'echo "t$QDO_ARRAY_INDEX" > out.csv'])).stdout);
    await run(['submit', 'paper/g-{{ x }}', '--grid', 'x=1,22', '--time', '5m', '--', 'bash', '-c', 'echo {{ x }} > out.csv']);
    const torque = existsSync('/usr/bin/qsub');
    if (torque) await run(['submit', 'paper/tq', '--scheduler', 'torque', '--time', '5m', '--', 'bash', '-c', 'echo tq > out.csv']);
    await run(['wait', 'paper/arr', 'paper/g-1', 'paper/g-22', ...(torque ? ['paper/tq'] : []), '--timeout', '3m']);
    assert.is(readFileSync(join(arr.run_dir, '1/out.csv'), 'utf8'), 't1\n');
    assert.is(readFileSync(join(arr.run_dir, '2/out.csv'), 'utf8'), 't2\n');
    const list = async (rev: string) => JSON.parse((await run(['artifacts', rev, '*.csv', '--json'])).stdout).files.map((f: { path: string; size: number }) => `${f.path} ${f.size}`);
    assert.equal(await list('paper/arr'), ['1/out.csv 3', '2/out.csv 3']);
    assert.equal(await list('paper/g-1'), ['out.csv 2']);
    assert.equal(await list('paper/g-22'), ['out.csv 3']);
    if (torque) {
      assert.equal(await list('paper/tq'), ['out.csv 3']);
      assert.match((await run(['submit', 'paper/tq', '--scheduler', 'torque', '--check'], 2)).stderr, /--check: torque has no way to ask/);
    }
  });

  test('a container environment runs on Slurm (stand-in apptainer on the environment\'s PATH)', async () => {
    const bin = join(home, 'bin');
    mkdirSync(bin, { recursive: true });
    const log = join(home, 'apptainer.argv');
    writeFileSync(join(bin, 'apptainer'), `#!/bin/bash\nprintf '%s\\n' "$@" >${JSON.stringify(log)}\nshift; while [ "$1" != img.sif ]; do shift; done; shift; exec "$@"\n`);
    chmodSync(join(bin, 'apptainer'), 0o755);
    writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ status_interval: 1, environments: { box: { env: { PATH: `${bin}:/usr/bin:/bin`, IN: 'box' }, container: { image: 'img.sif' } } } }));
    const s = JSON.parse((await run(['submit', '--json', 'paper/c', '--env-name', 'box', '--time', '5m', '--', 'bash', '-c', 'echo "$IN" > in.txt'])).stdout);
    await run(['wait', 'paper/c', '--timeout', '3m']);
    assert.is(readFileSync(join(s.run_dir, 'in.txt'), 'utf8'), 'box\n');
    assert.is(readFileSync(log, 'utf8'), `exec\n--bind\n${s.run_dir}\n--pwd\n${s.run_dir}\nimg.sif\n/bin/bash\n${s.run_dir}/qdo-script\n`);
  });

  test('--check: sbatch --test-only refuses 64 CPUs (the node has 8) and nothing is written under .qdo; 1 CPU is accepted', async () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((n) => {
        const p = join(dir, n);
        return statSync(p).isDirectory() ? files(p) : [`${p} ${statSync(p).size}`];
      });
    const qdoFiles = () => files(join(home, '.qdo')).filter((f) => !f.includes('/.qdo/cache/')).sort();
    const before = qdoFiles();
    const r = await run(['submit', 'paper/big', '--check', '--cpus', '64', '--', 'true'], 1);
    assert.match(r.stderr, /^qdo: slurm would refuse paper\/big@1: .*(Requested node configuration is not available|CPU count)/);
    const y = await run(['submit', 'paper/big', '--check', '--cpus', '1', '--json', '--', 'true']);
    assert.is(JSON.parse(y.stdout).accepted, true);
    assert.equal(qdoFiles(), before, 'nothing written under .qdo');
    assert.not.ok(existsSync(join(home, 'paper/runs/big')));
  });
});
