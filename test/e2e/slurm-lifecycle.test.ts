// The Slurm backend on the real Slurm, with the real wrapper: every job ending
// (spec/scheduler-slurm.md §States), hold/release, arrays, dependencies, the tag.
// Jobs are submitted at import time so that they run while other files' tests run; the
// slow one (a 1-minute walltime) is awaited last.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { runCommand } from '../../src/scheduler/runner.js';
import { SlurmBackend } from '../../src/scheduler/slurm/backend.js';
import { TERMINAL_STATES } from '../../src/scheduler/types.js';
import { rejects } from '../helpers/assert.js';
import { readEndRecord, scratchDir, slurmSuite, started, submitSpec, waitState } from '../helpers/slurm.js';

const done = (s: { state: string }) => TERMINAL_STATES.has(s.state as never);

await slurmSuite('slurm lifecycle (e2e)', (test) => {
  const root = scratchDir('slurm-e2e', test);
  const b = new SlurmBackend();
  const tag = `e2e-${process.pid}-${Date.now()}`;
  const timeout = started(submitSpec(b, root, 'timeout', { resources: { time: 60 }, script: 'sleep 300\n' }));
  const ok = started(submitSpec(b, root, 'ok', { script: 'echo hello from $QDO_JOB_NAME\n' }));
  const bad = started(submitSpec(b, root, 'bad', { script: 'echo oops >&2\nexit 3\n' }));
  const arr = started(submitSpec(b, root, 'arr', { resources: { array: '1-3' }, script: 'exit $(( QDO_ARRAY_INDEX == 2 ? 3 : 0 ))\n' }));

  test('completed: state, exit code, output in the run folder, nothing in the submit folder', async () => {
    const job = await ok;
    const s = await waitState(b, job.id, done, 60_000, 'an end');
    assert.is(s.state, 'completed');
    assert.is(s.exitCode, 0);
    assert.is(s.raw, 'COMPLETED');
    assert.is(readFileSync(join(job.runDir, 'stdout'), 'utf8'), 'hello from ok\n');
    assert.equal(readEndRecord(job.runDir)?.exit_code, 0);
    assert.ok(existsSync(join(job.runDir, `slurm-${job.id}.out`)), "Slurm's own output is in the run folder");
    assert.equal(readdirSync(join(root, 'submit')), []);
  });

  test('failed: exit 3 → failed with exit code 3', async () => {
    const job = await bad;
    const s = await waitState(b, job.id, done, 60_000, 'an end');
    assert.is(s.state, 'failed');
    assert.is(s.exitCode, 3);
    assert.is(readFileSync(join(job.runDir, 'stderr'), 'utf8'), 'oops\n');
  });

  test('findByTag: the job whose comment carries the tag', async () => {
    // Held, so it stays in squeue: accounting keeps comments only with
    // AccountingStoreFlags=job_comment, which the test cluster does not set.
    const job = await submitSpec(b, root, 'tagged', { tag }, true);
    assert.is(await b.findByTag(tag), job.id);
    assert.is(await b.findByTag(`${tag}-never-submitted`), null);
    await b.cancel([job.id]);
  });

  test('cancelled while running; the wrapper still writes its end record', async () => {
    const job = await submitSpec(b, root, 'cancel', { script: 'sleep 300\n' });
    await waitState(b, job.id, (s) => s.state === 'running', 30_000, 'running');
    // RUNNING in Slurm precedes the wrapper's first lines; cancel once it is under way.
    for (let i = 0; i < 100 && !existsSync(join(job.runDir, 'qdo-start.json')); i++) await new Promise((r) => setTimeout(r, 100));
    await b.cancel([job.id]);
    const s = await waitState(b, job.id, done, 30_000, 'an end');
    assert.is(s.state, 'cancelled');
    // scancel sends TERM to every process of the job, so the script may die before the
    // wrapper sees the signal; either way the wrapper exits by itself and Slurm records
    // the wrapper's exit code, not a signal.
    // Slurm shows CANCELLED as soon as it starts signalling; the wrapper writes its final
    // record a moment later, when the script has ended. Give it that moment.
    let end = readEndRecord(job.runDir);
    for (let i = 0; i < 100 && (end === null || end.exit_code === null); i++) {
      await new Promise((r) => setTimeout(r, 100));
      end = readEndRecord(job.runDir);
    }
    assert.ok(end !== null, 'qdo-end.json written');
    assert.equal([s.exitCode, s.signal], [end!.exit_code, null]);
    await b.cancel([job.id]); // already ended: not an error
  });

  test('held at submit, released, completed; hold/release of a pending job', async () => {
    const job = await submitSpec(b, root, 'held', { script: 'true\n' }, true);
    const held = (await b.query([job.id])).get(job.id)!;
    assert.equal([held.state, held.raw, held.reason, held.source], ['held', 'PENDING', 'JobHeldUser', 'queue']);
    await b.release([job.id]);
    assert.is((await waitState(b, job.id, done, 60_000, 'an end')).state, 'completed');

    const blocker = await submitSpec(b, root, 'blocker', { script: 'sleep 300\n' });
    const waiting = await submitSpec(b, root, 'waiting', { dependencies: [{ type: 'afterok', ids: [blocker.id] }] });
    assert.is((await b.query([waiting.id])).get(waiting.id)!.state, 'pending');
    await b.hold([waiting.id]);
    assert.is((await b.query([waiting.id])).get(waiting.id)!.state, 'held');
    await b.release([waiting.id]);
    assert.is((await b.query([waiting.id])).get(waiting.id)!.state, 'pending');
    await b.cancel([blocker.id, waiting.id]);
    assert.is((await waitState(b, waiting.id, done, 30_000, 'an end')).state, 'cancelled');
    assert.is((await waitState(b, blocker.id, done, 30_000, 'an end')).state, 'cancelled');
  });

  test('array: one state per element plus the aggregate; each element has its own records', async () => {
    const job = await arr;
    await waitState(b, job.id, done, 60_000, 'an end');
    const m = await b.query([job.id]);
    assert.equal(
      [1, 2, 3].map((i) => [m.get(`${job.id}_${i}`)?.state, m.get(`${job.id}_${i}`)?.exitCode]),
      [
        ['completed', 0],
        ['failed', 3],
        ['completed', 0],
      ],
    );
    assert.is(m.get(job.id)!.state, 'failed');
    assert.is((await b.query([`${job.id}_2`])).get(`${job.id}_2`)!.exitCode, 3);
    assert.equal([1, 2, 3].map((i) => readEndRecord(join(job.runDir, String(i)))?.exit_code), [0, 3, 0]);
    assert.ok(existsSync(join(job.runDir, `slurm-${job.id}_2.out`)));
  });

  test('afterok dependency: the second job waits, then runs after the first completed', async () => {
    // The first job runs until the test lets it finish, so the second is seen waiting.
    const gate = 'for i in $(seq 300); do [ -e "$QDO_RUN_DIR/go" ] && exit 0; sleep 0.2; done; exit 1\n';
    const a = await submitSpec(b, root, 'first', { script: gate });
    const second = await submitSpec(b, root, 'second', { dependencies: [{ type: 'afterok', ids: [a.id] }] });
    const early = (await b.query([second.id])).get(second.id)!;
    assert.equal([early.state, early.reason], ['pending', 'Dependency']);
    writeFileSync(join(a.runDir, 'go'), '');
    const s = await waitState(b, second.id, done, 60_000, 'an end');
    assert.is(s.state, 'completed');
    const firstEnd = readEndRecord(a.runDir)!;
    const secondStart = JSON.parse(readFileSync(join(second.runDir, 'qdo-start.json'), 'utf8')) as { time: string };
    assert.ok(secondStart.time >= firstEnd.time, `second started ${secondStart.time}, first ended ${firstEnd.time}`);
  });

  test('sbatch --test-only accepts every directive the renderer writes', async () => {
    const spec = {
      jobName: 'all',
      resources: {
        cpus: 2, tasks: 1, nodes: 1, mem: 1024, time: 90061, partition: 'batch', account: 'proj42', qos: 'normal',
        array: '1-4%2', job_name: 'all #1', mail: { user: 'a@b.org', events: ['begin', 'fail', 'end'] }, extra: { slurm: ['--exclusive'] },
      },
      dependencies: [{ type: 'afterany' as const, ids: [(await timeout).id] }], // a live job: sbatch refuses purged ones
      tag: 'test-only',
      script: 'true\n',
      runDir: join(root, 'runs', 'all'),
      submitDir: root,
      env: {},
    };
    const path = join(root, 'all.sh');
    writeFileSync(path, b.render(spec));
    const r = await runCommand(['sbatch', '--test-only', path], { retries: 0 });
    assert.match(r.stderr, /to start at/);
    // This cluster has no GPUs: sbatch understood --gres and refused the request itself.
    writeFileSync(path, b.render({ ...spec, resources: { ...spec.resources, gpus: 1 } }));
    await rejects(() => runCommand(['sbatch', '--test-only', path], { retries: 0 }), /Invalid generic resource/);
  });

  test('timeout: a 1-minute walltime ends as timeout (Slurm checks limits every 30 s)', async () => {
    const job = await timeout;
    const s = await waitState(b, job.id, done, 150_000, 'an end');
    assert.is(s.state, 'timeout');
    assert.match(s.raw, /^TIMEOUT/);
  });
});
