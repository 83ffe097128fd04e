// Ambiguous submits (spec/submissions.md §Submitting, §Recovery): an answer qdo cannot read
// is looked up by its tag, never undone; a job that reaches the scheduler late is found, not
// declared not-submitted, within the grace period; a new version waits until the old one is
// settled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXED_NOW, qdo, removeDir, tempDir, testContext, type RunOptions } from '../helpers/cli.js';
import { QdoError } from '../../src/errors.js';
import type { RunOptions as CmdOptions, RunResult, Runner } from '../../src/scheduler/runner.js';
import { SlurmBackend } from '../../src/scheduler/slurm/backend.js';
import { submit, type SubmitRequest } from '../../src/core/submit.js';
import { status } from '../../src/core/status.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { readSubmission, writeSubmission } from '../../src/store/submissions.js';
import type { Context } from '../../src/context.js';
import { identityOf, liveness } from '../../src/util/proc.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-ambiguous-');
  writeFileSync(join(home, 'slurm.conf'), 'ClusterName=fakec\n');
  opts = { home, env: { SLURM_CONF: join(home, 'slurm.conf') } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
});
test.after.each(() => removeDir(home));

/**
 * sbatch in memory. `answer` decides what sbatch prints for each call ('id' its id, or any
 * other text verbatim, exit 0); `took` whether the scheduler really took the job; squeue
 * lists the jobs taken (a late one is added with `arrive`).
 */
function fakeSlurm(answers: string[], took = true) {
  const jobs: { id: string; tag: string }[] = [];
  const calls: string[] = [];
  let next = 500;
  const late: { id: string; tag: string }[] = [];
  const run = (async (argv: string[], _o: CmdOptions = {}): Promise<RunResult> => {
    calls.push(argv[0]!);
    const ok = (stdout: string): RunResult => ({ stdout, stderr: '', exitCode: 0, attempts: 1 });
    if (argv[0] === 'sbatch') {
      const script = readFileSync(argv[argv.length - 1]!, 'utf8');
      const job = { id: String(next++), tag: /--comment=qdo:(\S+)/.exec(script)![1]! };
      if (took) jobs.push(job);
      else late.push(job);
      const a = answers[calls.filter((c) => c === 'sbatch').length - 1] ?? 'id';
      return ok(a === 'id' ? `${job.id}\n` : a);
    }
    if (argv[0] === 'squeue') return ok(jobs.map((j) => `${j.id}|${j.id}|PENDING|None|0|qdo:${j.tag}|\n`).join(''));
    if (argv[0] === 'sacct') return ok('');
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }) as Runner;
  return { run, jobs, calls, arrive: () => jobs.push(...late.splice(0)) };
}

const req = (runner: Runner, over: Partial<SubmitRequest> = {}): SubmitRequest => ({ job: 'p/j', command: ['true'], params: {}, flags: { time: '10m' }, env: {}, after: [], scheduler: 'slurm', runner, ...over });
/** A submitter that is gone by the time anyone looks (this host, a pid that is dead). */
const gone = (o: RunOptions): Context => ({ ...testContext(o), self: { host: 'testhost', pid: 4242, start: null } });
const at = (s: number): RunOptions => ({ ...opts, now: new Date(FIXED_NOW.getTime() + s * 1000) });

test('the Slurm backend: sbatch exiting 0 with output it cannot parse is ambiguous, not a refusal', async () => {
  const run = (async () => ({ stdout: 'Submitted batch job\n', stderr: '', exitCode: 0, attempts: 1 })) as unknown as Runner;
  const e = await new SlurmBackend({ runner: run }).submit('/x.sh', { cwd: '/' }).catch((x: unknown) => x);
  assert.instance(e, QdoError);
  assert.is((e as QdoError).code, 'scheduler-submit-ambiguous');
});

test('garbage from sbatch, job found by its tag: recorded with the id found, nothing undone', async () => {
  const s = fakeSlurm(['sbatch: ok?\n']);
  const r = await submit(testContext(opts), req(s.run));
  assert.equal([r.schedId, r.state], ['500', 'pending']);
  assert.ok(existsSync(r.runDir));
  assert.is((await readRefs(layoutOf(home), 'p')).get('j'), r.id);
});

test('garbage from sbatch, not found: exit 6, the record stays submitting (ref and run folder too); the job arrives late and is found', async () => {
  const s = fakeSlurm(['?\n'], false);
  const e = await submit(gone(opts), req(s.run)).catch((x: unknown) => x);
  assert.instance(e, QdoError);
  assert.equal([(e as QdoError).code, (e as QdoError).exitCode], ['submit-ambiguous', 6]);
  const l = layoutOf(home);
  const id = (await readRefs(l, 'p')).get('j')!;
  const rec = (await readSubmission(l, id))!;
  assert.equal([rec.state, rec.pid], ['submitting', 4242]);
  assert.ok(existsSync(join(home, 'p/runs/j/1-' + id.slice(0, 8))), 'the run folder stays: the job may run');
  // Within the grace period, not found is not yet an answer.
  const st = await status(testContext(at(60)), ['p/j'], { runner: s.run });
  assert.is(st.jobs[0]!.sub!.state, 'submitting');
  // A new version now could run the work twice: refused until it is settled.
  const again = await submit(testContext(at(61)), req(s.run)).catch((x: unknown) => x);
  assert.equal([(again as QdoError).code, (again as QdoError).exitCode], ['still-submitting', 4]);
  // The job reaches the scheduler late: found by its tag, not declared not-submitted.
  s.arrive();
  const st2 = await status(testContext(at(120)), ['p/j'], { runner: s.run });
  assert.equal([st2.jobs[0]!.sub!.state, st2.jobs[0]!.sub!.sched_id], ['pending', '500']);
});

test('not found within the grace period stays submitting; after it, not-submitted, and a new version may go', async () => {
  const s = fakeSlurm(['?\n'], false);
  await submit(gone(opts), req(s.run)).catch(() => undefined);
  assert.is((await status(testContext(at(599)), ['p/j'], { runner: s.run })).jobs[0]!.sub!.state, 'submitting');
  const settled = (await status(testContext(at(601)), ['p/j'], { runner: s.run })).jobs[0]!.sub!;
  assert.is(settled.state, 'not-submitted');
  const r = await submit(testContext(at(602)), req(s.run, { command: ['true'] }));
  assert.equal([r.version, r.state], [2, 'pending']);
});

test('submit_grace in config.json sets the grace period', async () => {
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ submit_grace: 30 }));
  const s = fakeSlurm(['?\n'], false);
  await submit(gone(opts), req(s.run)).catch(() => undefined);
  assert.is((await status(testContext(at(29)), ['p/j'], { runner: s.run })).jobs[0]!.sub!.state, 'submitting');
  assert.is((await status(testContext(at(31)), ['p/j'], { runner: s.run })).jobs[0]!.sub!.state, 'not-submitted');
});

test('a reused pid is not taken for the submitter: a record naming a living pid with another start time is looked up', async () => {
  const me = identityOf('testhost', process.pid);
  if (me.start === null) return; // no /proc here
  const [boot, ns, ticks] = me.start.split('/');
  // The submitter had this very pid, but started at another time: another process, now gone.
  const other = { host: 'testhost', pid: process.pid, start: `${boot}/${ns}/${Number(ticks) + 7}` };
  const real = (o: RunOptions): Context => ({ ...testContext(o), self: other, alive: (p) => liveness(p, 'testhost') });
  const s = fakeSlurm(['?\n'], false);
  await submit(real(opts), req(s.run)).catch(() => undefined);
  s.arrive();
  const st = await status({ ...real(at(5)), self: me }, ['p/j'], { runner: s.run });
  assert.equal([st.jobs[0]!.sub!.state, st.jobs[0]!.sub!.sched_id], ['pending', '500']);
  // With the pid alone it would have looked alive and been left alone.
  const rec = (await readSubmission(layoutOf(home), st.jobs[0]!.id))!;
  assert.is(rec.pid_start, other.start);
});

test('a version superseded while it was submitting is settled by status -a, log and gc --prune, not left submitting forever', async () => {
  const s = fakeSlurm(['?\n', 'id'], false);
  // v1: ambiguous, not found; this (living) submitter goes on and makes v2, which the scheduler takes.
  await submit(testContext(opts), req(s.run)).catch(() => undefined);
  const l = layoutOf(home);
  const v1 = (await readRefs(l, 'p')).get('j')!;
  s.arrive();
  const r2 = await submit(testContext(at(1)), req(s.run, { command: ['echo', 'two'] }));
  assert.is(r2.version, 2);
  // Now v1's submitter is gone (as if it had been another process, killed).
  const rec = (await readSubmission(l, v1))!;
  await writeSubmission(l, { ...rec, pid: 4242 });
  // status shows the latest only; status -a shows v1 and settles it (found by its tag).
  assert.is((await status(testContext(at(2)), ['p/j'], { runner: s.run })).jobs.length, 1);
  assert.is((await readSubmission(l, v1))!.state, 'submitting');
  const all = await status(testContext(at(3)), ['p/j'], { allVersions: true, runner: s.run });
  assert.equal(all.jobs.map((j) => [j.version, j.sub!.state]), [[2, 'pending'], [1, 'pending']]);
  // gc --prune settles records no ref reaches, too.
  await writeSubmission(l, { ...rec, pid: 4242 });
  const { gc } = await import('../../src/core/gc.js');
  await gc(testContext(at(4)), [], { prune: true, runner: s.run });
  assert.is((await readSubmission(l, v1))!.sched_id, '500');
});

test.run();
