// qdo logs, path, artifacts and pull, in-process, on jobs the local backend really runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, tempDir, removeDir, scrub, FIXED_NOW, type RunResult } from '../helpers/cli.js';
import { assertGolden } from '../helpers/golden.js';

const env = { QDO_SCHEDULER: 'local' };
let home = '';
let other = '';
test.before.each(async () => {
  home = tempDir('qdo-home-');
  other = tempDir('qdo-other-');
  ok(await run(['project', 'add', 'p']));
});
test.after.each(() => {
  removeDir(home);
  removeDir(other);
});

function run(args: string[], cwd?: string): Promise<RunResult> {
  return qdo(args, { home, env, cwd });
}

function ok(r: RunResult): RunResult {
  assert.is(r.code, 0, `exit code (stderr: ${r.stderr})`);
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.unreachable(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function submit(job: string, script: string, extra: string[] = []): Promise<string> {
  ok(await run(['submit', job, ...extra, '--', 'bash', '-c', script]));
  return (await run(['path', job])).stdout.trim();
}

async function finished(job: string, script: string): Promise<string> {
  const dir = await submit(job, script);
  await until(`${job}'s end record`, () => existsSync(join(dir, 'qdo-end.json')));
  return dir;
}

test('logs prints stdout, --err stderr; path prints the run folder', async () => {
  const dir = await finished('p/j', 'echo out; echo err >&2; printf "no newline"');
  assert.match(dir, new RegExp(`^${home}/p/runs/j/1-[0-9a-f]{8}$`));
  assert.is(readFileSync(join(dir, 'qdo-script'), 'utf8').length > 0, true);
  const out = ok(await run(['logs', 'p/j']));
  assert.is(out.stdout, 'out\nno newline');
  assert.is(out.stderr, '');
  assert.is(ok(await run(['logs', 'p/j', '--err'])).stdout, 'err\n');
  // A bare job name inside the project folder, and a revision.
  assert.is(ok(await run(['logs', 'j@1'], join(home, 'p'))).stdout, 'out\nno newline');
  assert.is(ok(await run(['path', 'j'], join(home, 'p'))).stdout, dir + '\n');
});

test('logs of a newer version and of the old one', async () => {
  await finished('p/j', 'echo first');
  const dir2 = await finished('p/j', 'echo second');
  assert.match(dir2, /\/2-[0-9a-f]{8}$/);
  assert.is(ok(await run(['logs', 'p/j'])).stdout, 'second\n');
  assert.is(ok(await run(['logs', 'p/j@1'])).stdout, 'first\n');
  assert.is(ok(await run(['logs', 'p/j~1'])).stdout, 'first\n');
});

test('logs -f streams a running job and returns when it ends', async () => {
  const script = 'for i in 1 2 3 4 5 6; do echo line$i; sleep 0.25; done; echo bye >&2';
  ok(await run(['submit', 'p/slow', '--', 'bash', '-c', script]));
  const dir = (await run(['path', 'p/slow'])).stdout.trim();
  const started = Date.now();
  const r = ok(await run(['logs', '-f', 'p/slow']));
  assert.ok(existsSync(join(dir, 'qdo-end.json')), 'followed until the end record');
  assert.ok(Date.now() - started >= 1000, 'it waited for the job');
  assert.is(r.stdout, 'line1\nline2\nline3\nline4\nline5\nline6\n');
  assert.match(r.stderr, /qdo: p\/slow@1 completed \(exit 0\)\n$/);
  // Following stderr of a finished job prints it and returns at once.
  const e = ok(await run(['logs', '--follow', '--err', 'p/slow']));
  assert.is(e.stdout, 'bye\n');
});

test('a held job: logs says so; -f waits and Ctrl-C ends it cleanly', async () => {
  const dir = await submit('p/h', 'echo never', ['--hold']);
  assert.ok(existsSync(dir), 'the run folder exists from submit on');
  const r = ok(await run(['logs', 'p/h']));
  assert.is(r.stdout, '');
  assert.is(r.stderr, 'qdo: p/h@1 is held; no output yet\n');
  const listeners = process.listenerCount('SIGINT');
  const following = run(['logs', '-f', 'p/h']);
  await sleep(400);
  process.emit('SIGINT');
  const f = ok(await following);
  assert.is(f.stdout, '');
  assert.is(f.stderr, 'qdo: p/h@1 is held; waiting for output (Ctrl-C to stop)\n');
  assert.is(process.listenerCount('SIGINT'), listeners, 'the Ctrl-C handler is removed');
});

test('array jobs: each task under a header, --task picks one', async () => {
  ok(await run(['project', 'add', 'a']));
  mkdirSync(join(home, '.qdo/project-config'), { recursive: true });
  writeFileSync(join(home, '.qdo/project-config/a.json'), JSON.stringify({ defaults: { array: '1-3' } }));
  const dir = await submit('a/arr', 'echo task $QDO_ARRAY_INDEX; [ $QDO_ARRAY_INDEX != 2 ] || printf partial');
  await until('every task', () => ['1', '2', '3'].every((i) => existsSync(join(dir, i, 'qdo-end.json'))));
  const all = ok(await run(['logs', 'a/arr']));
  assert.is(all.stdout, '==> 1 <==\ntask 1\n\n==> 2 <==\ntask 2\npartial\n\n==> 3 <==\ntask 3\n');
  assert.is(ok(await run(['logs', '-f', 'a/arr'])).stdout, all.stdout, 'following ends when every task has ended');
  assert.is(ok(await run(['logs', 'a/arr', '--task', '2'])).stdout, 'task 2\npartial');
  assert.is(ok(await run(['path', 'a/arr', '--task', '3'])).stdout, join(dir, '3') + '\n');
  const f = ok(await run(['logs', '-f', 'a/arr', '--task', '3']));
  assert.is(f.stdout, 'task 3\n');
  const bad = await run(['logs', 'a/arr', '--task', '9']);
  assert.is(bad.code, 3);
  assert.is(bad.stderr, 'qdo: a/arr@1 has no task 9 (its array is 1-3)\n');
  assert.is((await run(['logs', 'a/arr', '--task', 'x'])).code, 2);
  const a = JSON.parse(ok(await run(['artifacts', 'a/arr', '2/*', '--json'])).stdout);
  assert.equal(
    a.files.map((f: { path: string; kind: string }) => [f.path, f.kind]),
    [['2/qdo-end.json', 'qdo'], ['2/qdo-nodefile', 'qdo'], ['2/qdo-script', 'qdo'], ['2/qdo-start.json', 'qdo'], ['2/stderr', 'log'], ['2/stdout', 'log']],
  );
  await finished('p/plain', 'true');
  const plain = await run(['logs', 'p/plain', '--task', '1']);
  assert.is(plain.code, 2);
  assert.is(plain.stderr, 'qdo: --task: p/plain@1 is not an array job\n');
});

const WRITES = 'mkdir -p "$QDO_RUN_DIR/out/deep"; echo 1,2 >"$QDO_RUN_DIR/a.csv"; echo 3 >"$QDO_RUN_DIR/out/b.csv"; echo x >"$QDO_RUN_DIR/out/deep/c.txt"; echo done';

test('artifacts: kinds, globs, --json', async () => {
  const dir = await finished('p/w', WRITES);
  const j = JSON.parse(ok(await run(['artifacts', 'p/w', '--json'])).stdout);
  assert.equal(Object.keys(j), ['version', 'job', 'id', 'job_version', 'run_dir', 'glob', 'files']);
  assert.is(j.version, 1);
  assert.is(j.job, 'p/w');
  assert.is(j.run_dir, dir);
  assert.is(j.glob, '**');
  const kinds = Object.fromEntries(j.files.map((f: { path: string; kind: string }) => [f.path, f.kind]));
  assert.equal(kinds, {
    'a.csv': 'output',
    'job.local.sh': 'qdo',
    'out/b.csv': 'output',
    'out/deep/c.txt': 'output',
    'qdo-end.json': 'qdo',
    'qdo-nodefile': 'qdo',
    'qdo-script': 'qdo',
    'qdo-start.json': 'qdo',
    stderr: 'log',
    stdout: 'log',
  });
  const f = j.files.find((x: { path: string }) => x.path === 'a.csv');
  assert.equal(Object.keys(f), ['path', 'size', 'mtime', 'kind']);
  assert.is(f.size, 4);
  assert.match(f.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const paths = async (glob: string) => JSON.parse(ok(await run(['artifacts', 'p/w', glob, '--json'])).stdout).files.map((x: { path: string }) => x.path);
  assert.equal(await paths('*.csv'), ['a.csv', 'out/b.csv'], 'a pattern without / matches names at any depth');
  assert.equal(await paths('out/*'), ['out/b.csv']);
  assert.equal(await paths('out/**'), ['out/b.csv', 'out/deep/c.txt']);
  const none = await run(['artifacts', 'p/w', '*.nothing']);
  assert.is(none.code, 1);
  assert.is(none.stderr, `qdo: no file in ${dir} matches "*.nothing"\n`);
  assert.is((await run(['artifacts', 'p/w', '../*'])).code, 2);

  // The table, with pinned times (sizes of qdo's own files depend on paths and host).
  const then = new Date(FIXED_NOW.getTime() - 5 * 60_000);
  for (const p of ['a.csv', 'out/b.csv', 'out/deep/c.txt', 'stdout', 'stderr']) utimesSync(join(dir, p), then, then);
  const t = ok(await qdo(['artifacts', 'p/w', '{*.csv,*.txt,std*}'], { home, env }));
  assertGolden('artifacts.txt', t.stdout);
});

test('no run folder, unknown job, ambiguous pattern', async () => {
  const dir = await finished('p/gone', 'echo hi');
  rmSync(dir, { recursive: true });
  for (const cmd of [['path', 'p/gone'], ['logs', 'p/gone'], ['artifacts', 'p/gone'], ['pull', 'p/gone', 'p']]) {
    const r = await run(cmd);
    assert.is(r.code, 3, cmd.join(' '));
    assert.match(scrub(r.stderr, home), /^qdo: (SOURCE "p\/gone" is no folder, project or job: )?p\/gone@1 has no run folder \(\$HOME\/p\/runs\/gone\/1-[0-9a-f]{8}\)\nhint: it was removed/);
  }
  const u = await run(['logs', 'p/gon']);
  assert.is(u.code, 3);
  assert.is(u.stderr, 'qdo: no job "gon" in project p\nhint: did you mean "p/gone"?\n');
  await finished('p/other', 'true');
  const amb = await run(['path', 'p/*']);
  assert.is(amb.code, 2);
  assert.is(amb.stderr, 'qdo: path: "p/*" matches 2 jobs; give one\nhint: matching: p/gone, p/other\n');
});

test('pull: a job of another allocation, by revision, with a glob', async () => {
  ok(await run(['init', other]));
  ok(await run(['project', 'add', 'far', '--alloc', other]));
  await finished('far/w', WRITES);
  const dry = ok(await run(['pull', 'far/w', 'p', '*.csv', '--dry-run']));
  assert.is(scrub(scrub(dry.stdout, other, '$OTHER'), home), 'a.csv\nout/b.csv\nwould copy 2 file(s) (6 B) from $OTHER/far/runs/w/1-' + dry.stdout.split('/runs/w/1-')[1]!.slice(0, 8) + '/ to $HOME/p/pulled/w@1\n');
  assert.not.ok(existsSync(join(home, 'p/pulled')), '--dry-run copies nothing');
  const r = JSON.parse(ok(await run(['pull', 'far/w', 'p', '*.csv', '--json'])).stdout);
  assert.equal(Object.keys(r), ['version', 'source', 'kind', 'from', 'from_archive', 'job', 'id', 'destination', 'dry_run', 'files', 'bytes']);
  assert.is(r.version, 1);
  assert.is(r.kind, 'job');
  assert.is(r.job, 'far/w');
  assert.is(r.destination, join(home, 'p/pulled/w@1'));
  assert.equal(r.files, [{ path: 'a.csv', size: 4 }, { path: 'out/b.csv', size: 2 }]);
  assert.is(r.bytes, 6);
  assert.is(readFileSync(join(home, 'p/pulled/w@1/out/b.csv'), 'utf8'), '3\n');
  assert.equal(readdirSync(join(home, 'p/pulled/w@1')).sort(), ['a.csv', 'out']);
  // Again: nothing new to copy; what is there is never deleted.
  writeFileSync(join(home, 'p/pulled/w@1/mine.txt'), 'keep');
  const again = ok(await run(['pull', 'far/w', 'p', '*.csv']));
  assert.match(again.stdout, /^nothing to copy: /);
  assert.ok(existsSync(join(home, 'p/pulled/w@1/mine.txt')));
  // A path with / is anchored at the source folder; ** also matches no folder at all.
  const deep = JSON.parse(ok(await run(['pull', 'far/w', 'p', 'out/**', '--to', join(home, 'x'), '--json'])).stdout);
  assert.equal(deep.files.map((f: { path: string }) => f.path), ['out/b.csv', 'out/deep/c.txt']);
  const star = JSON.parse(ok(await run(['pull', 'far/w', 'p', '**/*.csv', '--to', join(home, 'y'), '--json'])).stdout);
  assert.equal(star.files.map((f: { path: string }) => f.path), ['a.csv', 'out/b.csv']);
});

test('pull: a project folder, a local path, relative --to; refusals', async () => {
  ok(await run(['init', other]));
  ok(await run(['project', 'add', 'far', '--alloc', other]));
  mkdirSync(join(other, 'far/data'), { recursive: true });
  writeFileSync(join(other, 'far/data/d.txt'), 'data\n');
  const proj = JSON.parse(ok(await run(['pull', 'far', 'p', 'data/*', '--json'])).stdout);
  assert.is(proj.kind, 'project');
  assert.is(proj.destination, join(home, 'p/pulled/far'));
  assert.is(readFileSync(join(home, 'p/pulled/far/data/d.txt'), 'utf8'), 'data\n');
  const path = JSON.parse(ok(await run(['pull', join(other, 'far/data'), 'p', '--json'])).stdout);
  assert.is(path.kind, 'path');
  assert.is(path.from, join(other, 'far/data') + '/');
  assert.is(path.destination, join(home, 'p/pulled/data'));
  const file = JSON.parse(ok(await run(['pull', join(other, 'far/data/d.txt'), 'p', '--json'])).stdout);
  assert.is(file.destination, join(home, 'p/pulled'));
  assert.is(readFileSync(join(home, 'p/pulled/d.txt'), 'utf8'), 'data\n', 'a single file goes into pulled/');
  const rel = ok(await run(['pull', './far/data', 'p', '--to', 'copy'], other));
  assert.match(rel.stdout, /^copied 1 file\(s\) \(5 B\) from /);
  assert.ok(existsSync(join(other, 'copy/d.txt')));

  const into = await run(['pull', join(home, 'p'), 'p']);
  assert.is(into.code, 2);
  assert.match(into.stderr, /is inside SOURCE .*: it would copy into itself\nhint: give another destination with --to DIR\n$/);
  const missing = await run(['pull', './nothing-here', 'p']);
  assert.is(missing.code, 3);
  assert.is(missing.stderr, `qdo: SOURCE ${join(home, 'nothing-here')} does not exist\n`);
  const noProject = await run(['pull', './far', 'nope'], other);
  assert.is(noProject.code, 3);
  assert.match(noProject.stderr, /^qdo: no project "nope" in any allocation\n/);
  assert.is((await run(['pull', 'far', 'p', '{a,b}'])).code, 2);
});

test('pull: an rsync failure is exit 6 with what rsync said', async () => {
  const src = join(other, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'f'), 'new');
  // A non-empty folder where a file should go: rsync cannot make way (it never deletes).
  mkdirSync(join(home, 'dest/f/sub'), { recursive: true });
  const r = await run(['pull', src, 'p', '--to', join(home, 'dest')]);
  assert.is(r.code, 6);
  assert.match(r.stderr, /^qdo: copying .*\/src\/ to .*\/dest failed: some files could not be copied: .*\nhint: files already copied are kept/);
});

test.run();
