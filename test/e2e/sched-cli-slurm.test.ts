// `qdo sched` end to end on the real Slurm: the same command line as on any scheduler.
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo } from '../helpers/cli.js';
import { scratchDir, slurmSuite } from '../helpers/slurm.js';

async function until(home: string, id: string, re: RegExp): Promise<string> {
  let line = '';
  for (let i = 0; i < 300; i++) {
    line = (await qdo(['sched', 'query', '--for', 'slurm', id], { home })).stdout;
    if (re.test(line)) return line;
    await new Promise((r) => setTimeout(r, 200));
  }
  return line;
}

await slurmSuite('qdo sched on Slurm', (test) => {
  // One allocation per test, removed after the suite.
  const homes = [scratchDir('e2e', test), scratchDir('e2e', test)];
  test('submit with parameters, query to completion, logs in the run folder', async () => {
    const home = homes[0]!;
    const s = await qdo(['sched', 'submit', '--for', 'slurm', '--json', '--name', 'hello', '--cpus', '2', '--time', '5m', '--set', 'who=slurm', '--', 'sh', '-c', 'echo "hello $QDO_PARAM_who from $QDO_JOB_ID with $QDO_NCPUS cpus"'], { home });
    assert.is(s.code, 0, s.stderr);
    const sub = JSON.parse(s.stdout);
    assert.match(sub.id, /^\d+$/);
    const line = await until(home, sub.id, / (completed|failed) /);
    // Depending on MinJobAge the answer comes from squeue or from accounting.
    assert.match(line, new RegExp(`^${sub.id} completed (queue|accounting) 0 COMPLETED\n$`));
    assert.is(readFileSync(join(sub.run_dir, 'stdout'), 'utf8'), `hello slurm from ${sub.id} with 2 cpus\n`);
  });

  test('hold, release, cancel', async () => {
    const home = homes[1]!;
    const s = await qdo(['sched', 'submit', '--for', 'slurm', '--hold', '--name', 'sleeper', '--', 'sleep', '300'], { home });
    assert.is(s.code, 0, s.stderr);
    const id = s.stdout.trim();
    assert.match(await until(home, id, / held /), / held queue - PENDING/);
    assert.is((await qdo(['sched', 'release', '--for', 'slurm', id], { home })).code, 0);
    await until(home, id, / running /);
    assert.is((await qdo(['sched', 'cancel', '--for', 'slurm', id], { home })).code, 0);
    assert.match(await until(home, id, / cancelled /), new RegExp(`^${id} cancelled (queue|accounting) `));
  });
});
