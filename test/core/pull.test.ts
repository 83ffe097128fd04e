// qdo pull's pure parts (source kinds, GLOB → rsync filters, rsync's output) and its
// rsync errors through a fake runner; test/cli/logs-artifacts.test.ts runs the real rsync.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, tempDir, removeDir, testContext } from '../helpers/cli.js';
import { isRemote, parseRsyncOutput, pull, rsyncFilters } from '../../src/core/pull.js';
import { classify } from '../../src/core/artifacts.js';
import { QdoError, SchedulerError } from '../../src/errors.js';
import type { Runner } from '../../src/scheduler/runner.js';

test('remote sources are what rsync takes as remote', () => {
  for (const s of ['host:', 'host:data', 'me@host:/scratch/x', 'rsync://host/mod/x']) assert.ok(isRemote(s), s);
  for (const s of ['/abs:path', './a:b', 'p/j', 'p/j@2', 'data']) assert.not.ok(isRemote(s), s);
});

test('GLOB → rsync filters: names at any depth, paths anchored, ** also as no folder', () => {
  assert.equal(rsyncFilters(undefined), []);
  assert.equal(rsyncFilters('**'), []);
  assert.equal(rsyncFilters('*.csv'), ['--include=*/', '--include=*.csv', '--exclude=*', '--prune-empty-dirs']);
  assert.equal(rsyncFilters('out/*.csv'), ['--include=*/', '--include=/out/*.csv', '--exclude=*', '--prune-empty-dirs']);
  assert.equal(rsyncFilters('**/x/**/*.h5').slice(1, -2), ['--include=/x/*.h5', '--include=/**/x/*.h5', '--include=/x/**/*.h5', '--include=/**/x/**/*.h5']);
  for (const bad of ['', '/abs', '../up', 'a/../b', '{a,b}']) {
    try {
      rsyncFilters(bad);
      assert.unreachable(bad);
    } catch (e) {
      assert.instance(e, QdoError);
      assert.is((e as QdoError).code, 'bad-glob');
      assert.is((e as QdoError).exitCode, 2);
    }
  }
});

test("rsync's --out-format lines: files only, sizes summed by the caller", () => {
  const out = ['created directory /d', 'qdo cd+++++++++ 4096 ./', 'qdo >f+++++++++ 12 a b.csv', 'qdo cd+++++++++ 4096 out/', 'qdo >f.st...... 7 out/c', 'qdo cL+++++++++ 0 link -> x', ''].join('\n');
  assert.equal(parseRsyncOutput(out), [
    { path: 'a b.csv', size: 12 },
    { path: 'out/c', size: 7 },
  ]);
});

test("artifact kinds: qdo's files and logs at the top of a run or task folder only", () => {
  assert.is(classify('job.slurm.sh', false), 'qdo');
  assert.is(classify('qdo-prologue.sh', false), 'qdo');
  assert.is(classify('qdo-notified', false), 'qdo');
  assert.is(classify('.qdo-end.json.tmp-0a1b2c3d', false), 'qdo');
  assert.is(classify('stdout', false), 'log');
  assert.is(classify('3/stdout', true), 'log');
  assert.is(classify('3/qdo-end.json', true), 'qdo');
  assert.is(classify('3/stdout', false), 'output');
  assert.is(classify('res/qdo-script', true), 'output');
  assert.is(classify('result.txt', false), 'output');
});

let home = '';
test.before.each(async () => {
  home = tempDir('qdo-home-');
  assert.is((await qdo(['project', 'add', 'p'], { home })).code, 0);
  mkdirSync(join(home, 'src'));
});
test.after.each(() => removeDir(home));

async function failing(err: Error): Promise<QdoError> {
  const runner: Runner = async () => {
    throw err;
  };
  try {
    await pull(testContext({ home }), { source: './src', project: 'p', runner });
  } catch (e) {
    assert.instance(e, QdoError);
    return e as QdoError;
  }
  return assert.unreachable('pull should fail') as never;
}

test('rsync missing: exit 6, names rsync; the destination made for it is removed again', async () => {
  const e = await failing(new SchedulerError('scheduler-command-missing', 'scheduler command not found: rsync'));
  assert.is(e.code, 'rsync-missing');
  assert.is(e.exitCode, 6);
  assert.match(e.message, /rsync is not installed or not on PATH/);
  assert.not.ok((await import('node:fs')).existsSync(join(home, 'p/pulled')));
});

test('rsync failing: exit 6 with its exit code explained and what it said', async () => {
  const e = await failing(new SchedulerError('scheduler-command-failed', 'x', { data: { exitCode: 255, stderr: 'ssh: connect to host h port 22: Connection refused\nrsync error\n' } }));
  assert.is(e.code, 'rsync-failed');
  assert.is(e.exitCode, 6);
  assert.is(e.message, `copying ${join(home, 'src')}/ to ${join(home, 'p/pulled/src')} failed: the remote side could not be reached: ssh: connect to host h port 22: Connection refused; rsync error`);
});

test('the argv: archive mode, no delete, the dry run flag, -- before paths', async () => {
  const seen: string[][] = [];
  const runner: Runner = async (argv) => {
    seen.push(argv);
    return { stdout: 'qdo >f+++++++++ 3 f\n', stderr: '', exitCode: 0, attempts: 1 };
  };
  const r = await pull(testContext({ home }), { source: './src', project: 'p', glob: '*.txt', dryRun: true, runner });
  assert.equal(seen, [['rsync', '-a', '--out-format=qdo %i %l %n', '--dry-run', '--include=*/', '--include=*.txt', '--exclude=*', '--prune-empty-dirs', '--', join(home, 'src') + '/', join(home, 'p/pulled/src') + '/']]);
  assert.equal(r.files, [{ path: 'f', size: 3 }]);
  assert.is(r.bytes, 3);
  assert.ok(seen[0]!.every((a) => !a.startsWith('--delete')));
});

test.run();
