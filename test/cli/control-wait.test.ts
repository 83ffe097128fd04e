// qdo cancel, hold, release, wait and watch, in-process on the local backend (real jobs on
// this machine; spec/porcelain.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { fileListing, readRecord } from '../helpers/jobs.js';
import { assertGolden } from '../helpers/golden.js';
import { layoutOf } from '../../src/store/layout.js';
import { writeSubmission } from '../../src/store/submissions.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-control-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
});
test.after.each(async () => {
  // Stop what a test left running (sleep 30) before its folder goes.
  await qdo(['cancel', 'p'], opts).catch(() => undefined);
  removeDir(home);
});

async function submit(job: string, cmd: string[], extra: string[] = []): Promise<{ id: string; sched_id: string; state: string }> {
  const r = await qdo(['submit', job, '--json', ...extra, '--', ...cmd], opts);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

type JobJson = Record<string, unknown> & { state: string; reason: string | null };

async function statusOf(job: string, refresh = true): Promise<JobJson> {
  const r = await qdo(['status', '--json', ...(refresh ? ['--refresh'] : []), job], opts);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).jobs[0];
}

async function until(job: string, want: (s: string) => boolean, ms = 20_000): Promise<JobJson> {
  const end = Date.now() + ms;
  for (;;) {
    const j = await statusOf(job);
    if (want(j.state)) return j;
    if (Date.now() > end) throw new Error(`${job} still ${j.state} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('release a held submit: recorded pending at once, then it runs and wait exits 0', async () => {
  const s = await submit('p/held', ['true'], ['--hold']);
  assert.is(s.state, 'held');
  assert.is((await statusOf('p/held')).state, 'held', 'the local backend keeps it held');
  const h = await qdo(['hold', 'p/held'], opts);
  assert.is(h.code, 0, h.stderr);
  assert.is(h.stdout, 'p/held@1: held (local job 1)\n');
  const r = await qdo(['release', 'p/held'], opts);
  assert.is(r.code, 0, r.stderr);
  assertGolden('release.txt', r.stdout);
  const rec = readRecord(home, s.id);
  assert.is(rec.state, 'pending');
  assert.is(rec.state_source, 'qdo');
  assert.is(rec.reason, 'released with qdo release');
  const w = await qdo(['wait', 'p/held'], opts);
  assert.is(w.code, 0, w.stderr);
  assert.is(w.stdout, 'p/held@1 completed (exit 0)\n');
  // Ended: nothing to hold, not an error; the scheduler is not called.
  const again = await qdo(['hold', 'p/held', '--json'], opts);
  assert.is(again.code, 0);
  const out = JSON.parse(again.stdout);
  assert.is(out.version, 1);
  assert.is(out.action, 'hold');
  assert.is(out.jobs.length, 1);
  assert.is(out.jobs[0].job, 'p/held');
  assert.is(out.jobs[0].state, 'completed');
  assert.is(out.jobs[0].outcome, 'skipped');
  assert.is(out.jobs[0].code, 'already-ended');
  assert.is(out.jobs[0].message, 'p/held@1 already completed: nothing to hold');
});

test('cancel a running job: "cancel requested", then refresh learns cancelled; cancelling again is not an error', async () => {
  const s = await submit('p/sleeper', ['sleep', '30']);
  await until('p/sleeper', (st) => st === 'running');
  const r = await qdo(['cancel', 'p/sleeper', '--json'], opts);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.action, 'cancel');
  assert.is(out.jobs[0].outcome, 'done');
  assert.is(out.jobs[0].code, null);
  assert.is(out.jobs[0].state, 'running', 'the state is the next refresh’s to learn');
  assert.match(out.jobs[0].reason, /^cancel requested with qdo cancel at /);
  assert.is(out.jobs[0].message, `p/sleeper@1: cancel requested (local job ${s.sched_id})`);
  const j = await until('p/sleeper', (st) => st !== 'running');
  assert.is(j.state, 'cancelled');
  const again = await qdo(['cancel', 'p/sleeper'], opts);
  assert.is(again.code, 0);
  assert.is(again.stdout, 'p/sleeper@1 already cancelled: nothing to cancel\n');
});

test('cancel a held job; hold and release skip running jobs', async () => {
  await submit('p/queued', ['true'], ['--hold']);
  await submit('p/busy', ['sleep', '30']);
  await until('p/busy', (st) => st === 'running');
  const h = await qdo(['hold', 'p/busy'], opts);
  assert.is(h.code, 0, h.stderr);
  assert.is(h.stdout, 'p/busy@1 is already running: hold only concerns jobs that have not started\n');
  const c = await qdo(['cancel', 'p/queued', 'p/busy'], opts);
  assert.is(c.code, 0, c.stderr);
  assert.is(c.stdout, 'p/queued@1: cancel requested (local job 1)\np/busy@1: cancel requested (local job 2)\n');
  assert.is((await until('p/queued', (st) => st !== 'held')).state, 'cancelled');
  assert.is((await until('p/busy', (st) => st === 'cancelled')).state, 'cancelled');
});

test('refused: a job still being submitted, a job on another cluster (exit 4, nothing sent)', async () => {
  const a = await submit('p/a', ['true'], ['--hold']);
  const b = await submit('p/b', ['true'], ['--hold']);
  const l = layoutOf(home);
  await writeSubmission(l, { ...readRecord(home, a.id), state: 'submitting', sched_id: null, submitted: null });
  await writeSubmission(l, { ...readRecord(home, b.id), cluster: 'local@elsewhere' });
  const r = await qdo(['release', 'p/*'], opts);
  assert.is(r.code, 4);
  assert.is(r.stdout, '');
  assertGolden('release-refused.txt', r.stderr);
  const j = JSON.parse((await qdo(['release', 'p/*', '--json'], opts)).stdout);
  assert.equal(
    j.jobs.map((x: Record<string, unknown>) => [x.job, x.outcome, x.code]),
    [
      ['p/a', 'refused', 'still-submitting'],
      ['p/b', 'refused', 'other-cluster'],
    ],
  );
  // p/b's local job was not released: still held in the spool.
  await writeSubmission(l, { ...readRecord(home, b.id), cluster: 'local@testhost' });
  assert.is((await statusOf('p/b')).state, 'held');
});

test('wait: a failing job exits 1 and lists it; --json gives the outcome', async () => {
  await submit('p/good', ['true']);
  await submit('p/bad', ['false']);
  const r = await qdo(['wait', 'p/*'], opts);
  assert.is(r.code, 1, r.stderr);
  assertGolden('wait-failed.txt', r.stdout);
  const j = await qdo(['wait', 'p/*', '--json'], opts);
  assert.is(j.code, 1);
  const out = JSON.parse(j.stdout);
  assert.is(out.version, 1);
  assert.is(out.outcome, 'failed');
  assert.equal([out.total, out.completed, out.failed, out.unfinished], [2, 1, 1, 0]);
  assert.equal(
    out.jobs.map((x: Record<string, unknown>) => [x.job, x.state, x.exit_code]),
    [
      ['p/bad', 'failed', 1],
      ['p/good', 'completed', 0],
    ],
  );
  const q = await qdo(['wait', 'p/bad', '--quiet'], opts);
  assert.equal([q.code, q.stdout, q.stderr], [1, '', '']);
});

test('wait --timeout: exit 5 with the unfinished jobs, after about that long', async () => {
  await submit('p/long', ['sleep', '30']);
  const t0 = Date.now();
  const r = await qdo(['wait', 'p/long', '--timeout', '1s', '--json'], opts);
  const took = Date.now() - t0;
  assert.is(r.code, 5, r.stderr);
  assert.ok(took >= 900 && took < 10_000, `took ${took} ms`);
  const out = JSON.parse(r.stdout);
  assert.is(out.outcome, 'timeout');
  assert.equal([out.total, out.unfinished], [1, 1]);
  const h = await qdo(['wait', 'p/long', '--timeout', '1s'], opts);
  assert.is(h.code, 5);
  assert.match(h.stdout, /^timed out after 1s: 1 of 1 job\(s\) not ended: p\/long@1 (pending|running)/);
  const bad = await qdo(['wait', 'p/long', '--timeout', 'soon'], opts);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^qdo: --timeout: expected a duration like/);
});

test('wait on nothing: one message, exit 3, nothing written', async () => {
  await submit('p/x', ['true']);
  await qdo(['wait', 'p/x'], opts);
  const before = fileListing(home, { skip: ['.qdo/local', '.qdo/cache'] });
  const none = await qdo(['wait', 'p/zz*'], opts);
  assert.is(none.code, 3);
  assert.is(none.stdout, '');
  assert.match(none.stderr, /^qdo: qdo wait: no job matches "p\/zz\*"\nhint: /);
  const empty = await qdo(['wait'], opts);
  assert.is(empty.code, 3);
  assert.match(empty.stderr, /^qdo: qdo wait: no job given\n/);
  const unknown = await qdo(['cancel', 'p/nope'], opts);
  assert.is(unknown.code, 3);
  assert.equal(fileListing(home, { skip: ['.qdo/local', '.qdo/cache'] }), before);
});

test('watch (not a TTY): a line per job, then a line per change, until all ended', async () => {
  await submit('p/one', ['sleep', '1']);
  await submit('p/two', ['false']);
  const r = await qdo(['watch', 'p'], opts);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const first = lines.slice(0, 2);
  for (const [i, job] of ['p/one@1', 'p/two@1'].entries()) {
    assert.match(first[i]!, new RegExp(`^2026-11-21T09:30:00Z ${job} (pending|running|completed|failed)$`));
  }
  // Every later line is a change, and the last word for each job is its end.
  for (const l of lines.slice(2)) assert.match(l, /^2026-11-21T09:30:00Z p\/(one|two)@1 \S+ → \S+$/);
  const last = (job: string) => lines.filter((l) => l.includes(` ${job} `)).pop()!.split(' ').pop();
  assert.is(last('p/one@1'), 'completed');
  assert.is(last('p/two@1'), 'failed');
  const none = await qdo(['watch', 'zz*'], opts);
  assert.is(none.code, 3);
});

test.run();
