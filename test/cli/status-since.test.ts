// qdo status's overview (spec/porcelain.md §qdo status, --since): without a pattern the table
// leaves out jobs that ended over 7 days ago and counts them on stderr; a pattern, --json or
// --since all lists every job; a job that ended within rerun_window is refreshed before it
// is left out, so a requeue brings it back. Where the ended-jobs cache trusts a record
// folder, a job is left out from its line's head without its row being parsed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildStore } from '../../bench/scale.js';
import { status } from '../../src/core/status.js';
import { watchStatus, type WatchUpdate } from '../../src/core/watch.js';
import { screen } from '../../src/cli/porcelain/watch.js';
import { runDirOfJob } from '../../src/core/jobs.js';
import { endedCachePath } from '../../src/store/ended-cache.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { FIXED_NOW, qdo, removeDir, tempDir, testContext, type RunOptions } from '../helpers/cli.js';
import { failedSlurmJob, jobColumn as names, ok, readRecord, replaceRecord as replace } from '../helpers/jobs.js';


/** Runs status until the cache holds the identity of every record folder (each unchanged 2 s first). */
async function untilAllTrusted(opts: RunOptions, home: string, folders: number): Promise<void> {
  const trusted = () => {
    try {
      return (JSON.parse(readFileSync(endedCachePath(layoutOf(home)), 'utf8').split('\n')[0]!) as { folders: unknown[] }).folders.length;
    } catch {
      return 0;
    }
  };
  for (let i = 0; trusted() < folders; i++) {
    if (i > 100) throw new Error(`only ${trusted()} of ${folders} record folders were trusted`);
    await ok(opts, ['status']);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the overview leaves out jobs that ended over 7 days ago and says how many; --since, a pattern and --json list them', async () => {
  const home = tempDir('qdo-since-');
  // Real time: the store's 30 jobs ended on 2026-01-01 (bench fixture), one of them is made recent.
  const opts: RunOptions & { home: string } = { home, now: 'real' };
  try {
    await buildStore(home, [{ project: 'p', jobs: 30, versions: 1 }]);
    const l = layoutOf(home);
    const refs = await readRefs(l, 'p');
    const recent = readRecord(home, refs.get('job000007')!);
    replace(home, { ...recent, state: 'failed', exit_code: 2, state_time: new Date(Date.now() - 3_600_000).toISOString() });
    const failedOld = readRecord(home, refs.get('job000003')!);
    replace(home, { ...failedOld, state: 'failed', exit_code: 1 });
    const expectNote = /^29 jobs that ended before \d{4}-\d\d-\d\d \d\d:\d\d UTC not shown \(28 completed, 1 failed\), older than 7 days: qdo status --since all lists them\n$/;
    for (let round = 0; round < 2; round++) {
      const r = await qdo(['status'], opts);
      assert.is(r.code, 0, r.stderr);
      assert.equal(names(r.stdout), ['p/job000007'], `round ${round}: the recent job alone`);
      assert.match(r.stderr, expectNote);
    }
    // The same once the cache trusts every folder (the jobs are then counted from line heads).
    await untilAllTrusted(opts, home, new Set([...refs.values()].map((id) => id.slice(0, 2))).size);
    let r = await qdo(['status'], opts);
    assert.equal(names(r.stdout), ['p/job000007']);
    assert.match(r.stderr, expectNote);
    // Every job: --since all, a pattern, --json.
    assert.is(names(await ok(opts, ['status', '--since', 'all'])).length, 30);
    r = await qdo(['status', 'p'], opts);
    assert.is(names(r.stdout).length, 30);
    assert.is(r.stderr, '', 'a pattern: nothing left out');
    const all = JSON.parse(await ok(opts, ['status', '--json']));
    assert.is(all.jobs.length, 30);
    assert.is(all.hidden, undefined);
    // --json with --since: the jobs kept, and what was left out.
    const some = JSON.parse(await ok(opts, ['status', '--json', '--since', '2d']));
    assert.equal(some.jobs.map((j: { job: string }) => j.job), ['p/job000007']);
    assert.is(some.hidden.jobs, 29);
    assert.equal(some.hidden.states, { completed: 28, failed: 1 });
    assert.ok(Math.abs(Date.parse(some.hidden.before) - (Date.now() - 2 * 86_400_000)) < 60_000, some.hidden.before);
    // A date: the fixture's jobs ended a second apart from 2026-01-01T00:00:01Z.
    const since = JSON.parse(await ok(opts, ['status', '--json', '--since', '2026-01-01T00:00:21Z']));
    assert.is(since.jobs.length, 11, 'job000007 (recent), job000020 to job000029');
    assert.is(since.hidden.jobs, 19);
    // A record replaced behind qdo (rsync, git) in a trusted folder: read, and shown if now recent.
    replace(home, { ...readRecord(home, refs.get('job000011')!), state_time: new Date(Date.now() - 60_000).toISOString() });
    r = await qdo(['status'], opts);
    assert.equal(names(r.stdout), ['p/job000007', 'p/job000011']);
    assert.match(r.stderr, /^28 jobs that ended before/);
    // A pattern with --since: its jobs left out are counted, and a pattern whose jobs were all
    // left out matched (exit 0, not no-match).
    r = await qdo(['status', 'p/job00001*', '--since', '2d'], opts);
    assert.equal([r.code, names(r.stdout)], [0, ['p/job000011']]);
    assert.match(r.stderr, /^9 jobs that ended before .* \(9 completed\): qdo status --since all lists them\n$/);
    r = await qdo(['status', 'p/job00002*', '--since', '2d'], opts);
    assert.equal([r.code, r.stdout], [0, '']);
    assert.match(r.stderr, /^10 jobs that ended before/);
    assert.is((await qdo(['status', 'p/nosuch*', '--since', '2d'], opts)).code, 3, 'a pattern that matches nothing is still no-match');
    // Bad values: exit 2, the flag named.
    for (const bad of ['3x', 'yesterday', '7', '2026-13-45', '99999999999w', '-1d', '']) {
      const b = await qdo(['status', `--since=${bad}`], opts);
      assert.is(b.code, 2, bad);
      assert.match(b.stderr, `--since "${bad}": expected an age`);
    }
    // watch shows what status shows: the plain view, the terminal's header, --json.
    const w = await qdo(['watch'], opts);
    assert.is(w.code, 0, w.stderr);
    assert.equal(w.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[1]), ['p/job000007@1', 'p/job000011@1']);
    assert.match(w.stderr, /^28 jobs that ended before .* older than 7 days: qdo watch --since all lists them\n$/);
    assert.is((await ok(opts, ['watch', '--since', 'all'])).split('\n').filter(Boolean).length, 30);
    const wj = JSON.parse((await ok(opts, ['watch', '--json', '--since', '2d'])).split('\n')[0]!);
    assert.equal([wj.jobs.length, wj.hidden.jobs, wj.hidden.states], [2, 28, { completed: 27, failed: 1 }]);
    assert.is(JSON.parse((await ok(opts, ['watch', '--json'])).split('\n')[0]!).jobs.length, 30, '--json alone: every job');
    let round: WatchUpdate | undefined;
    await watchStatus(testContext(opts), [], { since: Date.now() - 7 * 86_400_000, untilDone: true, onUpdate: (u) => void (round = u) });
    assert.match(screen(round!, false, { columns: 120, rows: 20 }).split('\n')[0]!, /2\/2 ended, 28 ended earlier not shown/);
    // Nothing recent at all: no table, the count alone.
    replace(home, { ...readRecord(home, refs.get('job000007')!), state_time: '2026-01-01T00:00:00.000Z' });
    replace(home, { ...readRecord(home, refs.get('job000011')!), state_time: '2026-01-01T00:00:00.000Z' });
    r = await qdo(['status'], opts);
    assert.is(r.stdout, '');
    assert.match(r.stderr, /^30 jobs that ended before .* \(28 completed, 2 failed\)/);
  } finally {
    removeDir(home);
  }
});

test('watch: an age in --since is measured from each round\'s time (a watch left running keeps its window moving)', async () => {
  const home = tempDir('qdo-since-');
  const opts: RunOptions & { home: string } = { home, now: 'real' };
  try {
    await buildStore(home, [{ project: 'p', jobs: 2, versions: 1 }]);
    const refs = await readRefs(layoutOf(home), 'p');
    const start = Date.now();
    // job000000 ended 30 minutes before the watch starts, job000001 as it starts.
    replace(home, { ...readRecord(home, refs.get('job000000')!), state_time: new Date(start - 30 * 60_000).toISOString() });
    replace(home, { ...readRecord(home, refs.get('job000001')!), state_time: new Date(start).toISOString() });
    let clock = start;
    const ctx = { ...testContext(opts), now: () => new Date(clock) };
    const rounds: { shown: string[]; hidden: number; since: number | undefined }[] = [];
    const ac = new AbortController();
    await watchStatus(ctx, [], {
      intervalMs: 1,
      signal: ac.signal,
      since: (now) => now.getTime() - 3_600_000,
      onUpdate: (u) => {
        rounds.push({ shown: u.jobs.map((j) => j.name).sort(), hidden: u.hidden?.count ?? 0, since: u.since });
        clock += 50 * 60_000; // 50 minutes between rounds
        if (rounds.length === 3) ac.abort();
      },
    });
    assert.equal(rounds.map((r) => r.shown), [['job000000', 'job000001'], ['job000001'], []], 'each job leaves the window an hour after it ended');
    assert.equal(rounds.map((r) => r.hidden), [0, 1, 2]);
    assert.equal(rounds.map((r) => r.since), [start - 3_600_000, start - 600_000, start + 2_400_000]);
  } finally {
    removeDir(home);
  }
});

test('in a trusted record folder the overview reads a line\'s head, not its row (the row is never parsed)', async () => {
  const home = tempDir('qdo-since-');
  const opts: RunOptions & { home: string } = { home, now: 'real' };
  try {
    await buildStore(home, [{ project: 'p', jobs: 12, versions: 1 }]);
    const refs = await readRefs(layoutOf(home), 'p');
    await ok(opts, ['status']);
    await untilAllTrusted(opts, home, new Set([...refs.values()].map((id) => id.slice(0, 2))).size);
    // Every row made unparseable, each head kept: the overview still counts every job from the
    // heads; anything that parses a row (--since all) no longer uses the lines.
    const path = endedCachePath(layoutOf(home));
    const [first, ...lines] = readFileSync(path, 'utf8').split('\n');
    const broken = lines.map((x) => (x === '' ? x : x.replace(/\t\["([0-9a-f]{12})",.*$/, '\t["$1",{')));
    writeFileSync(path, [first, ...broken].join('\n'));
    const r = await qdo(['status'], opts);
    assert.is(r.stdout, '');
    assert.match(r.stderr, /^12 jobs that ended before .* \(12 completed\)/);
    assert.is(readFileSync(path, 'utf8').split('\n').slice(1).join('\n'), broken.join('\n'), 'the overview did not rewrite the lines');
    const every = JSON.parse(await ok(opts, ['status', '--json']));
    assert.is(every.jobs.length, 12, 'rows that do not parse: the records are read');
    assert.ok(every.jobs.every((j: { state: string }) => j.state === 'completed'));
  } finally {
    removeDir(home);
  }
});

test('a job that ended within rerun_window is refreshed before it is left out: a requeue brings it back (spec/submissions.md §Attempts)', async () => {
  const { home, opts, runner, calls, id, rec } = await failedSlurmJob('qdo-since-');
  // The overview as status's core gives it, --since AGE seconds back from the time `s`.
  const view = async (s: number, age: number) => {
    const now = FIXED_NOW.getTime() + s * 1000;
    const r = await status(testContext(opts(s)), [], { runner, since: now - age * 1000 });
    return { shown: r.jobs.map((j) => [j.name, j.sub!.state, j.sub!.attempt ?? null]), hidden: r.hidden!.count, states: Object.fromEntries(r.hidden!.states) };
  };
  try {
    // Ended 10 minutes ago, --since 1 minute: within rerun_window (a day), so refreshed, then left out.
    assert.equal(await view(600, 60), { shown: [], hidden: 1, states: { failed: 1 } });
    assert.equal(await view(610, 60), { shown: [], hidden: 1, states: { failed: 1 } }, 'through the cache, the same');
    // Slurm requeues it; attempt 2 starts: the refresh re-opens it, and it is shown.
    const dir = runDirOfJob({ layout: layoutOf(home), project: 'p', name: 'j', id, version: rec.version, latest: true, sub: rec });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'qdo-start.json'), JSON.stringify({ host: 'node1', time: '2026-11-21T09:35:00Z', job_id: '42', array_index: null, pid: 1, attempt: 2 }) + '\n');
    writeFileSync(join(dir, 'qdo-rerun.json'), JSON.stringify({ task: null, attempt: 2, time: '2026-11-21T09:40:00Z', host: 'node1' }) + '\n');
    assert.equal(await view(620, 60), { shown: [['j', 'running', 2]], hidden: 0, states: {} });
    assert.equal(calls, [], 're-opened by its own records');
    // It ends again; two days later (past rerun_window) it is left out without a look.
    writeFileSync(join(dir, 'qdo-end.json'), JSON.stringify({ exit_code: 0, signal: null, signals: [], time: '2026-11-21T09:45:00Z', host: 'node1', attempt: 2 }) + '\n');
    assert.equal(await view(700, 60), { shown: [['j', 'completed', 2]], hidden: 0, states: {} }, 'its end learned now: shown');
    assert.equal(await view(800, 60), { shown: [], hidden: 1, states: { completed: 1 } }, 'ended over a minute ago');
    assert.equal(await view(2 * 86_400, 86_400), { shown: [], hidden: 1, states: { completed: 1 } });
    assert.equal(await view(2 * 86_400, 3 * 86_400), { shown: [['j', 'completed', 2]], hidden: 0, states: {} }, '--since 3 days: shown');
  } finally {
    removeDir(home);
  }
});

test.run();
