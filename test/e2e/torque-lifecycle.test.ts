// The TORQUE backend end to end against Slurm's TORQUE-dialect wrapper scripts
// (slurm-wlm-torque: qsub/qstat/qdel/qhold/qrls over Slurm), with the real job wrapper.
// The wrapper's qstat prints no exit status (C only), so finished jobs are answered by
// their own exit records, as core does (spec/scheduler-pbs.md §Slurm's TORQUE wrapper).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { TorqueBackend } from '../../src/scheduler/pbs/backend-torque.js';
import { detectPbs } from '../../src/scheduler/pbs/version.js';
import { runCommand } from '../../src/scheduler/runner.js';
import { TERMINAL_STATES, type JobState } from '../../src/scheduler/types.js';
import { exitRecordReader, readEndRecord, scratchDir, slurmSuite, started, submitSpec, waitFor, waitState } from '../helpers/slurm.js';

const finished = (s: JobState) => TERMINAL_STATES.has(s.state) || (s.raw === 'C' && s.state === 'unknown');

await slurmSuite('torque backend over slurm-wlm-torque (e2e)', async (test) => {
  const pbs = await detectPbs(runCommand);
  if (pbs?.slurmWrapper !== true) {
    if (process.env.QDO_REQUIRE_SLURM === '1') {
      test('slurm-wlm-torque wrappers are installed', () => {
        throw new Error(`QDO_REQUIRE_SLURM=1 but qstat is not Slurm's TORQUE wrapper (detected: ${JSON.stringify(pbs)})`);
      });
    } else console.log('skipping torque e2e: qstat is not the slurm-wlm-torque wrapper');
    return;
  }
  const root = scratchDir('torque-e2e', test);
  const runDirs = new Map<string, string>();
  const b = new TorqueBackend({ readExitRecord: exitRecordReader(runDirs) });
  const remember = async (p: ReturnType<typeof submitSpec>) => {
    const job = await p;
    runDirs.set(job.id, job.runDir);
    return job;
  };
  const ok = started(remember(submitSpec(b, root, 'ok', { resources: { cpus: 2, time: 120 }, script: 'echo "hello $QDO_JOB_NAME $QDO_NCPUS $QDO_TAG"\n', tag: 'm-e2e' })));
  const bad = started(remember(submitSpec(b, root, 'bad', { script: 'echo oops >&2\nexit 3\n' })));
  const arr = started(remember(submitSpec(b, root, 'arr', { resources: { array: '1-2' }, script: 'echo "task $QDO_ARRAY_INDEX"\n' })));

  test('the wrapper is detected as TORQUE without a version', () => {
    assert.equal(pbs, { flavor: 'torque', version: null, slurmWrapper: true });
  });

  test('completed: #PBS directives honoured, logs in the run folder, state from the exit record', async () => {
    const job = await ok;
    assert.match(job.id, /^\d+$/);
    const s = await waitState(b, job.id, finished, 60_000, 'an end');
    assert.equal([s.state, s.exitCode, s.source], ['completed', 0, 'exit-record']);
    // QDO_NCPUS from ppn=2 (SLURM_CPUS_ON_NODE), the tag from `#PBS -v`.
    assert.is(readFileSync(join(job.runDir, 'stdout'), 'utf8'), 'hello ok 2 qdo:m-e2e\n');
    assert.is(readEndRecord(job.runDir)?.exit_code, 0);
  });

  test('failed: exit 3 → failed with exit code 3; one query answers several ids', async () => {
    const job = await bad;
    await waitState(b, job.id, finished, 60_000, 'an end');
    const okJob = await ok;
    const m = await b.query([job.id, okJob.id, '99999999', 'not-an-id']);
    assert.equal([m.get(job.id)!.state, m.get(job.id)!.exitCode], ['failed', 3]);
    assert.is(readFileSync(join(job.runDir, 'stderr'), 'utf8'), 'oops\n');
    assert.is(m.get(okJob.id)!.state, 'completed');
    assert.equal([m.get('99999999')!.state, m.get('99999999')!.source], ['unknown', 'none']);
    assert.is(m.get('not-an-id')!.reason, 'not a TORQUE job id');
  });

  test('held at submit (qsub -h), released, completed', async () => {
    const job = await remember(submitSpec(b, root, 'held', { script: 'true\n' }, true));
    const held = (await b.query([job.id])).get(job.id)!;
    assert.equal([held.state, held.raw, held.source], ['held', 'Q', 'queue']);
    await b.release([job.id]);
    const s = await waitState(b, job.id, finished, 60_000, 'an end');
    assert.is(s.state, 'completed');
  });

  test('hold and release a queued job (held behind a running one through a dependency)', async () => {
    const blocker = await remember(submitSpec(b, root, 'blocker', { script: 'sleep 300\n' }));
    const waiting = await remember(submitSpec(b, root, 'waiting', { script: 'true\n', dependencies: [{ type: 'afterok', ids: [blocker.id] }] }));
    assert.is((await b.query([waiting.id])).get(waiting.id)!.state, 'pending');
    await b.hold([waiting.id]);
    assert.is((await b.query([waiting.id])).get(waiting.id)!.state, 'held');
    await b.release([waiting.id]);
    assert.is((await b.query([waiting.id])).get(waiting.id)!.state, 'pending');
    await b.cancel([blocker.id, waiting.id]);
    const m = await waitFor(
      'both to end',
      async () => {
        const q = await b.query([blocker.id, waiting.id]);
        return [...q.values()].every(finished) ? q : undefined;
      },
      30_000,
    );
    assert.is(m.get(waiting.id)!.raw, 'C');
  });

  test('cancel while running: the wrapper records the TERM; the exit record answers; cancelling again is fine', async () => {
    const job = await remember(submitSpec(b, root, 'cancel', { script: 'touch "$QDO_RUN_DIR/script-started"\nsleep 300\n' }));
    await waitState(b, job.id, (s) => s.state === 'running', 30_000, 'running');
    // Slurm says R before the wrapper has set its traps: wait until the script runs.
    await waitFor('the script to start', async () => (existsSync(join(job.runDir, 'script-started')) ? true : undefined), 30_000, 200);
    await b.cancel([job.id]);
    const s = await waitState(b, job.id, finished, 30_000, 'an end');
    // The wrapper's qstat only says C; the state is what core's exit-record reader makes
    // of the end record (here the test helper's simple reader: exit 143 → failed).
    const end = readEndRecord(job.runDir);
    assert.is(end?.signal, 'TERM');
    assert.equal(s, await exitRecordReader(runDirs)(job.id));
    assert.is(s.source, 'exit-record');
    await b.cancel([job.id]);
  });

  test('array (-t 1-2): both tasks run in their own task folders', async () => {
    const job = await arr;
    await waitFor(
      'both array tasks to finish',
      async () => (readEndRecord(join(job.runDir, '1')) && readEndRecord(join(job.runDir, '2')) ? true : undefined),
      60_000,
    );
    assert.is(readFileSync(join(job.runDir, '1', 'stdout'), 'utf8'), 'task 1\n');
    assert.is(readFileSync(join(job.runDir, '2', 'stdout'), 'utf8'), 'task 2\n');
    const s = (await b.query([job.id])).get(job.id)!;
    assert.ok(['running', 'pending', 'unknown'].includes(s.state), s.state);
  });

  test('findByTag: the wrapper prints no Variable_List, so nothing is found (documented limit)', async () => {
    await ok;
    assert.is(await b.findByTag('m-e2e'), null);
  });
});
