// The Slurm backend with a fake runner replaying real captured outputs
// (spec/scheduler-slurm.md §Query, §Purged jobs, §Accounting, §Tag).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SchedulerError, isQdoError } from '../../src/errors.js';
import type { RunOptions, RunResult, Runner } from '../../src/scheduler/runner.js';
import { SlurmBackend, type SlurmBackendOptions } from '../../src/scheduler/slurm/backend.js';
import { SACCT_FIELDS, SQUEUE_FORMAT } from '../../src/scheduler/slurm/parse.js';
import type { JobState } from '../../src/scheduler/types.js';
import { rejects } from '../helpers/assert.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fixture = (name: string) => readFileSync(join(root, 'test/fixtures/slurm', name), 'utf8');

type Reply = string | { fail: string; code?: string } | ((argv: string[]) => string);
interface Call {
  argv: string[];
  opts: RunOptions;
}

/** A runner that answers each command (by argv[0]) from a queue of replies and records calls. */
function fakeRunner(replies: Record<string, Reply[]>): { run: Runner; calls: Call[] } {
  const calls: Call[] = [];
  const run = (async (argv: string[], opts: RunOptions = {}): Promise<RunResult> => {
    calls.push({ argv, opts });
    const queue = replies[argv[0]!];
    const reply = queue?.shift();
    if (reply === undefined) throw new Error(`unexpected command ${argv.join(' ')}`);
    if (typeof reply === 'function') return { stdout: reply(argv), stderr: '', exitCode: 0, attempts: 1 };
    if (typeof reply === 'string') return { stdout: reply, stderr: '', exitCode: 0, attempts: 1 };
    throw new SchedulerError(reply.code ?? 'scheduler-command-failed', `\`${argv.join(' ')}\` exited with 1: ${reply.fail}`, {
      data: { command: argv, exitCode: 1, stderr: reply.fail },
    });
  }) as Runner;
  return { run, calls };
}

const backend = (replies: Record<string, Reply[]>, opts: SlurmBackendOptions = {}) => {
  const f = fakeRunner(replies);
  return { b: new SlurmBackend({ runner: f.run, ...opts }), calls: f.calls };
};
const brief = (m: Map<string, JobState>) => Object.fromEntries([...m].map(([k, s]) => [k, `${s.state}/${s.source}${s.exitCode != null ? ` exit ${s.exitCode}` : ''}`]));
const invalid = { fail: fixture('squeue-unknown.stderr') };

test('query: one squeue call for all ids, with the fixed format', async () => {
  const { b, calls } = backend({ squeue: [fixture('squeue-live.txt')] });
  const m = await b.query(['34', '35', '37', '39', '46', '34']);
  assert.equal(calls.map((c) => c.argv), [['squeue', '-h', '-r', '-t', 'all', '-j', '34,35,37,39,46', '-O', SQUEUE_FORMAT]]);
  assert.equal(calls[0]!.opts.env, { SLURM_BITSTR_LEN: '0' });
  assert.equal(brief(m), {
    '34': 'completed/queue exit 0',
    '35': 'failed/queue exit 3',
    '37': 'running/queue',
    '39': 'held/queue',
    '46': 'suspended/queue',
  });
  assert.is(m.get('35')!.raw, 'FAILED');
  assert.is(m.get('35')!.reason, 'NonZeroExitCode');
});

test('query: an array base gets an aggregate plus one entry per element; elements by id too', async () => {
  const { b } = backend({ squeue: [fixture('squeue-live.txt')] });
  const m = await b.query(['42', '43', '43_5']);
  assert.equal(brief(m), {
    '42_2': 'completed/queue exit 0',
    '42_3': 'failed/queue exit 1',
    '42_1': 'failed/queue exit 1',
    '42': 'failed/queue exit 1',
    ...Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => [`43_${i}`, 'held/queue'])),
    '43': 'held/queue',
  });
  assert.is(m.get('42')!.raw, 'COMPLETED,FAILED');
});

test('query: ids squeue has purged go to ONE sacct call; all purged is not an error', async () => {
  const { b, calls } = backend({ squeue: [invalid], sacct: [fixture('sacct-finished.txt')] });
  const m = await b.query(['35', '41', '37', '43']);
  assert.equal(
    calls.map((c) => c.argv[0]),
    ['squeue', 'sacct'],
  );
  assert.equal(calls[1]!.argv, ['sacct', '-n', '-P', '-X', '-j', '35,41,37,43', '-o', SACCT_FIELDS]);
  assert.equal(brief(m), {
    '35': 'failed/accounting exit 3',
    '41': 'timeout/accounting exit 0',
    '37': 'cancelled/accounting exit 0',
    ...Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => [`43_${i}`, 'cancelled/accounting exit 0'])),
    '43': 'cancelled/accounting exit 0',
  });
  assert.is(m.get('37')!.raw, 'CANCELLED by 0');
});

test('query: only the ids squeue does not know are asked of sacct', async () => {
  const { b, calls } = backend({ squeue: [fixture('squeue-elements.txt')], sacct: [fixture('sacct-finished.txt')] });
  const m = await b.query(['42_2', '43_3', '35']);
  assert.equal(calls[1]!.argv.slice(4, 6), ['-j', '35']);
  assert.equal(brief(m), { '42_2': 'completed/queue exit 0', '43_3': 'held/queue', '35': 'failed/accounting exit 3' });
});

test('query: accounting off → exit records → else unknown (never failed)', async () => {
  const asked: string[] = [];
  const readExitRecord = async (id: string): Promise<JobState | null> => {
    asked.push(id);
    return id === '35' ? { id: 'ignored', state: 'failed', raw: 'exit 3', source: 'exit-record', exitCode: 3 } : null;
  };
  const { b, calls } = backend({ squeue: [invalid] }, { accounting: 'off', readExitRecord });
  const m = await b.query(['35', '36']);
  assert.equal(calls.map((c) => c.argv[0]), ['squeue']);
  assert.equal(asked.sort(), ['35', '36']);
  assert.equal(m.get('35'), { id: '35', state: 'failed', raw: 'exit 3', source: 'exit-record', exitCode: 3 });
  assert.equal(m.get('36'), { id: '36', state: 'unknown', raw: '', source: 'none', reason: 'not in squeue; accounting is off' });
});

test('query: auto detects disabled accounting once and stops asking', async () => {
  const { b, calls } = backend({ squeue: [invalid, invalid], sacct: [{ fail: fixture('sacct-disabled.stderr') }] });
  const m1 = await b.query(['35']);
  const m2 = await b.query(['36']);
  assert.equal(calls.map((c) => c.argv[0]), ['squeue', 'sacct', 'squeue']);
  assert.is(m1.get('35')!.state, 'unknown');
  assert.is(m2.get('36')!.reason, 'not in squeue; Slurm accounting storage is disabled');
});

test('query: auto with the database down leaves states unknown and says why', async () => {
  const { b } = backend({ squeue: [invalid], sacct: [{ fail: fixture('sacct-db-down.stderr') }] });
  const s = (await b.query(['35'])).get('35')!;
  assert.is(s.state, 'unknown');
  assert.match(s.reason!, /Problem talking to the database/);
});

test('query: accounting on makes a disabled accounting an error', async () => {
  const { b } = backend({ squeue: [invalid], sacct: [{ fail: fixture('sacct-disabled.stderr') }] }, { accounting: 'on' });
  const e = await rejects(() => b.query(['35']), /accounting is configured as on/);
  assert.is((e as SchedulerError).code, 'slurm-accounting-disabled');
});

test('query: squeue failures other than "Invalid job id" are errors', async () => {
  const { b } = backend({ squeue: [{ fail: 'squeue: error: Socket timed out on send/recv operation' }] });
  await rejects(() => b.query(['35']), (e) => isQdoError(e) && e.code === 'scheduler-command-failed');
});

test('query: a live state from accounting for a job squeue forgot yields to its exit record', async () => {
  const readExitRecord = async (id: string): Promise<JobState | null> => ({ id, state: 'completed', raw: 'exit 0', source: 'exit-record', exitCode: 0 });
  const { b } = backend({ squeue: [invalid], sacct: [fixture('sacct-live.txt')] }, { readExitRecord });
  const m = await b.query(['37', '35']);
  assert.is(m.get('37')!.source, 'exit-record');
  assert.is(m.get('35')!.source, 'accounting');
});

test('query: no ids, or ids that are not Slurm ids, run nothing', async () => {
  const { b, calls } = backend({});
  assert.equal((await b.query([])).size, 0);
  const m = await b.query(['56.pbsserver']);
  assert.equal(m.get('56.pbsserver'), { id: '56.pbsserver', state: 'unknown', raw: '', source: 'none', reason: 'not a Slurm job id' });
  assert.is(calls.length, 0);
});

test('submit: sbatch --parsable [--hold] in the given folder; retries only when nothing was submitted', async () => {
  const { b, calls } = backend({ sbatch: [fixture('sbatch-parsable.txt'), fixture('sbatch-parsable-cluster.txt')] });
  assert.is(await b.submit('/r/job.sh', { cwd: '/alloc' }), '34');
  assert.is(await b.submit('/r/job.sh', { cwd: '/alloc', hold: true }), '4242');
  assert.equal(calls[0]!.argv, ['sbatch', '--parsable', '/r/job.sh']);
  assert.equal(calls[1]!.argv, ['sbatch', '--parsable', '--hold', '/r/job.sh']);
  assert.is(calls[0]!.opts.cwd, '/alloc');
  const transient = calls[0]!.opts.transient!;
  assert.ok(transient.some((re) => re.test('Unable to contact slurm controller (connect failure)')));
  assert.not.ok(transient.some((re) => re.test('Socket timed out on send/recv operation')));
});

test('submit: a lost reply is scheduler-submit-ambiguous, other failures pass through', async () => {
  const { b } = backend({
    sbatch: [
      { fail: 'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation' },
      { fail: 'x', code: 'scheduler-timeout' },
      { fail: 'sbatch: error: Batch job submission failed: Invalid partition name specified' },
    ],
  });
  for (let i = 0; i < 2; i++) {
    const e = await rejects(() => b.submit('/r/job.sh', { cwd: '/alloc' }), /may or may not have submitted/);
    assert.is((e as SchedulerError).code, 'scheduler-submit-ambiguous');
  }
  const e = await rejects(() => b.submit('/r/job.sh', { cwd: '/alloc' }), /Invalid partition/);
  assert.is((e as SchedulerError).code, 'scheduler-command-failed');
});

test('cancel, hold, release: one command each; per-job refusals are named', async () => {
  const { b, calls } = backend({
    scancel: [''],
    scontrol: ['', '', { fail: 'Job has already finished for job 9\nslurm_suspend error: Job has already finished\n' }],
  });
  await b.cancel(['12', '13_2', '12']);
  await b.hold(['12', '13']);
  await b.release(['12']);
  await b.cancel([]);
  assert.equal(calls.map((c) => c.argv), [['scancel', '12', '13_2'], ['scontrol', 'hold', '12,13'], ['scontrol', 'release', '12']]);
  const e = await rejects(() => b.hold(['9']), /^scontrol hold 9: Job has already finished for job 9$/);
  assert.is((e as SchedulerError).code, 'scheduler-rejected');
  await rejects(() => b.cancel(['12; rm -rf']), /expected Slurm job ids/);
});

test('findByTag: squeue --me comments, then accounting, else null', async () => {
  const { b, calls } = backend({
    squeue: [fixture('squeue-me-comments.txt'), fixture('squeue-me-comments.txt'), ''],
    sacct: [fixture('sacct-synthetic.txt'), ''],
  });
  assert.is(await b.findByTag('tag-running'), '37');
  assert.is(await b.findByTag('tag|with pipe'), '43');
  assert.equal(calls.map((c) => c.argv), [
    ['squeue', '-h', '-r', '-t', 'all', '--me', '-O', SQUEUE_FORMAT],
    ['squeue', '-h', '-r', '-t', 'all', '--me', '-O', SQUEUE_FORMAT],
  ]);
  assert.is(await b.findByTag('oom'), '30');
  assert.equal(calls[3]!.argv, ['sacct', '-n', '-P', '-X', '-S', 'now-7days', '-o', SACCT_FIELDS]);
  const f = backend({ squeue: [''], sacct: [''] });
  assert.is(await f.b.findByTag('nothing'), null);
});

test('render is the pure renderer', () => {
  const { b } = backend({});
  assert.is(b.kind, 'slurm');
  const script = b.render({ jobName: 'x', resources: { cpus: 2 }, script: 'true\n', runDir: '/r', submitDir: '/s', env: {} });
  assert.ok(script.startsWith('#!/bin/bash\n#SBATCH --job-name=x\n#SBATCH --cpus-per-task=2\n'));
});



test('job completion records (sacct -c) answer plain jobs squeue and accounting cannot; arrays are not asked', async () => {
  const isArrayJob = (id: string) => id === '100';
  const { b, calls } = backend(
    { squeue: [invalid], sacct: [{ fail: fixture('sacct-disabled.stderr') }, fixture('sacct-jobcomp.txt')] },
    { isArrayJob },
  );
  const m = await b.query(['98', '99', '100']);
  assert.equal(calls.map((c) => c.argv.slice(0, 2)), [['squeue', '-h'], ['sacct', '-n'], ['sacct', '-c']]);
  assert.equal(calls[2]!.argv, ['sacct', '-c', '-n', '-P', '-j', '98,99', '-o', SACCT_FIELDS]);
  assert.equal(brief(m), { '98': 'failed/jobcomp exit 3', '99': 'failed/jobcomp', '100': 'unknown/none' });
  assert.is(m.get('99')!.signal, 9);
  assert.is(m.get('100')!.reason, 'not in squeue; Slurm accounting storage is disabled');
});

test('job completion records: off never runs sacct -c; a failure in auto leaves the job unknown with why; in on it is an error', async () => {
  const plain = { isArrayJob: () => false };
  const off = backend({ squeue: [invalid], sacct: [{ fail: fixture('sacct-disabled.stderr') }] }, { ...plain, jobcomp: 'off' });
  assert.is((await off.b.query(['98'])).get('98')!.reason, 'not in squeue; Slurm accounting storage is disabled; job completion records are off');
  const auto = backend({ squeue: [invalid], sacct: [{ fail: fixture('sacct-disabled.stderr') }, { fail: 'sacct: error: No job completion plugin' }] }, plain);
  assert.match((await auto.b.query(['98'])).get('98')!.reason!, /sacct -c failed: sacct: error: No job completion plugin/);
  const on = backend({ squeue: [invalid], sacct: [{ fail: fixture('sacct-disabled.stderr') }, { fail: 'sacct: error: No job completion plugin' }] }, { ...plain, jobcomp: 'on' });
  await rejects(() => on.b.query(['98']), /No job completion plugin/);
});

test.run();
