// .qdo/cache/ended.jsonl (store/ended-cache.ts; spec/submissions.md §Ended-jobs cache): what
// status reads for ended jobs. A round trip keeps every field; a damaged, foreign or older
// file reads as empty; status uses a copy only while the ref points at it and the record
// file is the one it was read from, so a job that comes back (a requeue within
// rerun_window), or a record changed by anyone (another qdo, rsync, git), is never hidden.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyEndedCache, endedCachePath, endedCopy, endedNames, readEndedCache, readThroughEnded, writeEndedCache } from '../../src/store/ended-cache.js';
import { layoutOf, type Layout } from '../../src/store/layout.js';
import { submissionPath } from '../../src/store/submissions.js';
import { status } from '../../src/core/status.js';
import { runDirOfJob } from '../../src/core/jobs.js';
import type { Submission } from '../../src/model/submission.js';
import { removeDir, tempDir, qdo, testContext, type RunOptions } from '../helpers/cli.js';
import { failedSlurmJob, ok, waitDone, readRecord } from '../helpers/jobs.js';

function rec(name: string, extra: Record<string, unknown> = {}): Submission {
  return { schema: 'qdo.submission/v1', id: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'), project: 'p/q', name, version: 3, scheduler: 'slurm', cluster: 'c', host: 'h', pid: 7, intent: '2026-11-21T09:00:00.000Z', submitted: '2026-11-21T09:00:01.000Z', sched_id: '42_1', after: ['x'], state: 'failed', state_source: 'accounting', state_time: '2026-11-21T09:10:00.000Z', exit_code: 3, reason: 'NonZeroExitCode', ...extra } as Submission;
}

/** The cache file: its first line, and its rows by `project/name`. */
function cacheFile(l: Layout): { head: { version: number; strings: string[]; folders: unknown[][] }; rows: Map<string, unknown[]>; lines: string[] } {
  const [first, ...lines] = readFileSync(endedCachePath(l), 'utf8').split('\n').filter(Boolean);
  const rows = new Map(lines.map((x) => [x.slice(0, x.indexOf('\t')), JSON.parse(x.split('\t').slice(3).join('\t')) as unknown[]]));
  return { head: JSON.parse(first!), rows, lines };
}

/** What the cache file holds for `key` (its id is the first 12 digits of the version's). */
function cached(l: Layout, key: string): { id: string; state: string; attempt: unknown } | undefined {
  const f = cacheFile(l);
  const row = f.rows.get(key);
  return row && { id: row[0] as string, state: f.head.strings[row[11] as number]!, attempt: (row[16] as { attempt?: unknown } | null)?.attempt ?? null };
}

/** The record folders the cache file holds an identity for. */
function trustedFolders(l: Layout): string[] {
  return existsSync(endedCachePath(l)) ? cacheFile(l).head.folders.map((f) => f[0] as string) : [];
}

/** Runs `qdo status` until the cache holds the identity of the folder of `id` (it must have been unchanged for 2 s). */
async function untilTrusted(opts: RunOptions, l: Layout, id: string): Promise<void> {
  for (let i = 0; !trustedFolders(l).includes(id.slice(0, 2)); i++) {
    if (i > 100) throw new Error('the record folder was never trusted');
    await ok(opts, ['status']);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Replaces a record as qdo, rsync and git do: a new file renamed over it. */
function replace(home: string, s: Submission): void {
  const p = submissionPath(layoutOf(home), s.id);
  writeFileSync(p + '.new', JSON.stringify(s) + '\n');
  renameSync(p + '.new', p);
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
    assert.is(readThroughEnded(l, c, 'p/q', 'b', b.id).changed, true);
    assert.is(readThroughEnded(l, c, 'p/q', 'a', a.id).changed, true);
    assert.is(readThroughEnded(l, c, 'p/q', 'a', a.id).changed, false, 'the same file again: nothing new');
    mkdirSync(l.cache, { recursive: true });
    writeFileSync(join(l.cache, 'ended.json'), '{"version":5}'); // the file of versions 3-5
    await writeEndedCache(l, c);
    assert.not.ok(existsSync(join(l.cache, 'ended.json')), 'the old file goes');
    const back = readEndedCache(l);
    assert.equal(endedNames(back, 'p/q').sort(), ['a', 'b']);
    assert.equal(endedCopy(l, back, 'p/q', 'a', a.id), a);
    assert.equal(endedCopy(l, back, 'p/q', 'b', b.id), b);
    assert.is(endedCopy(l, back, 'p/q', 'b', a.id), undefined, 'another version than the ref: not used');
    // The file: a first line with the table of repeated strings, then a line per copy: its
    // key, a tab, the row (the id's first 12 digits; the identity last).
    const good = readFileSync(endedCachePath(l), 'utf8');
    const f = cacheFile(l);
    assert.equal(f.head.version, 7);
    assert.equal(f.head.strings, ['qdo.submission/v1', 'slurm', 'c', 'h', 'failed', 'accounting']);
    assert.equal(f.lines.map((x) => x.split('\t').slice(0, 3)), [['p/q/a', 'failed', a.state_time], ['p/q/b', 'failed', b.state_time]], 'sorted by project/name; the head: state and state_time');
    const ra = f.rows.get('p/q/a')!;
    assert.equal(ra.slice(0, 17), [a.id.slice(0, 12), 3, 0, 1, 2, 3, 7, a.intent, a.submitted, '42_1', ['x'], 4, 5, a.state_time, 3, 'NonZeroExitCode', null]);
    const st = statSync(submissionPath(l, a.id));
    assert.equal(ra.slice(17), [st.ino, st.size, st.mtimeMs, st.ctimeMs], 'the identity: inode, size, mtime, ctime');
    // Written again after a load, unused lines stay as they were, byte for byte.
    await writeEndedCache(l, readEndedCache(l));
    assert.equal(readFileSync(endedCachePath(l), 'utf8').split('\n').slice(1), good.split('\n').slice(1));
    // Damaged, of another version (5: one JSON document), a first line without the
    // tables, or a row with an identity not of numbers, an index out of the table, or a
    // live state: that copy (or every copy) is not used.
    const head = good.split('\n')[0]!;
    const row = JSON.stringify(ra.slice(0, 17));
    const lineOf = (r: string, h = head, lineHead = `failed\t${a.state_time}\t`) => `${h}\np/q/a\t${lineHead}${r}\n`;
    const v5 = JSON.stringify({ version: 5, strings: [], jobs: [] });
    const full = JSON.stringify(ra);
    writeFileSync(endedCachePath(l), lineOf(full));
    assert.equal(endedCopy(l, readEndedCache(l), 'p/q', 'a', a.id), a, 'the line as written is used');
    for (const bad of ['{', 'null', v5, lineOf(full, JSON.stringify({ version: 7, strings: [] })), lineOf(full, head.replace('"version":7', '"version":6')), lineOf(row), lineOf(row.slice(0, -1) + ',1,2,"3",4]'), lineOf(JSON.stringify([...ra.slice(0, 11), 99, ...ra.slice(12)])), lineOf(JSON.stringify([...ra.slice(0, 11), 0, ...ra.slice(12)])), lineOf(full, head, ''), lineOf(full, head, `completed\t${a.state_time}\t`), lineOf(full, head, 'failed\t2026-01-01T00:00:00.000Z\t'), lineOf(full, head, 'failed\t')]) {
      writeFileSync(endedCachePath(l), bad);
      assert.is(endedCopy(l, readEndedCache(l), 'p/q', 'a', a.id), undefined, bad.slice(0, 80));
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
    readThroughEnded(l, c, 'p/q', 'a', a.id);
    assert.ok(endedCopy(l, c, 'p/q', 'a', a.id));
    const p = submissionPath(l, a.id);
    const before = statSync(p);
    // Same length, other content, written in place, its times put back as rsync -a would.
    writeFileSync(p, readFileSync(p, 'utf8').replace('NonZeroExitCode', 'NonZeroExitCodX'));
    utimesSync(p, before.atime, before.mtime);
    assert.is(statSync(p).size, before.size);
    assert.is(endedCopy(l, c, 'p/q', 'a', a.id), undefined, 'the change time moved');
    assert.is(readThroughEnded(l, c, 'p/q', 'a', a.id).sub!.reason, 'NonZeroExitCodX');
    assert.ok(endedCopy(l, c, 'p/q', 'a', a.id));
    // Live again (a requeue written by another qdo): read, and the copy is dropped.
    put(dir, { ...a, state: 'running', exit_code: null });
    assert.is(endedCopy(l, c, 'p/q', 'a', a.id), undefined);
    const r = readThroughEnded(l, c, 'p/q', 'a', a.id);
    assert.is(r.sub!.state, 'running');
    assert.is(r.changed, true);
    assert.equal(endedNames(c, 'p/q'), []);
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
    const [head, line] = readFileSync(endedCachePath(l), 'utf8').split('\n');
    const [key, state, time, text] = line!.split('\t');
    const row = JSON.parse(text!) as unknown[];
    row[15] = 'from the cache';
    writeFileSync(endedCachePath(l), `${head}\n${key}\t${state}\t${time}\t${JSON.stringify(row)}\n`);
    assert.is(JSON.parse(await ok(opts, ['status', '--json'])).jobs[0].reason, 'from the cache');
    assert.is(JSON.parse((await ok(opts, ['watch', '--json'])).split('\n')[0]!).jobs[0].reason, 'from the cache', 'watch reads the cache too');
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
    assert.equal(endedNames(readEndedCache(l), 'p'), []);
  } finally {
    removeDir(home);
  }
});

test('requeue after the end (spec/submissions.md §Attempts): the cached failed job is re-opened, shown running, then completed (attempt 2)', async () => {
  // Ended jobs within rerun_window are looked at through their own records only: no scheduler
  // call. A running one is asked about once its status interval is up (squeue: RUNNING).
  const { home, opts, runner, calls, id } = await failedSlurmJob('qdo-ended-');
  const view = async (s: number) => {
    const r = await status(testContext(opts(s)), ['p/j'], { runner });
    assert.equal(r.problems, []);
    const j = r.jobs[0]!;
    return { job: j, brief: [j.sub!.state, j.sub!.attempt ?? null] };
  };
  try {
    const l = layoutOf(home);
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
    assert.equal(endedNames(readEndedCache(l), 'p'), [], 'a live job has no copy');
    rec2('qdo-end.json', end(0, 2));
    assert.equal((await view(660)).brief, ['completed', 2]);
    assert.equal((await view(670)).brief, ['completed', 2]);
    assert.is(cached(l, 'p/j')?.attempt, 2, 'the new end is cached');
  } finally {
    removeDir(home);
  }
});

/** One ended job p/j, cached, its record folder trusted by the cache; the home removed after `body`. */
async function withTrustedJob(body: (t: { home: string; opts: RunOptions & { home: string }; id: string; l: Layout }) => Promise<void>): Promise<void> {
  const home = tempDir();
  const opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' as const };
  try {
    const { id, l } = await oneEndedJob(opts);
    assert.ok(cached(l, 'p/j'));
    await untilTrusted(opts, l, id);
    await body({ home, opts, id, l });
  } finally {
    removeDir(home);
  }
}

test('a record replaced behind qdo (rsync -a keeps its mtime and its folder\'s; git writes a new file) shows at once, also where the cache trusts its folder', () =>
  withTrustedJob(async ({ home, opts, id, l }) => {
    const p = submissionPath(l, id);
    const folder = join(p, '..');
    const st = statSync(p);
    const fst = statSync(folder);
    replace(home, { ...readRecord(home, id), reason: 'from the other host' });
    utimesSync(p, st.atime, st.mtime);
    utimesSync(folder, fst.atime, fst.mtime);
    assert.ok(Math.abs(statSync(folder).mtimeMs - fst.mtimeMs) < 1, 'the folder looks unchanged but for its change time');
    assert.is(JSON.parse(await ok(opts, ['status', '--json'])).jobs[0].reason, 'from the other host');
    // Trusted again, then replaced by a new file under the same name (as a git checkout does).
    await untilTrusted(opts, l, id);
    replace(home, { ...readRecord(home, id), reason: 'again' });
    assert.is(JSON.parse(await ok(opts, ['status', '--json'])).jobs[0].reason, 'again');
  }));

test('a folder changed just before status looked at it is not trusted (a change in the same clock tick would not show); --refresh checks every record file', () =>
  withTrustedJob(async ({ home, opts, id, l }) => {
    replace(home, { ...readRecord(home, id), reason: 'new' });
    // Changed "just now" whatever the machine's speed: its mtime an hour ahead.
    const folder = join(submissionPath(l, id), '..');
    const later = new Date(Date.now() + 3600_000);
    utimesSync(folder, later, later);
    await ok(opts, ['status']);
    assert.is(cached(l, 'p/j') !== undefined, true);
    assert.not.ok(trustedFolders(l).includes(id.slice(0, 2)), 'changed under 2 s before the look: its identity is not kept');
    const earlier = new Date(Date.now() - 3600_000);
    utimesSync(folder, earlier, earlier);
    await untilTrusted(opts, l, id);
    // A write in place (an editor that overwrites the file) leaves the folder as it was:
    // the one change status does not see by itself. --refresh looks at every record file.
    writeFileSync(submissionPath(l, id), JSON.stringify({ ...readRecord(home, id), reason: 'edited in place' }) + '\n');
    const f = await qdo(['fsck'], opts);
    assert.is(f.code, 0);
    assert.match(f.stdout, `warning bad-cache ${endedCachePath(l)}: 1 copy in record folders it trusts that differs from the record (written in place since)`);
    assert.is(JSON.parse(await ok(opts, ['status', '--refresh', '--json'])).jobs[0].reason, 'edited in place');
    assert.is(JSON.parse(await ok(opts, ['status', '--json'])).jobs[0].reason, 'edited in place', 'and the copy is replaced');
  }));

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
    // Stale (the record rewritten behind it, by rename as rsync and git do): status reads the
    // record; not a fault.
    replace(home, { ...readRecord(home, id), reason: 'changed' });
    assert.equal(await fsck(), [0, []]);
    const [head, line] = good.split('\n');
    const [key, state, time, row] = line!.split('\t');
    const otherHead = `${head}\n${key}\t${state === 'completed' ? 'failed' : 'completed'}\t${time}\t${row}\n`;
    for (const bad of ['{', JSON.stringify({ version: 6, strings: [], folders: [] }), `${head}\n${key}\t[1]\n`, `${head}\n${key}\t${state}\t${time}\t[1]\n`, `${head}\n${key}\t${row}\n`, otherHead, `${head}\nno tab\n`]) {
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
