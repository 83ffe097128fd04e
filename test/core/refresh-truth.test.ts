// Refresh against a scripted Slurm (a fake runner answering squeue, sacct, sacct -c and
// scontrol) and hand-written wrapper records: the state model of spec/submissions.md
// §Refresh, §Attempts, §Lost and the query cache keyed by what was asked. The clock is
// injected, so "after lost_after" and "within the interval" are exact.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, testContext, FIXED_NOW, type RunOptions } from '../helpers/cli.js';
import { readRecord } from '../helpers/jobs.js';
import { selectJobs, runDirOfJob, type JobVersion } from '../../src/core/jobs.js';
import { refreshJobs } from '../../src/core/refresh.js';
import { waitJobs, type Timers } from '../../src/core/wait.js';
import { controlJobs } from '../../src/core/control.js';
import { SchedulerError } from '../../src/errors.js';
import { layoutOf } from '../../src/store/layout.js';
import { submissionPath } from '../../src/store/submissions.js';
import type { RunResult, Runner } from '../../src/scheduler/runner.js';
import type { Submission } from '../../src/model/submission.js';

let home = '';
let conf = '';
const ids = new Map<string, string>(); // job name → manifest id

type Reply = string | { fail: string };
let replies: Record<string, Reply[]> = {};
let calls: string[] = [];
const runner = (async (argv: string[]): Promise<RunResult> => {
  const key = argv[0] === 'sacct' && argv[1] === '-c' ? 'sacct -c' : argv[0]!;
  calls.push(key);
  const reply = replies[key]?.shift();
  if (reply === undefined) throw new Error(`unexpected command ${argv.join(' ')}`);
  if (typeof reply === 'string') return { stdout: reply, stderr: '', exitCode: 0, attempts: 1 };
  throw new SchedulerError('scheduler-command-failed', `\`${argv.join(' ')}\` exited with 1: ${reply.fail}`, { data: { command: argv, exitCode: 1, stderr: reply.fail } });
}) as Runner;

/** One squeue line (SQUEUE_FORMAT). */
const sq = (id: string, state: string, reason = 'None', status = 0) => `${id}|${id}|${state}|${reason}|${status}|(null)|\n`;
const INVALID = { fail: 'slurm_load_jobs error: Invalid job id specified\n' };
const DISABLED = { fail: 'sacct: error: Slurm accounting storage is disabled\n' };

function opts(now: Date = FIXED_NOW): RunOptions {
  return { home, env: { QDO_SCHEDULER: 'local', SLURM_CONF: conf }, now };
}
const at = (s: number) => new Date(FIXED_NOW.getTime() + s * 1000);

/** A version submitted on the local backend (held, then cancelled there), recorded as Slurm job `schedId`. */
async function slurmJob(name: string, schedId: string, over: Partial<Submission> = {}): Promise<void> {
  const r = await qdo(['submit', `p/${name}`, '--hold', '--json', '--', 'true'], opts());
  assert.is(r.code, 0, r.stderr);
  const id = JSON.parse(r.stdout).id as string;
  await qdo(['cancel', `p/${name}`], opts());
  ids.set(name, id);
  const rec = readRecord(home, id);
  writeFileSync(submissionPath(layoutOf(home), id), JSON.stringify({ ...rec, scheduler: 'slurm', cluster: 'test', sched_id: schedId, state: 'pending', state_source: 'qdo', state_time: FIXED_NOW.toISOString(), reason: null, ...over }) + '\n');
}

async function jobsOf(...names: string[]): Promise<JobVersion[]> {
  const { jobs } = await selectJobs(testContext(opts()), names.map((n) => `p/${n}`), 'test');
  return jobs;
}

async function refresh(names: string[], s = 0, o: { force?: boolean } = {}): Promise<JobVersion[]> {
  const jobs = await jobsOf(...names);
  await refreshJobs(testContext(opts(at(s))), jobs, { runner, ...o });
  return jobs;
}

function record(dir: string, file: string, v: unknown): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), JSON.stringify(v) + '\n');
}
const startRec = (attempt = 1) => ({ host: 'node1', time: '2026-11-21T09:30:00Z', job_id: '42', array_index: null, pid: 1, attempt });
const endRec = (exit: number | null, signal: string | null = null, attempt = 1) => ({ exit_code: exit, signal, signals: signal ? [signal] : [], time: '2026-11-21T09:31:00Z', host: 'node1', attempt });
const state = (name: string) => readRecord(home, ids.get(name)!);
const brief = (s: Submission) => [s.state, s.state_source, s.exit_code, s.attempt ?? null];

test.before.each(async () => {
  home = tempDir('qdo-truth-');
  conf = join(home, 'slurm.conf');
  writeFileSync(conf, 'ClusterName=test\n');
  replies = {};
  calls = [];
  ids.clear();
  assert.is((await qdo(['project', 'add', 'p'], opts())).code, 0);
});
test.after.each(() => removeDir(home));

test('a pending job whose start record is there is running, without any scheduler call', async () => {
  await slurmJob('j', '42');
  const [j] = await jobsOf('j');
  record(runDirOfJob(j!), 'qdo-start.json', startRec());
  await refresh(['j']);
  assert.equal(calls, []);
  assert.equal(brief(state('j')), ['running', 'start-record', null, 1]);
});

test('a failed job run again (requeue): the rerun marker re-opens it; attempt 2 runs, then completes; no scheduler call', async () => {
  await slurmJob('j', '42', { state: 'failed', state_source: 'exit-record', exit_code: 4, attempt: 1 });
  const [j] = await jobsOf('j');
  const dir = runDirOfJob(j!);
  await refresh(['j']);
  assert.equal(brief(state('j')), ['failed', 'exit-record', 4, 1], 'no marker: nothing changes');
  // What the wrapper of attempt 2 leaves: attempt 1 renamed, a new start record, the marker.
  record(dir, 'qdo-start.1.json', startRec(1));
  record(dir, 'qdo-end.1.json', endRec(4));
  record(dir, 'qdo-start.json', startRec(2));
  record(dir, 'qdo-rerun.json', { task: null, attempt: 2, time: '2026-11-21T09:40:00Z', host: 'node1' });
  await refresh(['j'], 600);
  assert.equal(brief(state('j')), ['running', 'start-record', null, 2]);
  record(dir, 'qdo-end.json', endRec(0, null, 2));
  await refresh(['j'], 660);
  assert.equal(brief(state('j')), ['completed', 'exit-record', 0, 2]);
  assert.equal(calls, []);
  await refresh(['j'], 700);
  assert.equal(brief(state('j')), ['completed', 'exit-record', 0, 2], 'the same marker does not re-open it again');
});

test('outside rerun_window an ended job is not looked at', async () => {
  await slurmJob('j', '42', { state: 'failed', state_source: 'exit-record', exit_code: 4, attempt: 1 });
  const [j] = await jobsOf('j');
  const dir = runDirOfJob(j!);
  record(dir, 'qdo-start.json', startRec(2));
  record(dir, 'qdo-rerun.json', { task: null, attempt: 2 });
  await refresh(['j'], 86_401);
  assert.equal(brief(state('j')), ['failed', 'exit-record', 4, 1]);
});

test('a running job requeued: pending again (attempt 1), its old end record is no news, then attempt 2 runs', async () => {
  await slurmJob('j', '42', { state: 'running', state_source: 'queue', attempt: 1 });
  const [j] = await jobsOf('j');
  const dir = runDirOfJob(j!);
  record(dir, 'qdo-start.json', startRec(1));
  record(dir, 'qdo-end.json', endRec(143, 'TERM', 1));
  replies = { squeue: [sq('42', 'PENDING', 'BeginTime')] };
  await refresh(['j']);
  assert.equal(brief(state('j')), ['pending', 'queue', null, 1]);
  await refresh(['j'], 5);
  assert.equal(calls, ['squeue'], 'the old end record does not ask again');
  assert.equal(brief(state('j')), ['pending', 'queue', null, 1], 'nor does the old start record make it running');
  record(dir, 'qdo-start.1.json', startRec(1));
  record(dir, 'qdo-end.1.json', endRec(143, 'TERM', 1));
  record(dir, 'qdo-start.json', startRec(2));
  writeFileSync(join(dir, 'qdo-end.json'), ''); // being moved: unreadable counts as absent
  await refresh(['j'], 10);
  assert.equal(brief(state('j')), ['running', 'start-record', null, 2]);
});

test('a stale queue saying PENDING does not undo a start record; the job ends by its end record', async () => {
  await slurmJob('j', '42');
  const [j] = await jobsOf('j');
  const dir = runDirOfJob(j!);
  record(dir, 'qdo-start.json', startRec(1));
  replies = { squeue: [sq('42', 'PENDING', 'Priority')] };
  await refresh(['j'], 0, { force: true });
  const s = state('j');
  assert.equal(brief(s), ['running', 'start-record', null, 1]);
  assert.match(s.reason!, /running by its start record \(attempt 1\); the scheduler says PENDING, a stale answer or a requeue/);
  record(dir, 'qdo-end.json', endRec(0));
  await refresh(['j'], 5);
  assert.equal(brief(state('j')), ['completed', 'exit-record', 0, 1]);
});

test('a job the scheduler no longer knows: unknown reason with since, lost after lost_after with evidence; wait returns 8', async () => {
  writeFileSync(join(home, '.qdo', 'config.json'), JSON.stringify({ lost_after: 60 }));
  await slurmJob('j', '42', { state: 'running', state_source: 'queue', attempt: 1 });
  const [j] = await jobsOf('j');
  record(runDirOfJob(j!), 'qdo-start.json', startRec(1));
  replies = { squeue: [INVALID, INVALID], sacct: [DISABLED, DISABLED], 'sacct -c': ['', ''] };
  await refresh(['j']);
  let s = state('j');
  assert.equal([s.state, s.unknown_since], ['running', FIXED_NOW.toISOString()]);
  assert.match(s.reason!, /not in squeue; Slurm accounting storage is disabled; not in the job completion records \(since .*lost after 60 s/);
  await refresh(['j'], 61);
  s = state('j');
  assert.is(s.state, 'lost');
  assert.match(s.reason!, /^lost: not in squeue; .*; it started on node1 at 2026-11-21T09:30:00Z \(attempt 1\) and left no end record in .*; unknown since 2026-11-21T09:30:00.000Z$/);
  assert.equal(calls, ['squeue', 'sacct', 'sacct -c', 'squeue', 'sacct', 'sacct -c'], 'one call of each per due refresh');
  const r = await waitJobs(testContext(opts(at(62))), await jobsOf('j'), { runner, watch: async () => ({ add() {}, close: async () => {} }) });
  assert.is(r.outcome, 'lost');
  // A late end record (a shared file system catching up) still gives the real end.
  record(runDirOfJob(j!), 'qdo-end.json', endRec(0));
  await refresh(['j'], 120);
  assert.equal(brief(state('j')), ['completed', 'exit-record', 0, 1]);
});

test('a failing squeue never makes a job unknown, lost or failed', async () => {
  writeFileSync(join(home, '.qdo', 'config.json'), JSON.stringify({ lost_after: 1 }));
  await slurmJob('j', '42', { state: 'running', state_source: 'queue' });
  replies = { squeue: [{ fail: 'squeue: error: Socket timed out on send/recv operation' }, { fail: 'garbage' }] };
  await refresh(['j']);
  await refresh(['j'], 100);
  const s = state('j');
  assert.equal([s.state, s.unknown_since ?? null], ['running', null]);
});

test('the query cache is keyed by the ids asked: a job no query covered is asked now; the interval bounds repeats', async () => {
  await slurmJob('a', '42');
  await slurmJob('b', '43');
  replies = { squeue: [sq('42', 'PENDING'), sq('43', 'RUNNING'), sq('42', 'RUNNING') + sq('43', 'RUNNING')] };
  await refresh(['a'], 0);
  assert.equal(calls, ['squeue']);
  await refresh(['b'], 5);
  assert.equal(calls, ['squeue', 'squeue'], 'b was not covered by the query of a');
  assert.is(state('b').state, 'running');
  await refresh(['a'], 10);
  await refresh(['a', 'b'], 20);
  assert.equal(calls.length, 2, 'both covered within the interval');
  await refresh(['a', 'b'], 31);
  assert.equal(calls.length, 3, 'a query is due again after the interval, one call for both');
  assert.is(state('a').state, 'running');
});

test('an array ends from its tasks\' end records, without asking', async () => {
  await slurmJob('arr', '50', { array: '0-1' });
  const [j] = await jobsOf('arr');
  record(join(runDirOfJob(j!), '0'), 'qdo-end.json', endRec(0));
  replies = { squeue: ['50_0|51|COMPLETED|None|0|(null)|\n50_1|50|RUNNING|None|0|(null)|\n'] };
  await refresh(['arr']);
  assert.equal([calls, state('arr').state], [['squeue'], 'running'], 'task 1 not ended: the scheduler is asked');
  record(join(runDirOfJob(j!), '1'), 'qdo-end.json', endRec(3));
  await refresh(['arr'], 40);
  assert.equal(calls, ['squeue'], 'every task ended: no second query, though one was due');
  const s = state('arr');
  assert.equal([s.state, s.exit_code, s.reason], ['failed', 3, '1 of 2 tasks failed']);
});

test('signals and who cancelled are recorded; suspend and resume are shown both ways', async () => {
  await slurmJob('k', '44', { state: 'running', state_source: 'queue' });
  await slurmJob('c', '45', { state: 'running', state_source: 'queue' });
  await slurmJob('s', '46', { state: 'running', state_source: 'queue' });
  replies = {
    squeue: [sq('44', 'FAILED', 'NonZeroExitCode', 9) + sq('46', 'SUSPENDED'), sq('46', 'RUNNING')],
    sacct: ['45|45|CANCELLED by 0|0:15|None|\n'],
  };
  await refresh(['k', 'c', 's']);
  const k = state('k');
  assert.equal([k.state, k.exit_code, k.signal, k.reason], ['failed', null, 'KILL', 'NonZeroExitCode; killed by SIGKILL']);
  const c = state('c');
  assert.equal([c.state, c.signal, c.reason], ['cancelled', 'TERM', 'cancelled by uid 0; killed by SIGTERM']);
  assert.is(state('s').state, 'suspended');
  await refresh(['s'], 31);
  assert.is(state('s').state, 'running');
});

test('job completion records answer a plain job that squeue and accounting cannot', async () => {
  await slurmJob('j', '42', { state: 'running', state_source: 'queue' });
  replies = { squeue: [INVALID], sacct: [DISABLED], 'sacct -c': ['42|42|FAILED|0:9||\n'] };
  await refresh(['j']);
  const s = state('j');
  assert.equal([s.state, s.state_source, s.signal], ['failed', 'jobcomp', 'KILL']);
});

test('DependencyNeverSatisfied: pending with the reason; wait stops with never-starts (exit 9)', async () => {
  await slurmJob('d', '47');
  replies = { squeue: [sq('47', 'PENDING', 'DependencyNeverSatisfied')] };
  const timers: Timers = { set: () => ({}), clear: () => {} };
  const r = await waitJobs(testContext(opts()), await jobsOf('d'), { runner, timers, watch: async () => ({ add() {}, close: async () => {} }) });
  assert.is(r.outcome, 'never-starts');
  assert.equal([state('d').state, state('d').reason], ['pending', 'DependencyNeverSatisfied']);
});

test('hold of a job that has just started: Slurm keeps it running; reported and recorded as running', async () => {
  await slurmJob('h', '48');
  replies = { scontrol: [''], squeue: [sq('48', 'RUNNING')] };
  const r = await controlJobs(testContext(opts()), 'hold', await jobsOf('h'), { runner });
  assert.equal([r.jobs[0]!.outcome, r.jobs[0]!.code, r.exitCode], ['skipped', 'already-running', 0]);
  assert.match(r.jobs[0]!.message, /had already started: slurm keeps it running/);
  assert.is(state('h').state, 'running');
  // One whose start record shows it started is skipped without a scheduler call.
  await slurmJob('h2', '49');
  const [h2] = await jobsOf('h2');
  record(runDirOfJob(h2!), 'qdo-start.json', startRec());
  calls = [];
  const r2 = await controlJobs(testContext(opts()), 'hold', [h2!], { runner });
  assert.equal([r2.jobs[0]!.outcome, calls], ['skipped', []]);
});

test('a job that ends between the look at its folder and the scheduler\'s answer: its end is recorded with the attempt that ended', async () => {
  await slurmJob('r', '46', { state: 'running', state_source: 'queue' });
  const [j] = await jobsOf('r');
  // The end record appears while squeue is being asked (step 2 found none), and squeue says
  // COMPLETED: the record names attempt 1 as when the end record itself decides.
  const racing = (async (argv: string[]): Promise<RunResult> => {
    calls.push(argv[0]!);
    record(runDirOfJob(j!), 'qdo-start.json', startRec());
    record(runDirOfJob(j!), 'qdo-end.json', endRec(0));
    return { stdout: sq('46', 'COMPLETED'), stderr: '', exitCode: 0, attempts: 1 };
  }) as Runner;
  await refreshJobs(testContext(opts()), await jobsOf('r'), { runner: racing });
  assert.equal(calls, ['squeue']);
  assert.equal(brief(state('r')), ['completed', 'queue', 0, 1]);
});

test.run();
