// The PBS Pro backend end to end: the real wrapper, real Slurm jobs, and the PBS Pro
// stand-in commands of test/helpers/pbs-standin (qsub/qstat/qselect/qdel/qhold/qrls that
// speak PBS Pro's arguments and print its formats). The stand-in is found through the
// runner's PATH only, so other test files keep the real commands.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { PbsProBackend } from '../../src/scheduler/pbs/backend-pbspro.js';
import { detectPbs } from '../../src/scheduler/pbs/version.js';
import { runCommand, type Runner } from '../../src/scheduler/runner.js';
import { TERMINAL_STATES, type JobState } from '../../src/scheduler/types.js';
import { readEndRecord, scratchDir, slurmSuite, started, submitSpec, waitFor, waitState } from '../helpers/slurm.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const STANDIN = join(root, 'test/helpers/pbs-standin');
const run: Runner = (argv, opts = {}) => runCommand(argv, { ...opts, env: { ...opts.env, PATH: `${STANDIN}:${process.env.PATH ?? ''}` } });
const done = (s: JobState) => TERMINAL_STATES.has(s.state);

await slurmSuite('pbs pro backend over the stand-in (e2e)', (test) => {
  const dir = scratchDir('pbs-e2e', test);
  const b = new PbsProBackend({ runner: run });
  const ok = started(submitSpec(b, dir, 'ok', { resources: { cpus: 2, time: 120 }, script: 'echo "hello $QDO_JOB_NAME $QDO_NCPUS $QDO_TAG"\n', tag: 'm-ok' }));
  const bad = started(submitSpec(b, dir, 'bad', { script: 'exit 4\n' }));
  const arr = started(submitSpec(b, dir, 'arr', { resources: { array: '1-2' }, script: 'echo "task $QDO_ARRAY_INDEX"\n' }));

  test('detected as PBS Pro', async () => {
    assert.equal(await detectPbs(run), { flavor: 'pbspro', version: '2022.1.7-standin' });
  });

  test('completed and failed: states from qstat -x -F json history records, one call', async () => {
    const [a, c] = [await ok, await bad];
    assert.match(a.id, /^\d+\.standin$/);
    await waitState(b, a.id, done, 60_000, 'an end');
    await waitState(b, c.id, done, 60_000, 'an end');
    const m = await b.query([a.id, c.id, '99999999.standin']);
    assert.equal([m.get(a.id)!.state, m.get(a.id)!.exitCode, m.get(a.id)!.source, m.get(a.id)!.raw], ['completed', 0, 'history', 'F']);
    assert.equal([m.get(c.id)!.state, m.get(c.id)!.exitCode], ['failed', 4]);
    assert.equal([m.get('99999999.standin')!.state, m.get('99999999.standin')!.source], ['unknown', 'none']);
    assert.is(readFileSync(join(a.runDir, 'stdout'), 'utf8'), 'hello ok 2 qdo:m-ok\n');
    assert.ok(existsSync(join(a.runDir, 'pbs.out')), 'the scheduler\'s own output is in the run folder');
  });

  test('held at submit, found by its tag, released, completed', async () => {
    const tag = `m-held-${process.pid}-${Date.now()}`;
    const job = await submitSpec(b, dir, 'held', { script: 'true\n', tag }, true);
    assert.equal([(await b.query([job.id])).get(job.id)!.state, (await b.query([job.id])).get(job.id)!.raw], ['held', 'H']);
    assert.is(await b.findByTag(tag), job.id);
    assert.is(await b.findByTag(`${tag}-never`), null);
    await b.release([job.id]);
    assert.is((await waitState(b, job.id, done, 60_000, 'an end')).state, 'completed');
  });

  test('dependency: pending (H, substate 22) until the first job ends', async () => {
    const first = await submitSpec(b, dir, 'first', { script: 'sleep 3\n' });
    const second = await submitSpec(b, dir, 'second', { script: 'true\n', dependencies: [{ type: 'afterok', ids: [first.id] }] });
    const s = await waitState(b, second.id, (x) => x.raw === 'H' || done(x), 30_000, 'H');
    assert.equal([s.state, s.raw], ['pending', 'H']);
    assert.is((await waitState(b, second.id, done, 60_000, 'an end')).state, 'completed');
  });

  test('cancel while running → cancelled (F, substate 91, Exit_status 271); qdel again is fine', async () => {
    const job = await submitSpec(b, dir, 'cancel', { script: 'touch "$QDO_RUN_DIR/started"\nsleep 300\n' });
    await waitFor('the script to start', async () => (existsSync(join(job.runDir, 'started')) ? true : undefined), 30_000, 200);
    await b.cancel([job.id]);
    const s = await waitState(b, job.id, done, 30_000, 'an end');
    assert.equal([s.state, s.signal, s.raw], ['cancelled', 15, 'F']);
    assert.is(readEndRecord(job.runDir)?.signal, 'TERM');
    await b.cancel([job.id]);
  });

  test('array (-J 1-2): parent id N[].standin, each task in its own folder', async () => {
    const job = await arr;
    assert.match(job.id, /^\d+\[\]\.standin$/);
    const s = await waitState(b, job.id, done, 60_000, 'an end');
    assert.is(s.state, 'completed');
    assert.is(readFileSync(join(job.runDir, '1', 'stdout'), 'utf8'), 'task 1\n');
    assert.is(readFileSync(join(job.runDir, '2', 'stdout'), 'utf8'), 'task 2\n');
    assert.ok(existsSync(join(job.runDir, 'pbs.1.out')) && existsSync(join(job.runDir, 'pbs.2.out')), '^array_index^ expanded');
  });
});
