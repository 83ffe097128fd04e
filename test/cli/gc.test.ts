// qdo gc, in-process on the local backend (real jobs on this machine): superseded run
// folders, a still-running version, --prune with its grace period, --dry-run; fsck after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { FIXED_NOW, qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { waitDone as waitDoneIn, fileListing, readRecord } from '../helpers/jobs.js';
import { submissionPath } from '../../src/store/submissions.js';
import { layoutOf } from '../../src/store/layout.js';
import { objectPath } from '../../src/store/objects.js';
import { runDirOf } from '../../src/core/runs.js';
import { readRefs } from '../../src/store/refs.js';
import { readManifest } from '../../src/store/manifests.js';
import { buildStore } from '../../bench/scale.js';
import { collectedDir, collectedTimes, parseCollectedList } from '../../src/store/collected.js';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-gc-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
});
test.after.each(() => removeDir(home));

/** Object files are written now (real time), after FIXED_NOW: "later" makes them old. */
const later = (): RunOptions => ({ ...opts, now: new Date(Date.now() + 2 * 3600_000) });

interface Sub {
  id: string;
  run_dir: string;
  sched_id: string;
}

async function submit(job: string, ...cmd: string[]): Promise<Sub> {
  const r = await qdo(['submit', job, '--json', '--', ...cmd], opts);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Sub;
}

const waitDone = async (job: string, id: string): Promise<string> => (await waitDoneIn(opts, job, { id })).state;

/** The collected lists of an allocation (layout.md §Collected lists), each checked as fsck does. */
function lists(dir: string) {
  const d = collectedDir(layoutOf(dir));
  return existsSync(d) ? readdirSync(d).sort().map((n) => parseCollectedList(join(d, n), readFileSync(join(d, n), 'utf8'))) : [];
}

async function gcJson(args: string[], o: RunOptions = opts) {
  const r = await qdo(['gc', '--json', ...args], o);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as {
    version: number;
    dry_run: boolean;
    keep: number;
    run_dirs: { job: string; job_version: number; id: string; path: string; bytes: number; why: string }[];
    kept: { job: string; job_version: number; id: string; state: string; reason: string }[];
    objects: { id: string; kind: string; bytes: number }[];
    records: { id: string }[];
    bytes: number;
    problems: string[];
  };
}

async function fsckClean(): Promise<void> {
  const f = await qdo(['fsck'], opts);
  assert.is(f.stdout, '');
  assert.is(f.code, 0);
}

async function threeVersions(): Promise<Sub[]> {
  const v: Sub[] = [];
  for (let i = 0; i < 3; i++) {
    v.push(await submit('p/j', 'true'));
    assert.is(await waitDone('p/j', v[i]!.id), 'completed');
  }
  return v;
}

test('gc --keep 1 removes the run folders of @1 and @2, keeps @3 and the history', async () => {
  const [v1, v2, v3] = await threeVersions();
  const g = await gcJson(['--keep', '1']);
  assert.is(g.version, 1);
  assert.is(g.dry_run, false);
  assert.equal(
    g.run_dirs.map((d) => [d.job, d.job_version, d.id, d.path, d.why]),
    [
      ['p/j', 1, v1!.id, v1!.run_dir, 'superseded'],
      ['p/j', 2, v2!.id, v2!.run_dir, 'superseded'],
    ],
  );
  assert.ok(g.run_dirs.every((d) => d.bytes > 0));
  assert.is(g.bytes, g.run_dirs[0]!.bytes + g.run_dirs[1]!.bytes);
  assert.equal(g.objects, []);
  assert.not.ok(existsSync(v1!.run_dir));
  assert.not.ok(existsSync(v2!.run_dir));
  assert.ok(existsSync(join(v3!.run_dir, 'qdo-end.json')));
  // One list names them, written before they went; the records are not rewritten.
  const ls = lists(home);
  assert.is(ls.length, 1);
  assert.is(ls[0]!.time, FIXED_NOW.toISOString());
  assert.equal(ls[0]!.entries, [
    { id: v1!.id, job: 'p/j', version: 1 },
    { id: v2!.id, job: 'p/j', version: 2 },
  ]);
  for (const v of [v1!, v2!, v3!]) assert.is(readRecord(home, v.id).collected, undefined);
  // qdo show says where the folder went.
  const shown = await qdo(['show', `p/j@1`], opts);
  assert.match(shown.stdout, new RegExp(`run folder +${v1!.run_dir} \\(removed by qdo gc at ${FIXED_NOW.toISOString()}\\)`));
  const shownJson = JSON.parse((await qdo(['show', 'p/j@2', '--json'], opts)).stdout) as { paths: { run_dir_exists: boolean; run_dir_collected: string | null } };
  assert.equal(shownJson.paths, { ...shownJson.paths, run_dir_exists: false, run_dir_collected: FIXED_NOW.toISOString() });
  const latest = JSON.parse((await qdo(['show', 'p/j', '--json'], opts)).stdout) as { paths: { run_dir_collected: string | null } };
  assert.is(latest.paths.run_dir_collected, null);
  // History stays: every version is still listed and its manifest readable.
  const st = JSON.parse((await qdo(['status', '--json', '-a', 'p/j'], opts)).stdout);
  assert.equal(
    st.jobs.map((j: { job_version: number; state: string }) => [j.job_version, j.state]),
    [
      [3, 'completed'],
      [2, 'completed'],
      [1, 'completed'],
    ],
  );
  assert.is((await qdo(['cat-object', v1!.id], opts)).code, 0);
  await fsckClean();
  // Nothing left to do.
  const again = await gcJson(['--keep', '1']);
  assert.equal(again.run_dirs, []);
  assert.is(again.bytes, 0);
});

test('the default keeps the latest two versions; the human summary says what went', async () => {
  const [v1, v2] = await threeVersions();
  const r = await qdo(['gc'], opts);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^removed p/j@1 ${v1!.run_dir} \\(\\d+\\.\\d KiB\\)\nfreed \\d+\\.\\d KiB: 1 run folder \\(keeping the newest 2 versions of each job\\)\n$`));
  assert.not.ok(existsSync(v1!.run_dir));
  assert.ok(existsSync(v2!.run_dir));
});

test('--dry-run lists what would go and changes nothing', async () => {
  const [v1, v2] = await threeVersions();
  await qdo(['hash-object', '-w', '--stdin'], { ...opts, stdin: 'an orphan\n' });
  const before = fileListing(home, { skip: ['.qdo/local', '.qdo/cache'], hashes: true });
  const g = await gcJson(['--keep', '1', '--prune', '--dry-run'], later());
  assert.is(g.dry_run, true);
  assert.equal(
    g.run_dirs.map((d) => d.id),
    [v1!.id, v2!.id],
  );
  assert.is(g.objects.length, 1);
  assert.equal(fileListing(home, { skip: ['.qdo/local', '.qdo/cache'], hashes: true }), before);
  const h = await qdo(['gc', '--keep', '1', '--dry-run'], opts);
  assert.match(h.stdout, /^would remove p\/j@1 .*\nwould remove p\/j@2 .*\nwould free .*\ndry run: nothing was changed\n$/);
  assert.equal(fileListing(home, { skip: ['.qdo/local', '.qdo/cache'], hashes: true }), before);
});

test('a superseded version that is still running keeps its run folder until it ends', async () => {
  const slow = await submit('p/s', 'sleep', '300');
  try {
    const fast = await submit('p/s', 'true');
    assert.is(await waitDone('p/s', fast.id), 'completed');
    const g = await gcJson(['--keep', '1', 'p/s']);
    assert.equal(g.run_dirs, []);
    assert.is(g.kept.length, 1);
    assert.is(g.kept[0]!.id, slow.id);
    assert.ok(['pending', 'running'].includes(g.kept[0]!.state), g.kept[0]!.state);
    assert.ok(existsSync(slow.run_dir));
    assert.equal(lists(home), [], 'nothing listed');
    const h = await qdo(['gc', '--keep', '1', 'p/s'], opts);
    assert.match(h.stdout, new RegExp(`^kept p/s@1 ${slow.run_dir}: (pending|running), not over yet`));
  } finally {
    await qdo(['sched', 'cancel', slow.sched_id], opts);
  }
  assert.is(await waitDone('p/s', slow.id), 'cancelled');
  const g = await gcJson(['--keep', '1', 'p/s']);
  assert.equal(
    g.run_dirs.map((d) => d.id),
    [slow.id],
  );
  assert.not.ok(existsSync(slow.run_dir));
});

test('--prune drops an orphan object and an unreachable job, after the grace period, and keeps what is reachable', async () => {
  const j1 = await submit('p/j', 'true');
  await waitDone('p/j', j1.id);
  const j2 = await submit('p/j', 'echo', 'two');
  await waitDone('p/j', j2.id);
  const k = await submit('p/k', 'echo', 'only k');
  await waitDone('p/k', k.id);
  const orphan = (await qdo(['hash-object', '-w', '--stdin'], { ...opts, stdin: 'an orphan\n' })).stdout.trim();
  assert.is((await qdo(['update-ref', '-d', 'p/k'], opts)).code, 0);
  const l = layoutOf(home);
  const manifest = (id: string) => JSON.parse((readFileSync(objectPath(l, id), 'utf8'))) as { script: string };
  const reachable = [j1.id, j2.id, manifest(j1.id).script, manifest(j2.id).script];
  const kScript = manifest(k.id).script;

  // Written just now: too young to prune (a submit may be between its objects and its ref).
  const young = await gcJson(['--prune'], { ...opts, now: new Date() });
  assert.equal(young.objects, []);
  assert.equal(young.records, []);
  assert.ok(existsSync(objectPath(l, orphan)));

  const g = await gcJson(['--prune'], later());
  assert.equal(g.objects.map((o) => [o.id, o.kind]).sort(), [[k.id, 'manifest'], [kScript, 'content'], [orphan, 'content']].sort());
  assert.equal(g.records.map((r) => r.id), [k.id]);
  assert.equal(g.run_dirs.map((d) => [d.id, d.why]), [[k.id, 'unreachable']]);
  for (const id of [orphan, k.id, kScript]) assert.not.ok(existsSync(objectPath(l, id)), id);
  assert.not.ok(existsSync(submissionPath(l, k.id)));
  assert.not.ok(existsSync(k.run_dir));
  for (const id of reachable) assert.ok(existsSync(objectPath(l, id)), id);
  assert.ok(existsSync(submissionPath(l, j1.id)));
  assert.ok(existsSync(j1.run_dir)); // within --keep 2
  assert.is((await qdo(['status', '--json', '-a', 'p/j'], opts)).stdout.match(/"job_version"/g)!.length, 2);
  await fsckClean();
  // Idempotent.
  const again = await gcJson(['--prune'], later());
  assert.equal(again.objects, []);
});

test('--prune keeps the manifest of a job still running even when no ref reaches it', async () => {
  const slow = await submit('p/r', 'sleep', '300');
  try {
    assert.is((await qdo(['update-ref', '-d', 'p/r'], opts)).code, 0);
    const g = await gcJson(['--prune'], later());
    assert.equal(g.objects, []);
    assert.ok(existsSync(objectPath(layoutOf(home), slow.id)));
    assert.ok(existsSync(slow.run_dir));
  } finally {
    await qdo(['sched', 'cancel', slow.sched_id], opts);
  }
});

test('--prune keeps a side branch of a job that still exists (a ref moved back, or a sync)', async () => {
  const v1 = await submit('p/j', 'true');
  await waitDone('p/j', v1.id);
  const v2 = await submit('p/j', 'echo', 'two');
  await waitDone('p/j', v2.id);
  assert.is((await qdo(['update-ref', 'p/j', v1.id, v2.id], opts)).code, 0);
  const g = await gcJson(['--prune'], later());
  assert.equal(g.objects, []);
  assert.equal(g.records, []);
  assert.equal(g.run_dirs, []);
  const l = layoutOf(home);
  assert.ok(existsSync(objectPath(l, v2.id)));
  assert.ok(existsSync(submissionPath(l, v2.id)));
  assert.ok(existsSync(v2.run_dir));
});

test('bad input: --keep 0, --keep x, a pattern that matches nothing', async () => {
  for (const k of ['0', 'x', '1.5']) {
    const r = await qdo(['gc', '--keep', k], opts);
    assert.is(r.code, 2, k);
    assert.match(r.stderr, /--keep .*expected a whole number >= 1/);
  }
  const n = await qdo(['gc', 'p/nothing*'], opts);
  assert.is(n.code, 3);
  assert.match(n.stderr, /gc: no job matches "p\/nothing\*"/);
});

test('a run folder that cannot be removed is a problem (exit 1) naming it and why; the others go (removal in worker threads)', async () => {
  // 200 jobs x 3 versions, each version with a run folder: gc lists the 200 folders of @1,
  // then removes them in worker threads. The folder of the @1 with the smallest id holds a
  // file that cannot be removed.
  const dir = tempDir('qdo-gc-stuck-');
  try {
    const l = await buildStore(dir, [{ project: 'q', jobs: 200, versions: 3, runDirs: true }]);
    const o: RunOptions = { home: dir, env: { QDO_SCHEDULER: 'local' } };
    const refs = await readRefs(l, 'q');
    const firstOf = async (name: string) => (await readManifest(l, (await readManifest(l, refs.get(name)!)).parent!)).parent!;
    const names = Array.from({ length: 200 }, (_, j) => `job${String(j).padStart(6, '0')}`);
    const firsts = new Map<string, string>();
    for (const name of names) firsts.set(name, await firstOf(name));
    const stuckName = names.reduce((a, b) => (firsts.get(a)! < firsts.get(b)! ? a : b));
    const stuck = runDirOf(l, { project: 'q', name: stuckName, version: 1 }, firsts.get(stuckName)!);
    const pinned = join(stuck, 'pinned');
    writeFileSync(pinned, 'x');
    // As root a file is kept by the immutable attribute; otherwise its folder is read-only.
    const root = process.getuid?.() === 0;
    if (root) execFileSync('chattr', ['+i', pinned]);
    else chmodSync(stuck, 0o500);
    try {
      const r = await qdo(['gc'], o);
      assert.is(r.code, 1, r.stderr);
      assert.is(r.stderr, `qdo: gc: q/${stuckName}@1: run folder ${stuck} could not be removed (${root ? 'EPERM' : 'EACCES'}); a gc after that is fixed removes it\n`);
      assert.ok(existsSync(pinned), 'the pinned file is still there');
      let gone = 0;
      for (const name of names) {
        if (name === stuckName) continue;
        const id = firsts.get(name)!;
        if (!existsSync(runDirOf(l, { project: 'q', name, version: 1 }, id))) gone++;
      }
      assert.is(gone, 199, 'every other folder of @1 went');
      const listed = await collectedTimes(l, new Set(firsts.values()));
      assert.is(listed.size, 200, 'every folder of @1 listed before it went, the stuck one too');
    } finally {
      if (root) execFileSync('chattr', ['-i', pinned]);
      else chmodSync(stuck, 0o700);
    }
    // Once the file can go, the next gc removes the folder (and lists it again).
    assert.is((await qdo(['gc'], o)).code, 0);
    assert.not.ok(existsSync(stuck));
    const all = lists(dir);
    assert.is(all.length, 2);
    assert.equal(all.map((x) => x.entries.length).sort((a, b) => a - b), [1, 200]);
    assert.equal(all.find((x) => x.entries.length === 1)!.entries.map((e) => e.id), [firsts.get(stuckName)]);
  } finally {
    removeDir(dir);
  }
});

test('a superseded version run again (a requeue after it ended) keeps its run folder: gc looks at it as status would', async () => {
  const [v1, v2] = await threeVersions();
  // What a scheduler's rerun of v1 leaves (scheduler-common.md §Attempts): attempt 1's
  // records renamed, attempt 2's start record, the rerun marker. Its record still says completed.
  const rec = (f: string, v: unknown) => writeFileSync(join(v1!.run_dir, f), JSON.stringify(v) + '\n');
  const start = JSON.parse(readFileSync(join(v1!.run_dir, 'qdo-start.json'), 'utf8')) as Record<string, unknown>;
  rec('qdo-start.1.json', start);
  rec('qdo-end.1.json', JSON.parse(readFileSync(join(v1!.run_dir, 'qdo-end.json'), 'utf8')));
  rmSync(join(v1!.run_dir, 'qdo-end.json'));
  rec('qdo-start.json', { ...start, attempt: 2 });
  rec('qdo-rerun.json', { task: null, attempt: 2, time: FIXED_NOW.toISOString(), host: 'testhost' });
  assert.is(readRecord(home, v1!.id).state, 'completed');
  // A dry run (which writes no record) sees the marker too: it never lists what gc keeps.
  const dry = await gcJson(['--keep', '1', '--dry-run']);
  assert.equal(dry.run_dirs.map((d) => d.id), [v2!.id]);
  assert.equal(dry.kept.map((k) => [k.id, k.state]), [[v1!.id, 'completed']]);
  assert.match(dry.kept[0]!.reason, /running again \(a rerun marker newer than its record\)/);
  assert.is(readRecord(home, v1!.id).state, 'completed');
  const g = await gcJson(['--keep', '1']);
  assert.equal(g.run_dirs.map((d) => d.id), [v2!.id]);
  assert.equal(g.kept.map((k) => [k.id, k.state]), [[v1!.id, 'running']]);
  assert.ok(existsSync(v1!.run_dir));
  assert.is(readRecord(home, v1!.id).state, 'running');
});

test('a superseded version ended within rerun_window whose scheduler cannot be asked keeps its run folder until the window has passed', async () => {
  const [v1, v2] = await threeVersions();
  // v1 as if run on another cluster: nothing here can ask whether it was taken back into the
  // queue (a requeue whose next attempt has not started leaves no mark in its folder).
  const p = submissionPath(layoutOf(home), v1!.id);
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), cluster: 'elsewhere' }, null, 2) + '\n');
  // The dry run says the same (it used to list v1 as removed: it did not look at rerun_window).
  const dry = await gcJson(['--keep', '1', '--dry-run']);
  assert.equal(dry.run_dirs.map((d) => d.id), [v2!.id]);
  assert.equal(dry.kept.map((k) => k.id), [v1!.id]);
  assert.match(dry.kept[0]!.reason, /cluster elsewhere, which this machine cannot ask whether it was requeued: collected by a gc once rerun_window has passed/);
  const g = await gcJson(['--keep', '1']);
  assert.equal(g.run_dirs.map((d) => d.id), [v2!.id]);
  assert.equal(g.kept.map((k) => k.id), [v1!.id]);
  assert.match(g.kept[0]!.reason, /cluster elsewhere, which this machine cannot ask whether it was requeued: collected by a gc once rerun_window has passed/);
  assert.ok(existsSync(v1!.run_dir));
  // Two days on (rerun_window is a day by default), it goes.
  const r = await qdo(['gc', '--keep', '1', '--json'], { ...opts, now: new Date(Date.now() + 48 * 3600_000) });
  assert.equal((JSON.parse(r.stdout) as { run_dirs: { id: string }[] }).run_dirs.map((d) => d.id), [v1!.id]);
  assert.not.ok(existsSync(v1!.run_dir));
});

test('several allocations: each gets its own list, naming only its own folders', async () => {
  const scratch = tempDir('qdo-gc-scratch-');
  try {
    assert.is((await qdo(['init', scratch], opts)).code, 0);
    assert.is((await qdo(['project', 'add', 'q', '--alloc', scratch], opts)).code, 0);
    const [v1] = await threeVersions();
    const w: Sub[] = [];
    for (let i = 0; i < 3; i++) {
      w.push(await submit('q/w', 'true'));
      assert.is(await waitDone('q/w', w[i]!.id), 'completed');
    }
    const g = await gcJson([]);
    assert.equal(g.run_dirs.map((d) => d.id).sort(), [v1!.id, w[0]!.id].sort());
    assert.equal(lists(home).flatMap((x) => x.entries.map((e) => e.id)), [v1!.id]);
    assert.equal(lists(scratch).flatMap((x) => x.entries.map((e) => e.id)), [w[0]!.id]);
    assert.not.ok(existsSync(w[0]!.run_dir));
    assert.match((await qdo(['show', 'q/w@1'], opts)).stdout, /\(removed by qdo gc at /);
  } finally {
    removeDir(scratch);
  }
});

test('no run folder goes without its list: a list that cannot be written stops gc before anything is removed', async () => {
  const [v1, v2] = await threeVersions();
  const l = layoutOf(home);
  writeFileSync(collectedDir(l), 'not a folder\n');
  const r = await qdo(['gc', '--keep', '1'], opts);
  assert.is(r.code, 7, r.stderr);
  assert.match(r.stderr, /collected/);
  assert.ok(existsSync(v1!.run_dir));
  assert.ok(existsSync(v2!.run_dir));
  rmSync(collectedDir(l));
  const g = await gcJson(['--keep', '1']);
  assert.equal(g.run_dirs.map((d) => d.id), [v1!.id, v2!.id]);
});

test("a second gc lists each job's runs folder and reads no history where nothing is left to collect", async () => {
  const [v1, v2] = await threeVersions();
  assert.equal((await gcJson([])).run_dirs.map((d) => d.id), [v1!.id]);
  // v2's manifest damaged: a gc that walked the chain down past it would report the job.
  const l = layoutOf(home);
  const mp = objectPath(l, v2!.id);
  rmSync(mp, { force: true });
  writeFileSync(mp, 'not a manifest');
  const again = await gcJson([]);
  assert.equal([again.run_dirs, again.problems], [[], []]);
  // With a folder of v1 there again, gc walks down to it and says what it cannot read.
  mkdirSync(v1!.run_dir);
  const r = await qdo(['gc', '--json'], opts);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /p\/j: history unreadable, nothing collected/);
});

test('fsck: a damaged collected list is a warning --repair removes; a stray file there is an error it leaves', async () => {
  await threeVersions();
  await gcJson([]);
  const d = collectedDir(layoutOf(home));
  const [name] = readdirSync(d);
  writeFileSync(join(d, name!), readFileSync(join(d, name!), 'utf8') + '{"id":"nope"}\n');
  writeFileSync(join(d, 'notes.txt'), 'mine\n');
  const f = await qdo(['fsck'], opts);
  assert.is(f.code, 1);
  assert.is(f.stdout, `warning bad-collected ${join(d, name!)}: line 3: "id": expected 64 hex digits: qdo show cannot say when gc removed the run folders it names\nerror stray-file ${join(d, 'notes.txt')}: not a collected list (expected YYYYMMDDTHHMMSS.mmmZ-<8 hex>.jsonl); qdo leaves it alone\n`);
  // Hostile or mistyped names are damage too (a job name becomes a path in qdo show).
  const head = '{"schema":"qdo.collected/v1","time":"2026-11-21T09:30:00.000Z"}\n';
  for (const job of ['p/../x', 'x', '/x', 'p/.x', 'p/x/']) {
    assert.throws(() => parseCollectedList('l.jsonl', `${head}{"id":"${'a'.repeat(64)}","job":"${job}","version":1}\n`), /line 2: "job": expected PROJECT\/NAME/, job);
  }
  assert.is(parseCollectedList('l.jsonl', `${head}{"id":"${'a'.repeat(64)}","job":"paper/run/x","version":1}\n`).entries[0]!.job, 'paper/run/x');
  const rep = await qdo(['fsck', '--repair'], opts);
  assert.match(rep.stdout, /^fixed bad-collected /m);
  assert.not.ok(existsSync(join(d, name!)));
  assert.ok(existsSync(join(d, 'notes.txt')));
});

test.run();
