// Packing sweeps into array jobs and the fault rules (spec/sweeps.md §Packing, §Intent),
// with the real Slurm backend over a fake sbatch/squeue that keeps jobs in memory and a
// slurm.conf with MaxArraySize=3, so six points make two chunks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXED_NOW, qdo, removeDir, tempDir, testContext, type RunOptions } from '../helpers/cli.js';
import { SchedulerError } from '../../src/errors.js';
import type { RunOptions as CmdOptions, RunResult, Runner } from '../../src/scheduler/runner.js';
import { runSweep, type SweepRequest } from '../../src/core/sweep.js';
import { status } from '../../src/core/status.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { readSubmission } from '../../src/store/submissions.js';
import type { Context } from '../../src/context.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-sweep-pack-');
  writeFileSync(join(home, 'slurm.conf'), 'ClusterName=fakec\nMaxArraySize=3\n');
  opts = { home, env: { SLURM_CONF: join(home, 'slurm.conf') } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
});
test.after.each(() => removeDir(home));

type Mode = 'ok' | 'refuse' | 'hang';

/** sbatch/squeue/sacct in memory: arrays get ids 100, 101, …; `modes[k]` decides sbatch call k. */
function fakeSlurm(modes: Mode[] = []) {
  const jobs: { base: string; tag: string; n: number; held: boolean }[] = [];
  const sbatch: { script: string; lockHeld: boolean }[] = [];
  let next = 100;
  let reached: () => void = () => undefined;
  const hung = new Promise<void>((r) => (reached = r));
  const run = (async (argv: string[], _o: CmdOptions = {}): Promise<RunResult> => {
    const ok = (stdout: string): RunResult => ({ stdout, stderr: '', exitCode: 0, attempts: 1 });
    if (argv[0] === 'sbatch') {
      const script = readFileSync(argv[argv.length - 1]!, 'utf8');
      sbatch.push({ script, lockHeld: existsSync(join(home, '.qdo/sweeps.lock')) });
      const mode = modes[sbatch.length - 1] ?? 'ok';
      if (mode === 'refuse') {
        const stderr = 'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified';
        throw new SchedulerError('scheduler-command-failed', `\`sbatch\` exited with 1: ${stderr}`, { data: { command: argv, exitCode: 1, stderr } });
      }
      const m = /--array=0-(\d+)/.exec(script);
      const job = { base: String(next++), tag: /--comment=qdo:(\S+)/.exec(script)![1]!, n: m ? Number(m[1]) + 1 : 1, held: argv.includes('--hold') };
      jobs.push(job);
      if (mode === 'hang') {
        // The scheduler took it, and qdo is "killed" before it hears back.
        reached();
        return new Promise<RunResult>(() => undefined);
      }
      return ok(`${job.base}\n`);
    }
    if (argv[0] === 'squeue') return ok(jobs.map((j) => `${j.base}_[0-${j.n - 1}]|${j.base}|PENDING|${j.held ? 'JobHeldUser' : 'None'}|0|qdo:${j.tag}|\n`).join(''));
    if (argv[0] === 'sacct') return ok('');
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }) as Runner;
  return { run, jobs, sbatch, hung };
}

function request(runner: Runner, over: Partial<SweepRequest> = {}): SweepRequest {
  return {
    groups: [
      {
        field: '--grid',
        id: 'p/t{{i}}',
        job: 'p/t{{i}}',
        command: ['echo', 'i={{i}}'],
        set: {},
        grids: [{ key: 'i', values: ['0', '1', '2', '3', '4', '5'], field: '--grid i' }],
        zips: [],
        flags: { time: '10m' },
        env: {},
        after: [],
        afterGroups: [],
      },
    ],
    scheduler: 'slurm',
    runner,
    ...over,
  };
}

async function names(): Promise<string[]> {
  return [...(await readRefs(layoutOf(home), 'p')).keys()].sort();
}

test('six points, MaxArraySize 3: two array jobs, one sbatch each, elements mapped to named jobs', async () => {
  const s = fakeSlurm();
  const r = await runSweep(testContext(opts), request(s.run));
  assert.is(s.sbatch.length, 2);
  assert.ok(s.sbatch.every((c) => !c.lockHeld), 'no lock is held across sbatch');
  assert.match(s.sbatch[0]!.script, /^#SBATCH --array=0-2$/m);
  assert.match(s.sbatch[0]!.script, /^#SBATCH --time=00:10:00$/m);
  assert.equal(r.chunks.map((c) => [c.number, c.packed, c.points, c.schedId]), [
    [1, true, [0, 1, 2], '100'],
    [2, true, [3, 4, 5], '101'],
  ]);
  assert.equal(r.points.map((p) => p.schedId), ['100_0', '100_1', '100_2', '101_0', '101_1', '101_2']);
  const l = layoutOf(home);
  const sub = (await readSubmission(l, r.points[4]!.id))!;
  assert.equal([sub.state, sub.sched_id, sub.array_job], ['pending', '101_1', { base: '101', index: 1, chunk: 2, tag: r.chunks[1]!.tag }]);
  assert.match(r.chunks[1]!.tag, new RegExp(`^${r.sweepId.slice(0, 16)}\\.2\\.[0-9a-f]{12}$`));
  assert.ok(existsSync(join(l.dir, 'sweeps', r.chunks[0]!.tag, 'array.slurm.sh')));
  assert.ok(existsSync(join(r.points[0]!.runDir, 'job.slurm.sh')), 'each point keeps its own script');
  // The array script runs element i as its own job: its run folder and parameters.
  assert.ok(s.sbatch[1]!.script.includes(r.points[4]!.runDir));
  assert.ok(s.sbatch[1]!.script.includes('i=4'));
  // Status maps the elements back to the jobs.
  const st = await status(testContext(opts), ['p/*'], { runner: s.run, refresh: true });
  assert.equal(st.jobs.map((j) => `${j.name} ${j.sub!.sched_id} ${j.sub!.state}`), ['t0 100_0 pending', 't1 100_1 pending', 't2 100_2 pending', 't3 101_0 pending', 't4 101_1 pending', 't5 101_2 pending']);
  // The same sweep again: nothing to submit.
  const again = await runSweep(testContext(opts), request(s.run));
  assert.equal([again.submitted, again.skipped, s.sbatch.length], [0, 6, 2]);
});

test('--no-array and groups of one submit one job per point', async () => {
  const s = fakeSlurm();
  const r = await runSweep(testContext(opts), request(s.run, { noArray: true }));
  assert.is(s.sbatch.length, 6);
  assert.ok(r.chunks.every((c) => !c.packed));
  assert.equal(r.points.map((p) => p.schedId), ['100', '101', '102', '103', '104', '105']);
  assert.ok(s.sbatch.every((c) => !/--array/.test(c.script)));
  const one = request(s.run);
  one.groups[0]!.grids = [{ key: 'i', values: ['9'], field: '--grid i' }];
  const r1 = await runSweep(testContext(opts), one);
  assert.equal([r1.chunks.length, r1.chunks[0]!.packed, r1.points[0]!.schedId], [1, false, '106']);
});

test('the scheduler refuses chunk 2: chunk 1 stays submitted, chunk 2 leaves no trace; the same sweep then submits only chunk 2', async () => {
  const s = fakeSlurm(['ok', 'refuse']);
  let err: unknown;
  await runSweep(testContext(opts), request(s.run)).catch((e) => (err = e));
  assert.instance(err, Error);
  const e = err as { code: string; exitCode: number; message: string };
  assert.equal([e.code, e.exitCode], ['scheduler-command-failed', 6]);
  assert.match(e.message, /^chunk 2 of 2 was refused \(.*Invalid account.*\); 3 point\(s\) of it were not submitted, the 3 before stay submitted$/);
  assert.equal(await names(), ['t0', 't1', 't2']);
  assert.not.ok(existsSync(join(home, 'p/runs/t3')));
  const r = await runSweep(testContext(opts), request(s.run));
  assert.equal([r.submitted, r.skipped, s.sbatch.length], [3, 3, 3]);
  assert.match(s.sbatch[2]!.script, /^#SBATCH --array=0-2$/m);
  assert.equal(r.points.map((p) => p.schedId), ['100_0', '100_1', '100_2', '101_0', '101_1', '101_2']);
  assert.equal(await names(), ['t0', 't1', 't2', 't3', 't4', 't5']);
});

test('qdo killed after sbatch took chunk 2: the next status finds the array by its chunk tag; a re-run submits nothing twice', async () => {
  const s = fakeSlurm(['ok', 'hang']);
  // The submitter: another process, dead by the time anyone looks.
  const killed: Context = { ...testContext(opts), self: { host: 'testhost', pid: 4242, start: null }, alive: () => 'dead' };
  void runSweep(killed, request(s.run));
  await s.hung;
  const l = layoutOf(home);
  const ids = [...(await readRefs(l, 'p')).entries()].sort().map(([, id]) => id);
  assert.is(ids.length, 6);
  assert.equal((await readSubmission(l, ids[4]!))!.state, 'submitting');
  const st = await status(testContext(opts), ['p/*'], { runner: s.run });
  assert.equal(
    st.jobs.map((j) => `${j.name} ${j.sub!.sched_id} ${j.sub!.state}`),
    ['t0 100_0 pending', 't1 100_1 pending', 't2 100_2 pending', 't3 101_0 pending', 't4 101_1 pending', 't5 101_2 pending'],
  );
  assert.equal(((await readSubmission(l, ids[4]!))!.array_job as { base: string }).base, '101');
  const r = await runSweep(testContext(opts), request(s.run));
  assert.equal([r.submitted, r.skipped, s.sbatch.length], [0, 6, 2]);
});

test('a held sweep killed after sbatch took chunk 2: the status that finds the array by its tag shows its points held, not pending', async () => {
  const s = fakeSlurm(['ok', 'hang']);
  const killed: Context = { ...testContext(opts), self: { host: 'testhost', pid: 4242, start: null }, alive: () => 'dead' };
  void runSweep(killed, request(s.run, { hold: true }));
  await s.hung;
  const l = layoutOf(home);
  const ids = [...(await readRefs(l, 'p')).entries()].sort().map(([, id]) => id);
  const st = await status(testContext(opts), ['p/*'], { runner: s.run });
  assert.equal(
    st.jobs.map((j) => `${j.name} ${j.sub!.sched_id} ${j.sub!.state}`),
    ['t0 100_0 held', 't1 100_1 held', 't2 100_2 held', 't3 101_0 held', 't4 101_1 held', 't5 101_2 held'],
  );
  assert.is((await readSubmission(l, ids[4]!))!.state, 'held', 'recorded so');
});

test('killed before sbatch took it: recovery finds nothing, the points become not-submitted, a re-run submits them', async () => {
  const s = fakeSlurm(['ok', 'hang']);
  const killed: Context = { ...testContext(opts), self: { host: 'testhost', pid: 4242, start: null }, alive: () => 'dead' };
  void runSweep(killed, request(s.run));
  await s.hung;
  s.jobs.pop(); // this time the scheduler never got chunk 2
  // Within the grace period the chunk may still reach the scheduler late: a re-run submits nothing of it.
  const early = await runSweep(testContext(opts), request(s.run));
  assert.equal([early.submitted, early.skipped, s.sbatch.length], [0, 6, 2]);
  assert.equal(early.points.slice(3).map((p) => p.state), ['submitting', 'submitting', 'submitting']);
  assert.match(String((await readSubmission(layoutOf(home), early.points[3]!.id))!.reason), /not found by its tag yet/);
  // After it (submit_grace, default 600 s), not found means never submitted.
  const r = await runSweep(testContext({ ...opts, now: new Date(FIXED_NOW.getTime() + 601_000) }), request(s.run));
  assert.equal([r.submitted, r.skipped, s.sbatch.length], [3, 3, 3]);
  assert.equal(r.points.slice(3).map((p) => [p.version, p.schedId]), [
    [2, '102_0'],
    [2, '102_1'],
    [2, '102_2'],
  ]);
  const old = (await readSubmission(layoutOf(home), r.points[3]!.parent!))!;
  assert.is(old.state, 'not-submitted');
});

test('a group waiting on another: afterok on the whole array', async () => {
  const s = fakeSlurm();
  const req = request(s.run);
  req.groups.push({ ...req.groups[0]!, id: 'eval', job: 'p/e{{i}}', grids: [{ key: 'i', values: ['0', '1'], field: '--grid i' }], afterGroups: [0] });
  const r = await runSweep(testContext(opts), req);
  assert.is(s.sbatch.length, 3);
  assert.match(s.sbatch[2]!.script, /^#SBATCH --dependency=afterok:100:101$/m);
  const sub = (await readSubmission(layoutOf(home), r.points[6]!.id))!;
  assert.equal(sub.after, ['100', '101']);
});

test.run();
