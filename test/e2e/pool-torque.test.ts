// A pool whose pilot jobs go to a PBS-family scheduler: TORQUE's qsub/qstat as Slurm's
// slurm-wlm-torque wrappers provide them on the test cluster (spec/pools.md §Pilots). The
// pool code is the same for every scheduler: pilots are rendered and submitted by the
// backend, so this shows the TORQUE dialect (qsub -l, its job ids, qstat) end to end.
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, qdo, type RunOptions } from '../helpers/cli.js';
import { removeScratch, scratchDir, slurmSuite } from '../helpers/slurm.js';
import { counts } from '../helpers/pool.js';
import { detectPbs } from '../../src/scheduler/pbs/version.js';
import { runCommand } from '../../src/scheduler/runner.js';

type Obj = Record<string, any>;

await slurmSuite('a pool with TORQUE pilots (slurm-wlm-torque)', async (test) => {
  const pbs = await detectPbs(runCommand);
  if (pbs?.slurmWrapper !== true) {
    if (process.env.QDO_REQUIRE_SLURM === '1') test('slurm-wlm-torque wrappers are installed', () => assert.unreachable(`qstat is not Slurm's TORQUE wrapper: ${JSON.stringify(pbs)}`));
    else console.log('skipping pool torque e2e: qstat is not the slurm-wlm-torque wrapper');
    return;
  }
  const home = scratchDir('pool-torque');
  const o: RunOptions = { home, now: 'real' };
  const out = join(home, 'out');
  mkdirSync(out);
  const pilotsDir = join(home, '.qdo/pools/tq/pilots');
  const pilots = (): Obj[] => readdirSync(pilotsDir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(pilotsDir, f), 'utf8')));
  test.after(async () => {
    const ids = pilots().filter((p) => p.sched_id).map((p) => p.sched_id as string);
    if (ids.length) await runCommand(['qdel', ...ids], { retries: 0 }).catch(() => undefined);
  });
  test.after(() => removeScratch(home));
  const run = async (args: string[]) => {
    const r = await qdo(args, o);
    assert.is(r.code, 0, `qdo ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };

  test('24 runs through one TORQUE pilot job of 4 slots: all completed, each once', async () => {
    await run(['project', 'add', 'p']);
    await run(['pool', 'add', 'tq', '--scheduler', 'torque', '--nodes', '0..1', '--slots', '4', '--cpus', '1', '--time', '10m', '--idle', '5s', '--worker-command', `${process.execPath} ${BIN}`]);
    const values = Array.from({ length: 24 }, (_, i) => i).join(',');
    await run(['submit', 'p/t{{i}}', '--pool', 'tq', '--grid', `i=${values}`, '--', 'bash', '-c', `echo "$QDO_POOL_WORKER" >> ${out}/$QDO_PARAM_i`]);
    const w = await qdo(['wait', 'p/*', '--timeout', '5m'], o);
    assert.is(w.code, 0, `${w.stdout}${w.stderr}`);
    assert.equal([...counts(out).values()], Array(24).fill(1));
    assert.is(pilots().length, 1, 'one qsub');
    const script = readFileSync(join(pilotsDir, pilots()[0]!.key, 'job.torque.sh'), 'utf8');
    assert.match(script, /^#PBS /m, 'rendered by the TORQUE backend');
    const show = JSON.parse(await run(['show', '--json', 'p/t3']));
    assert.is(show.pool_run.pilot, pilots()[0]!.sched_id);
  });
});
