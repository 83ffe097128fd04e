// core/wait.ts with its clock, timers and watcher injected: the loop reacts to end records
// and to its timers only (spec/porcelain.md §qdo wait).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, testContext, type RunOptions } from '../helpers/cli.js';
import { selectJobs, runDirOfJob } from '../../src/core/jobs.js';
import { nextQueryDelay, parseTimeout, Sleeper, waitJobs, type Timers, type WatchEndRecords } from '../../src/core/wait.js';
import type { RefreshReport } from '../../src/core/refresh.js';

/** Timers that fire only when the test says so. */
function fakeTimers() {
  const pending: { fn: () => void; ms: number; cleared: boolean }[] = [];
  const timers: Timers = {
    set: (fn, ms) => {
      const t = { fn, ms, cleared: false };
      pending.push(t);
      return t;
    },
    clear: (h) => void ((h as { cleared: boolean }).cleared = true),
  };
  const live = () => pending.filter((t) => !t.cleared);
  return { timers, live, fire: (ms: number) => live().filter((t) => t.ms === ms).forEach((t) => ((t.cleared = true), t.fn())) };
}

/** A watcher that records what it watches and lets the test announce an end record. */
function fakeWatcher() {
  const state = { dirs: [] as string[], onEnd: null as ((p: string) => void) | null, closed: false };
  const watch: WatchEndRecords = async (dirs, onEnd) => {
    state.dirs.push(...dirs);
    state.onEnd = onEnd;
    return { add: (d) => void state.dirs.push(...d), close: async () => void (state.closed = true) };
  };
  return { watch, state };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (cond()) return;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-wait-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  await qdo(['project', 'add', 'p'], opts);
  // Held: the local backend never runs it, so only the test decides when it ends.
  const r = await qdo(['submit', 'p/j', '--hold', '--', 'true'], opts);
  assert.is(r.code, 0, r.stderr);
});
test.after.each(async () => {
  await qdo(['cancel', 'p/j'], opts);
  removeDir(home);
});

test('an end record announced by the watcher ends the wait; the watcher is closed', async () => {
  const ctx = testContext(opts);
  const { jobs } = await selectJobs(ctx, ['p/j'], 'test');
  const t = fakeTimers();
  const w = fakeWatcher();
  const progress: string[] = [];
  const done = waitJobs(ctx, jobs, { timers: t.timers, watch: w.watch, onProgress: (p) => progress.push(`${p.done}/${p.total}`) });
  await until('the loop to sleep', () => w.state.onEnd !== null && t.live().length === 1);
  assert.equal(w.state.dirs, [runDirOfJob(jobs[0]!)]);
  assert.is(t.live()[0]!.ms, 30_000, 'sleeps until the next query is due (status interval 30 s, fixed clock)');
  writeFileSync(join(runDirOfJob(jobs[0]!), 'qdo-end.json'), JSON.stringify({ exit_code: 3, signal: null, time: '2026-11-21T09:30:01Z' }));
  w.state.onEnd!(join(runDirOfJob(jobs[0]!), 'qdo-end.json'));
  const r = await done;
  assert.is(r.outcome, 'failed');
  assert.equal(r.failed.map((j) => j.sub!.exit_code), [3]);
  assert.is(progress[progress.length - 1], '1/1');
  assert.ok(w.state.closed);
  assert.is(t.live().length, 0, 'no timer left behind');
});

test('the timeout timer ends the wait with the unfinished jobs', async () => {
  const ctx = testContext(opts);
  const { jobs } = await selectJobs(ctx, ['p/j'], 'test');
  const t = fakeTimers();
  const w = fakeWatcher();
  const done = waitJobs(ctx, jobs, { timers: t.timers, watch: w.watch, timeoutMs: parseTimeout('90s') });
  await until('the loop to sleep', () => w.state.onEnd !== null && t.live().length === 2);
  t.fire(90_000);
  const r = await done;
  assert.is(r.outcome, 'timeout');
  assert.equal(r.unfinished.map((j) => j.sub!.state), ['held']);
  assert.ok(w.state.closed);
});

test('nextQueryDelay: until the earliest group is due, between 1 s and the interval', () => {
  const now = new Date('2026-11-21T09:30:00.000Z');
  const g = (scheduler: string, last: string | null) => ({ scheduler, cluster: 'c', jobs: 1, queried: false, last, problem: null });
  const rep = (...groups: RefreshReport['groups']): RefreshReport => ({ groups, ended: [], policy: { retried: [], notified: [], problems: [] } });
  const iv = new Map([
    ['slurm', 60_000],
    ['local', 30_000],
  ]);
  assert.is(nextQueryDelay(rep(g('slurm', '2026-11-21T09:29:20.000Z')), iv, now), 20_000);
  assert.is(nextQueryDelay(rep(g('slurm', '2026-11-21T09:29:20.000Z'), g('local', '2026-11-21T09:29:50.000Z')), iv, now), 20_000);
  assert.is(nextQueryDelay(rep(g('local', '2026-11-21T09:20:00.000Z')), iv, now), 1000, 'overdue: soon, not at once');
  assert.is(nextQueryDelay(rep(g('local', null)), iv, now), 30_000);
  assert.is(nextQueryDelay(rep(g('local', '2026-11-21T09:31:00.000Z')), iv, now), 30_000, 'a clock skew never waits longer than the interval');
  assert.is(nextQueryDelay(rep(), iv, now), 60_000);
});

test('parseTimeout: the durations of --time, in ms', () => {
  assert.is(parseTimeout('90s'), 90_000);
  assert.is(parseTimeout('10m'), 600_000);
  assert.is(parseTimeout('1:30:00'), 5_400_000);
  assert.is(parseTimeout('2'), 120_000, 'a bare number is minutes, as for --time');
  assert.throws(() => parseTimeout('soon'), /--timeout: expected a duration/);
});

test('Sleeper: a kick during work is not lost; a kick wakes a sleep', async () => {
  const t = fakeTimers();
  const s = new Sleeper(t.timers);
  s.kick();
  await s.sleep(1000); // returns at once
  assert.is(t.live().length, 0);
  const p = s.sleep(1000);
  assert.is(t.live().length, 1);
  s.kick();
  await p;
  assert.is(t.live().length, 0, 'its timer is cleared');
  assert.is(s.take(), false);
});

test.run();
