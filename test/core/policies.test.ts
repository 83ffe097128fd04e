// Retry policies (submit --retry-on) applied by applyPolicies, on the local backend. The end
// a policy reacts to (node-fail, preempted) is simulated by writing the submission record.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testContext } from '../helpers/cli.js';
import { ok as okIn, useLocalHome, type Json, readRecord } from '../helpers/jobs.js';
import { applyPolicies } from '../../src/core/policies.js';
import { selectJobs, type JobVersion } from '../../src/core/jobs.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { writeSubmission } from '../../src/store/submissions.js';

const local = useLocalHome(test, 'qdo-policy-');

const ok = (args: string[]): Promise<string> => okIn(local.opts, args);
const manifest = async (id: string): Promise<Json> => JSON.parse(await ok(['cat-object', id]));
const record = (id: string) => readRecord(local.home, id);
const latestId = async (name: string): Promise<string> => (await readRefs(layoutOf(local.home), 'p')).get(name)!;

/** The version REV, as a refresh would have handed it over, after the scheduler said `state`. */
async function endedAs(rev: string, state: 'node-fail' | 'preempted' | 'failed'): Promise<JobVersion> {
  const ctx = testContext(local.opts);
  const j = (await selectJobs(ctx, [rev], 'test')).jobs[0]!;
  const ended = { ...j.sub!, state, state_source: 'queue' as const, exit_code: null, reason: 'simulated' };
  await writeSubmission(j.layout, ended);
  return { ...j, sub: ended };
}

/** A fresh view of the same version (a second qdo process would have its own). */
async function view(rev: string): Promise<JobVersion> {
  return (await selectJobs(testContext(local.opts), [rev], 'test')).jobs[0]!;
}

test('node-fail with --retry-on node-fail,preempted:2: one retry per end, never two, up to 2', async () => {
  // Held: the job never runs, its end is what the test writes.
  const v1 = JSON.parse(await ok(['submit', 'p/n', '--hold', '--time', '5', '--retry-on', 'node-fail,preempted:2', '--json', '--', 'true']));
  const ctx = testContext(local.opts);
  const ended = await endedAs('p/n@1', 'node-fail');

  const first = await applyPolicies(ctx, [ended]);
  assert.equal(first.problems, []);
  assert.is(first.retried.length, 1);
  const v2 = first.retried[0]!.to;
  assert.is(v2.version, 2);
  assert.is(await latestId('n'), v2.id);
  const m2 = await manifest(v2.id);
  assert.is(m2.parent, v1.id);
  assert.is(m2.retry_of, v1.id);
  assert.is(m2.auto_retry, 1);
  assert.equal(m2.resources, { time: 300 }, 'same resources');
  assert.equal(m2.retry, { on: ['node-fail', 'preempted'], max: 2 });
  assert.is(record(v1.id).retried_by, v2.id);
  assert.is(record(v2.id).state, 'pending');

  // The same end seen again, by this process or another one: nothing more.
  assert.equal((await applyPolicies(ctx, [ended])).retried, []);
  assert.equal((await applyPolicies(ctx, [await view('p/n@1')])).retried, []);
  assert.is(await latestId('n'), v2.id);

  // The retry is preempted: second automatic retry (2 of 2).
  const third = await applyPolicies(ctx, [await endedAs('p/n@2', 'preempted')]);
  assert.is(third.retried.length, 1);
  const v3 = third.retried[0]!.to;
  assert.is((await manifest(v3.id)).auto_retry, 2);
  // And once more: the policy's 2 are used up.
  const fourth = await applyPolicies(ctx, [await endedAs('p/n@3', 'node-fail')]);
  assert.equal(fourth.retried, []);
  assert.is(await latestId('n'), v3.id);
  assert.is(record(v3.id).retried_by, undefined);
  await ok(['cancel', 'p/n@3']);
});

test('two qdo processes seeing the same end at once: exactly one retry', async () => {
  await ok(['submit', 'p/c', '--hold', '--retry-on', 'node-fail', '--', 'true']);
  await endedAs('p/c@1', 'node-fail');
  const ctx = testContext(local.opts);
  const [a, b] = await Promise.all([applyPolicies(ctx, [await view('p/c@1')]), applyPolicies(ctx, [await view('p/c@1')])]);
  assert.is(a.retried.length + b.retried.length, 1);
  assert.equal([...a.problems, ...b.problems], []);
  const all = JSON.parse(await ok(['status', '--json', '-a', 'p/c'])).jobs;
  assert.equal(all.map((j: Json) => j.job_version), [2, 1]);
  await ok(['cancel', 'p/c']);
});

test('no retry for an end not in the policy, without a policy, or for a superseded version', async () => {
  await ok(['submit', 'p/a', '--hold', '--retry-on', 'node-fail', '--', 'true']);
  await ok(['submit', 'p/b', '--hold', '--', 'true']);
  await ok(['submit', 'p/s', '--hold', '--retry-on', 'node-fail', '--', 'true']);
  const ctx = testContext(local.opts);
  const s1 = await endedAs('p/s@1', 'node-fail');
  await ok(['submit', 'p/s', '--hold']); // the user resubmitted meanwhile
  const r = await applyPolicies(ctx, [await endedAs('p/a@1', 'failed'), await endedAs('p/b@1', 'node-fail'), s1]);
  assert.equal(r.retried, []);
  assert.equal(r.problems, []);
  assert.is((await view('p/s')).version, 2);
  await ok(['cancel', 'p/*']);
});

test('qdo retry of a version its policy would retry: only the user\'s retry happens', async () => {
  await ok(['submit', 'p/u', '--hold', '--retry-on', 'node-fail', '--', 'true']);
  await endedAs('p/u@1', 'node-fail');
  const r = JSON.parse(await ok(['retry', 'p/u', '--json']));
  assert.is(r.retried.length, 1);
  const m = await manifest(r.retried[0].id);
  assert.is(m.auto_retry, undefined, 'a manual retry starts the count again');
  assert.equal(m.retry, { on: ['node-fail'], max: 1 }, 'the policy is kept');
  assert.equal((await applyPolicies(testContext(local.opts), [await view('p/u@1')])).retried, []);
  await ok(['cancel', 'p/u']);
});

test.run();
