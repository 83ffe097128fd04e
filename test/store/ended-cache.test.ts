// .qdo/cache/ended.json (store/ended-cache.ts; spec/submissions.md §Ended-jobs cache): what
// status reads for ended jobs. A round trip keeps every field; a damaged, foreign or older
// file reads as empty; status uses a copy only while the ref points at it and the record
// file is the one it was read from, so a job that comes back (a requeue within
// rerun_window), or a record changed by anyone (another qdo, rsync, git), is never hidden.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyEndedCache, endedCachePath, endedCopy, readEndedCache, readThroughEnded, writeEndedCache } from '../../src/store/ended-cache.js';
import { layoutOf, type Layout } from '../../src/store/layout.js';
import { submissionPath } from '../../src/store/submissions.js';
import { status } from '../../src/core/status.js';
import { runDirOfJob } from '../../src/core/jobs.js';
import type { Submission } from '../../src/model/submission.js';
import type { Runner } from '../../src/scheduler/runner.js';
import { removeDir, tempDir, qdo, testContext, FIXED_NOW, type RunOptions } from '../helpers/cli.js';
import { ok, waitDone, readRecord } from '../helpers/jobs.js';

function rec(name: string, extra: Record<string, unknown> = {}): Submission {
  return { schema: 'qdo.submission/v1', id: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'), project: 'p/q', name, version: 3, scheduler: 'slurm', cluster: 'c', host: 'h', pid: 7, intent: '2026-11-21T09:00:00.000Z', submitted: '2026-11-21T09:00:01.000Z', sched_id: '42_1', after: ['x'], state: 'failed', state_source: 'accounting', state_time: '2026-11-21T09:10:00.000Z', exit_code: 3, reason: 'NonZeroExitCode', ...extra } as Submission;
}

/** What the cache file holds for `key` (its id is the first 12 digits of the version's). */
function cached(l: Layout, key: string): { id: string; state: string; attempt: unknown } | undefined {
  const doc = JSON.parse(readFileSync(endedCachePath(l), 'utf8')) as { strings: string[]; jobs: unknown[][] };
  const row = doc.jobs.find((r) => `${doc.strings[r[0] as number]}/${r[1] as string}` === key);
  return row && { id: row[2] as string, state: doc.strings[row[13] as number]!, attempt: (row[18] as { attempt?: unknown } | null)?.attempt ?? null };
}

function put(home: string, s: Submission): void {
  const p = submissionPath(layoutOf(home), s.id);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, JSON.stringify(s) + '\n');
}


/** Project p with one job p/j that ran and ended, and a status that cached it: its version's id and the layout. */
async function oneEndedJob(opts: RunOptions & { home: string }): Promise<{ id: string; l: Layout }> {
  await ok(opts, ['project', 'add', 'p']);
  const { id } = JSON.parse(await ok(opts, ['submit', 'p/j', '--json', '--', 'true'])) as { id: string };
  await waitDone(opts, 'p/j');
  await ok(opts, ['status']);
  return { id, l: layoutOf(opts.home) };
}
test('round trip: every field, also the optional ones (sweep, array_job, collected), and the file identity', async () => {
  const dir = tempDir();
  try {
    const l = layoutOf(dir);
    mkdirSync(l.dir);
    const a = rec('a');
    const b = rec('b', { sweep: { id: 'f'.repeat(64), index: 2 }, array_job: { base: '42', index: 1, chunk: 1, tag: 't' }, collected: '2026-11-22T00:00:00.000Z', attempt: 2 });
    put(dir, a);
    put(dir, b);
    const c = emptyEndedCache();
    assert.is(readThroughEnded(l, c, 'p/q/b', b.id).changed, true);
    assert.is(readThroughEnded(l, c, 'p/q/a', a.id).changed, true);
    assert.is(readThroughEnded(l, c, 'p/q/a', a.id).changed, false, 'the same file again: nothing new');
    await writeEndedCache(l, c);
    const back = readEndedCache(l);
    assert.equal([...back.jobs.keys()], ['p/q/a', 'p/q/b']);
    assert.equal(endedCopy(l, back, 'p/q', 'a', a.id), a);
    assert.equal(endedCopy(l, back, 'p/q', 'b', b.id), b);
    assert.is(endedCopy(l, back, 'p/q', 'b', a.id), undefined, 'another version than the ref: not used');
    // The file: repeated strings once, in a table; the id's first 12 digits; the identity last.
    const good = JSON.parse(readFileSync(endedCachePath(l), 'utf8')) as { version: number; strings: string[]; jobs: unknown[][] };
    assert.equal(good.strings, ['p/q', 'qdo.submission/v1', 'slurm', 'c', 'h', 'failed', 'accounting']);
    assert.equal(good.jobs[0], [0, 'a', a.id.slice(0, 12), 3, 1, 2, 3, 4, 7, a.intent, a.submitted, '42_1', ['x'], 5, 6, a.state_time, 3, 'NonZeroExitCode', null, ...good.jobs[0]!.slice(19)]);
    assert.equal(good.jobs[0]!.slice(19), [statSync(submissionPath(l, a.id)).ino, statSync(submissionPath(l, a.id)).size, statSync(submissionPath(l, a.id)).mtimeMs, statSync(submissionPath(l, a.id)).ctimeMs], 'the identity: inode, size, mtime, ctime');
    // Written again after a load, unused rows keep their values (their indexes into the new table).
    await writeEndedCache(l, readEndedCache(l));
    assert.equal(JSON.parse(readFileSync(endedCachePath(l), 'utf8')), good);
    // Damaged, of another version (4: no string table, the whole id), without an identity,
    // with one not of numbers, an index out of the table, or holding a live state: ignored.
    const row = good.jobs[0]!.slice(0, 19);
    const doc = (jobs: unknown[][], strings: unknown[] = good.strings) => JSON.stringify({ version: 5, strings, jobs });
    const v4 = [...Object.values(a).slice(0, 18), null, 1, 2, 3, 4];
    for (const bad of ['{', 'null', '{"version": 4, "jobs": []}', JSON.stringify({ version: 4, jobs: [v4] }), doc([row]), doc([[...row, 1, 2, '3', 4]]), doc([[...row, 1, 2, 3, 4]], [...good.strings.slice(0, 5), 'running', 'queue']), doc([[...row.slice(0, 13), 99, ...row.slice(14), 1, 2, 3, 4]]), doc([[...row, 1, 2, 3, 4]], [1, 2, 3, 4, 5, 6, 7])]) {
      writeFileSync(endedCachePath(l), bad);
      assert.equal([...readEndedCache(l).jobs.keys()], [], bad.slice(0, 60));
    }
  } finally {
    removeDir(dir);
  }
});

test('a copy is not used once its record file changed: rewritten, same size in place, mtime put back (rsync -a), removed', async () => {
  const dir = tempDir();
  try {
    const l = layoutOf(dir);
    mkdirSync(l.dir);
    const a = rec('a');
    put(dir, a);
    const c = emptyEndedCache();
    readThroughEnded(l, c, 'p/q/a', a.id);
    assert.ok(endedCopy(l, c, 'p/q', 'a', a.id));
    const p = submissionPath(l, a.id);
    const before = statSync(p);
    // Same length, other content, written in place, its times put back as rsync -a would.
    writeFileSync(p, readFileSync(p, 'utf8').replace('NonZeroExitCode', 'NonZeroExitCodX'));
    utimesSync(p, before.atime, before.mtime);
    assert.is(statSync(p).size, before.size);
    assert.is(endedCopy(l, c, 'p/q', 'a', a.id), undefined, 'the change time moved');
    assert.is(readThroughEnded(l, c, 'p/q/a', a.id).sub!.reason, 'NonZeroExitCodX');
    assert.ok(endedCopy(l, c, 'p/q', 'a', a.id));
    // Live again (a requeue written by another qdo): read, and the copy is dropped.
    put(dir, { ...a, state: 'running', exit_code: null });
    assert.is(endedCopy(l, c, 'p/q', 'a', a.id), undefined);
    const r = readThroughEnded(l, c, 'p/q/a', a.id);
    assert.is(r.sub!.state, 'running');
    assert.is(r.changed, true);
    assert.equal([...c.jobs.keys()], []);
  } finally {
    removeDir(dir);
  }
});

test('status writes copies of ended jobs, uses them while the ref points there, drops them when it moves', async () => {
  const home = tempDir();
  const opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' as const };
  try {
    const { id: firstId, l } = await oneEndedJob(opts);
    assert.is(cached(l, 'p/j')?.id, firstId.slice(0, 12));
    // A copy that says something else than the record would show: proof status reads the copy.
    const doc = JSON.parse(readFileSync(endedCachePath(l), 'utf8')) as { jobs: unknown[][] };
    doc.jobs[0]![17] = 'from the cache';
    writeFileSync(endedCachePath(l), JSON.stringify(doc));
    assert.is(JSON.parse(await ok(opts, ['status', '--json'])).jobs[0].reason, 'from the cache');
    assert.is(readRecord(home, firstId).reason, null);
    // A new version: the copy is no longer used, and is replaced once that one has ended.
    const second = JSON.parse(await ok(opts, ['submit', 'p/j', '--json', '--', 'true'])) as { id: string };
    await waitDone(opts, 'p/j');
    const s = JSON.parse(await ok(opts, ['status', '--json'])).jobs[0];
    assert.is(s.id, second.id);
    assert.is(s.reason, null);
    assert.is(cached(l, 'p/j')?.id, second.id.slice(0, 12));
    // A name whose ref is deleted loses its copy.
    await ok(opts, ['update-ref', '-d', 'p/j']);
    await qdo(['status'], opts);
    assert.equal([...readEndedCache(l).jobs.keys()], []);
  } finally {
    removeDir(home);
  }
});

test('requeue after the end (spec/submissions.md §Attempts): the cached failed job is re-opened, shown running, then completed (attempt 2)', async () => {
  const home = tempDir('qdo-ended-');
  const conf = join(home, 'slurm.conf');
  writeFileSync(conf, 'ClusterName=test\n');
  const opts = (s = 0): RunOptions => ({ home, env: { QDO_SCHEDULER: 'local', SLURM_CONF: conf }, now: new Date(FIXED_NOW.getTime() + s * 1000) });
  // Ended jobs within rerun_window are looked at through their own records only: no scheduler
  // call. A running one is asked about once its status interval is up (squeue: RUNNING).
  const calls: string[] = [];
  const runner = (async (argv: string[]) => {
    calls.push(argv[0]!);
    if (argv[0] === 'squeue') return { stdout: '42|42|RUNNING|None|0|(null)|\n', stderr: '', exitCode: 0, attempts: 1 };
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }) as Runner;
  const view = async (s: number) => {
    const r = await status(testContext(opts(s)), ['p/j'], { runner });
    assert.equal(r.problems, []);
    const j = r.jobs[0]!;
    return { job: j, brief: [j.sub!.state, j.sub!.attempt ?? null] };
  };
  try {
    assert.is((await qdo(['project', 'add', 'p'], opts())).code, 0);
    const sub = await qdo(['submit', 'p/j', '--hold', '--json', '--', 'true'], opts());
    assert.is(sub.code, 0, sub.stderr);
    const id = JSON.parse(sub.stdout).id as string;
    await qdo(['cancel', 'p/j'], opts());
    const l = layoutOf(home);
    // Recorded as a Slurm job that failed in its first attempt.
    put(home, { ...readRecord(home, id), scheduler: 'slurm', cluster: 'test', sched_id: '42', state: 'failed', state_source: 'exit-record', state_time: FIXED_NOW.toISOString(), exit_code: 4, reason: null, attempt: 1 });
    const first = await view(0);
    assert.equal(first.brief, ['failed', 1]);
    assert.is(cached(l, 'p/j')?.state, 'failed', 'the ended job is cached');
    assert.equal((await view(10)).brief, ['failed', 1], 'from the cache, the same');
    // Slurm requeues it (scontrol requeue of a failed job); attempt 2's wrapper starts.
    const dir = runDirOfJob(first.job);
    const rec2 = (file: string, v: unknown) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, file), JSON.stringify(v) + '\n');
    };
    const start = (attempt: number) => ({ host: 'node1', time: '2026-11-21T09:30:00Z', job_id: '42', array_index: null, pid: 1, attempt });
    const end = (exit: number, attempt: number) => ({ exit_code: exit, signal: null, signals: [], time: '2026-11-21T09:31:00Z', host: 'node1', attempt });
    rec2('qdo-start.1.json', start(1));
    rec2('qdo-end.1.json', end(4, 1));
    rec2('qdo-start.json', start(2));
    rec2('qdo-rerun.json', { task: null, attempt: 2, time: '2026-11-21T09:40:00Z', host: 'node1' });
    // The copy still says failed; the refresh that follows the listing re-opens the job.
    assert.equal((await view(600)).brief, ['running', 2]);
    assert.equal(calls, [], 're-opened by its own records');
    assert.is(readRecord(home, id).state, 'running');
    assert.is(endedCopy(l, readEndedCache(l), 'p', 'j', id), undefined, 'the record changed: its copy is stale');
    assert.equal((await view(610)).brief, ['running', 2], 'never the stale copy');
    assert.is(readEndedCache(l).jobs.get('p/j'), undefined, 'a live job has no copy');
    rec2('qdo-end.json', end(0, 2));
    assert.equal((await view(660)).brief, ['completed', 2]);
    assert.equal((await view(670)).brief, ['completed', 2]);
    assert.is(cached(l, 'p/j')?.attempt, 2, 'the new end is cached');
  } finally {
    removeDir(home);
  }
});

test('a record replaced behind qdo (rsync -a keeps its mtime; git writes a new file) shows at once', async () => {
  const home = tempDir();
  const opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' as const };
  try {
    const { id, l } = await oneEndedJob(opts);
    assert.ok(readEndedCache(l).jobs.get('p/j'));
    const p = submissionPath(l, id);
    const st = statSync(p);
    put(home, { ...readRecord(home, id), reason: 'from the other host' });
    utimesSync(p, st.atime, st.mtime);
    assert.is(JSON.parse(await ok(opts, ['status', '--json'])).jobs[0].reason, 'from the other host');
  } finally {
    removeDir(home);
  }
});

test('fsck: a cache status would ignore (damaged, of another version, rows not of the shape) is a warning --repair removes; a good or stale one is no finding', async () => {
  const home = tempDir();
  const opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' as const };
  const fsck = async (...a: string[]) => {
    const r = await qdo(['fsck', ...a], opts);
    return [r.code, r.stdout.split('\n').filter(Boolean).map((x) => x.split(' ').slice(0, 3).join(' '))];
  };
  try {
    const { id, l } = await oneEndedJob(opts);
    const path = endedCachePath(l);
    const good = readFileSync(path, 'utf8');
    assert.equal(await fsck(), [0, []]);
    // Stale (the record rewritten behind it): status reads the record; not a fault.
    put(home, { ...readRecord(home, id), reason: 'changed' });
    assert.equal(await fsck(), [0, []]);
    const doc = JSON.parse(good) as { strings: string[]; jobs: unknown[][] };
    for (const bad of ['{', JSON.stringify({ version: 4, jobs: [] }), JSON.stringify({ ...doc, jobs: [doc.jobs[0]!.slice(1)] })]) {
      writeFileSync(path, bad);
      assert.equal(await fsck(), [0, [`warning bad-cache ${path}:`]], bad.slice(0, 40));
    }
    assert.equal(await fsck('--repair'), [0, [`fixed bad-cache ${path}:`]]);
    assert.not.ok(existsSync(path));
    assert.equal(await fsck(), [0, []]);
    assert.is(JSON.parse(await ok(opts, ['status', '--json'])).jobs[0].reason, 'changed');
    assert.ok(existsSync(path), 'the next status writes it again');
  } finally {
    removeDir(home);
  }
});

test.run();
