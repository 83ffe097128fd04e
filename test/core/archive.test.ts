// Archives (spec/config.md §Archive; spec/porcelain.md §qdo archive, §qdo pull, §qdo gc):
// the rsync command lines and settings (pure), then real local jobs archived to a second
// allocation when their end is seen, dropped by gc --archived only when verified, fetched
// back by qdo pull; a `host:path` archive through a stand-in ssh (RSYNC_RSH) running the
// real rsync protocol on this machine; and alloc move of the archive allocation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { ok, readRecord, waitDone } from '../helpers/jobs.js';
import { copyArgv, fetchArgv, unverifiedItems } from '../../src/core/archive.js';
import { archivedFieldProblems, parseArchiveSetting } from '../../src/model/archive.js';
import { parseConfig } from '../../src/model/config.js';
import { QdoError } from '../../src/errors.js';

test('rsync command lines: -R keeps the allocation-relative path; fetch copies the content back', () => {
  assert.equal(copyArgv('/home/me', 'p/runs/j/1-abcdef01', '/arch'), ['rsync', '-a', '-R', '--out-format=qdo %i %l %n', '--', '/home/me/./p/runs/j/1-abcdef01/', '/arch/']);
  assert.equal(copyArgv('/h', 'p/runs/j/1-a', 'host:x', { dryRun: true, checksum: true }).slice(4, 6), ['--dry-run', '--checksum']);
  assert.equal(fetchArgv('host:arch', 'p/runs/j/1-a', '/h/p/runs/j/1-a'), ['rsync', '-a', '--out-format=qdo %i %l %n', '--', 'host:arch/p/runs/j/1-a/', '/h/p/runs/j/1-a/']);
});

test('verification: files to send and folders to make are missing; attribute-only lines are not', () => {
  const out = ['qdo >f..t...... 3 p/a.txt', 'qdo <f+++++++++ 2 p/b', 'qdo cd+++++++++ 4096 p/empty/', 'qdo .d..t...... 4096 p/', 'qdo .f...p..... 3 p/c', 'noise', ''].join('\n');
  assert.equal(unverifiedItems(out), ['p/a.txt', 'p/b', 'p/empty/']);
  assert.equal(unverifiedItems(''), []);
});

test('config "archive": a target, {to, when}, or false; bad ones name the key', () => {
  assert.equal(parseConfig('{"archive": "/arch"}', 'c.json').archive, { to: '/arch', when: 'end' });
  assert.equal(parseConfig('{"archive": {"to": "me@host:arch", "when": "manual"}}', 'c.json').archive, { to: 'me@host:arch', when: 'manual' });
  assert.is(parseConfig('{"archive": false}', 'c.json').archive, null);
  for (const [v, re] of [
    ['"arch"', /"archive": expected an absolute allocation path or host:path \(a relative path is neither\)/],
    ['"/a/../b"', /normalised/],
    ['"/a/"', /normalised/],
    ['"host:"', /host:path with a path/],
    ['{"to": "/a", "when": "now"}', /"archive.when": expected "end" or "manual"/],
    ['{"to": "/a", "x": 1}', /"archive.x"/],
    ['3', /"archive": expected a target string/],
  ] as const) {
    try {
      parseConfig(`{"archive": ${v}}`, 'c.json');
      assert.unreachable(v);
    } catch (e) {
      assert.instance(e, QdoError);
      assert.is((e as QdoError).code, 'bad-config');
      assert.match((e as QdoError).message, re);
    }
  }
  assert.ok(parseArchiveSetting('/x', () => new Error('no')));
  assert.equal(archivedFieldProblems({ archived: { to: '/a', time: '2026-11-21T09:30:00.000Z', files: 1, bytes: 2 } }), []);
  assert.is(archivedFieldProblems({ archived: { to: 'rel', time: 'x', files: -1, bytes: 2 } }).length, 1);
  assert.equal(archivedFieldProblems({}), []);
});

let home = '';
let arch = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-arch-home-');
  arch = tempDir('qdo-arch-archive-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  await ok(opts, ['project', 'add', 'p']);
  await ok(opts, ['init', arch]);
});
test.after.each(() => {
  removeDir(home);
  removeDir(arch);
  removeDir(arch + '-moved');
});

function setArchive(value: unknown, project = 'p'): void {
  mkdirSync(join(home, '.qdo/project-config'), { recursive: true });
  writeFileSync(join(home, '.qdo/project-config', `${project}.json`), JSON.stringify({ archive: value }) + '\n');
}

/** A job that writes out.csv and a file in a subfolder into its run folder. */
async function submitJob(name: string, value: string): Promise<{ id: string; run_dir: string }> {
  return JSON.parse(await ok(opts, ['submit', `p/${name}`, '--json', '--', 'bash', '-c', `echo ${value} > "$QDO_RUN_DIR/out.csv"; mkdir -p "$QDO_RUN_DIR/sub"; echo deep > "$QDO_RUN_DIR/sub/d.txt"`]));
}

test('archive to a second allocation when the end is seen; gc --archived drops it; pull fetches it back', async () => {
  setArchive(arch);
  const j = await submitJob('train', 'a,b');
  await waitDone(opts, 'p/train');
  const rel = `p/runs/train/1-${j.id.slice(0, 8)}`;
  const copy = join(arch, rel);
  assert.is(readFileSync(join(copy, 'out.csv'), 'utf8'), 'a,b\n', 'copied when the end was seen');
  assert.is(readFileSync(join(copy, 'sub/d.txt'), 'utf8'), 'deep\n');
  const rec = readRecord(home, j.id);
  const ar = rec.archived as { to: string; files: number; bytes: number; time: string };
  assert.is(ar.to, arch);
  assert.ok(ar.files >= 5, `files: ${ar.files}`); // job script, start and end records, stdout, stderr, out.csv, sub/d.txt
  assert.ok(existsSync(join(j.run_dir, 'out.csv')), 'the local copy stays');

  // Dry run drops nothing; a real one drops the verified local copy and marks the record.
  const dry = await ok(opts, ['gc', '--archived', '--dry-run']);
  assert.match(dry, new RegExp(`would drop p/train@1 ${j.run_dir} \\(.*; verified in ${arch}\\)`));
  assert.ok(existsSync(j.run_dir));
  const g = JSON.parse(await ok(opts, ['gc', '--archived', '--json']));
  assert.equal(g.archived.map((x: { job: string; archive: string }) => [x.job, x.archive]), [['p/train', arch]]);
  assert.not.ok(existsSync(j.run_dir), 'dropped');
  assert.ok(existsSync(join(copy, 'out.csv')), 'the archive keeps it');
  assert.type(readRecord(home, j.id).collected, 'string');
  const logs = await qdo(['logs', 'p/train'], opts);
  assert.is(logs.code, 3);
  assert.match(logs.stderr, new RegExp(`hint: it was archived to ${arch} and dropped here; fetch it back with: qdo pull p/train@1`));

  // pull REV PROJECT copies from the archive; pull REV alone restores the run folder.
  const pj = JSON.parse(await ok(opts, ['pull', 'p/train', 'p', '*.csv', '--json']));
  assert.is(pj.from, copy + '/');
  assert.is(pj.from_archive, true);
  assert.is(readFileSync(join(home, 'p/pulled/train@1/out.csv'), 'utf8'), 'a,b\n');
  const back = await ok(opts, ['pull', 'p/train']);
  assert.match(back, new RegExp(`^fetched p/train@1: \\d+ file\\(s\\) \\(.*\\) from ${copy} into ${j.run_dir}\\n$`));
  assert.is(readFileSync(join(j.run_dir, 'out.csv'), 'utf8'), 'a,b\n');
  assert.is(await ok(opts, ['logs', 'p/train']), '', 'logs work again');
  assert.is(readRecord(home, j.id).collected, undefined, 'no longer collected');
  assert.match(await ok(opts, ['pull', 'p/train']), /fetched p\/train@1: 0 file\(s\)/, 'again: nothing to fetch');
  assert.is((await qdo(['fsck'], opts)).code, 0);
});

test('gc --archived never drops a run folder the archive does not hold as it is now', async () => {
  setArchive(arch);
  const j = await submitJob('t', '1');
  await waitDone(opts, 'p/t');
  const copy = join(arch, `p/runs/t/1-${j.id.slice(0, 8)}`);
  appendFileSync(join(j.run_dir, 'out.csv'), 'more\n'); // changed after archiving
  writeFileSync(join(j.run_dir, 'late.txt'), 'x'); // added after archiving
  const g = JSON.parse(await ok(opts, ['gc', '--archived', '--json']));
  assert.equal(g.archived, []);
  assert.match(g.archived_kept[0].reason, /the archive .* lacks 2 item\(s\) of it \(p\/runs\/t\/.*\/late\.txt, p\/runs\/t\/.*\/out\.csv\): run qdo archive again/);
  assert.ok(existsSync(join(j.run_dir, 'late.txt')));
  // Archived again, it goes; then an archive copy that vanished keeps the next one.
  assert.match(await ok(opts, ['archive', 'p/t']), /archived p\/t@1 to .* \(\d+ file\(s\), .*; 2 sent, verified\)/);
  await ok(opts, ['gc', '--archived']);
  assert.not.ok(existsSync(j.run_dir));
  await ok(opts, ['pull', 'p/t']);
  rmSync(copy, { recursive: true });
  const k = JSON.parse(await ok(opts, ['gc', '--archived', '--json']));
  assert.equal(k.archived, []);
  assert.match(k.archived_kept[0].reason, /lacks/);
  assert.ok(existsSync(join(j.run_dir, 'out.csv')));
  // The archive allocation unmounted: not verified, kept.
  renameSync(arch, arch + '-moved');
  const u = JSON.parse(await ok(opts, ['gc', '--archived', '--json']));
  assert.equal(u.archived, []);
  assert.is(u.archived_kept.length, 1);
  renameSync(arch + '-moved', arch);
});

test('qdo archive: manual setting, what is skipped and why, --to, --dry-run, --all-versions, bad targets', async () => {
  setArchive({ to: arch, when: 'manual' });
  const one = await submitJob('m', '1');
  await waitDone(opts, 'p/m');
  assert.is(readRecord(home, one.id).archived, undefined, 'manual: not at the end');
  const two = await submitJob('m', '2');
  await waitDone(opts, 'p/m');
  const held = JSON.parse(await ok(opts, ['submit', 'p/h', '--hold', '--json', '--', 'true']));
  const d = JSON.parse(await ok(opts, ['archive', 'p/m', '--dry-run', '--json']));
  assert.is(d.archived.length, 1);
  assert.ok(d.archived[0].sent >= 5);
  assert.not.ok(existsSync(join(arch, 'p')), 'a dry run copies nothing');
  assert.is(readRecord(home, two.id).archived, undefined);
  const a = JSON.parse(await ok(opts, ['archive', '-a', 'p/m', 'p/h', '--json']));
  assert.equal(a.archived.map((x: { job_version: number }) => x.job_version).sort(), [1, 2]);
  assert.equal(a.skipped, [{ job: 'p/h', id: held.id, job_version: 1, reason: 'not over yet (held)' }]);
  assert.equal(a.failed, []);
  assert.is(readFileSync(join(arch, `p/runs/m/2-${two.id.slice(0, 8)}/out.csv`), 'utf8'), '2\n');
  await ok(opts, ['cancel', 'p/h']);
  // No setting: skipped with the way to set one; --to archives anyway.
  await ok(opts, ['project', 'add', 'q']);
  await ok(opts, ['submit', 'q/j', '--', 'true']);
  await waitDone(opts, 'q/j');
  assert.match(await ok(opts, ['archive', 'q/j']), /^skipped q\/j@1: project q has no archive \(set "archive" in its config, or give --to\)\n$/);
  assert.match(await ok(opts, ['archive', 'q/j', '--to', arch, '--checksum']), /^archived q\/j@1 to .*\/q\/runs\/j\/1-.* verified\)\n$/);
  for (const [to, re] of [
    ['rel/dir', /--to "rel\/dir": expected an absolute allocation path or host:path/],
    [join(home, 'nope'), /is not a registered allocation\nhint: make it one with: qdo init/],
    [home, /is the allocation of q\/j itself/],
  ] as const) {
    const r = await qdo(['archive', 'q/j', '--to', to], opts);
    assert.is(r.code, 2, to);
    assert.match(r.stderr, re);
  }
  // A setting naming a folder that is no allocation: exit 2, the config file named.
  setArchive(join(home, 'nope'), 'q');
  const bad = await qdo(['archive', 'q/j'], opts);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /project-config\/q\.json\) is not a registered allocation/);
});

test('an archive that cannot be reached at the end: a warning, the command goes on; qdo archive later exits 6', async () => {
  setArchive(arch);
  renameSync(arch, arch + '-moved');
  const j = await submitJob('w', '1');
  let warned = '';
  const end = Date.now() + 20_000;
  for (;;) {
    const r = await qdo(['status', '--refresh', 'p/w'], opts);
    assert.is(r.code, 0, r.stderr);
    warned += r.stderr;
    if (/completed/.test(r.stdout) || Date.now() > end) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.match(warned, new RegExp(`qdo: p/w@1: archive: archive ${arch} cannot be read: .*\\(mount it and run qdo archive again\\)`));
  assert.is(readRecord(home, j.id).archived, undefined);
  const r = await qdo(['archive', 'p/w', '--json'], opts);
  assert.is(r.code, 6);
  assert.is(JSON.parse(r.stdout).failed[0].code, 'archive-unreachable');
  renameSync(arch + '-moved', arch);
  await ok(opts, ['archive', 'p/w']);
  assert.is((readRecord(home, j.id).archived as { to: string }).to, arch);
});

test('host:path archives go through rsync over the remote shell (a stand-in ssh running it here)', async () => {
  const bin = join(home, 'bin');
  mkdirSync(bin);
  const log = join(home, 'ssh.log');
  // rsync runs `$RSYNC_RSH [-l user] host rsync --server …`; ssh hands the words to the remote shell.
  writeFileSync(join(bin, 'fake-ssh'), `#!/bin/sh\necho "$@" >> '${log}'\nwhile [ "\${1#-}" != "$1" ]; do case "$1" in -l|-p) shift 2;; *) shift;; esac; done\nshift\nexec sh -c "$*"\n`);
  chmodSync(join(bin, 'fake-ssh'), 0o755);
  const remote = join(arch, 'remote-area');
  opts = { ...opts, env: { ...opts.env!, RSYNC_RSH: join(bin, 'fake-ssh') } };
  setArchive(`me@somehost:${remote}`);
  const j = await submitJob('r', 'remote');
  await waitDone(opts, 'p/r');
  const copy = join(remote, `p/runs/r/1-${j.id.slice(0, 8)}`);
  assert.is(readFileSync(join(copy, 'out.csv'), 'utf8'), 'remote\n');
  assert.match(readFileSync(log, 'utf8'), /^-l me somehost rsync --server /m, 'through the remote shell, as user me');
  assert.is((readRecord(home, j.id).archived as { to: string }).to, `me@somehost:${remote}`);
  await ok(opts, ['gc', '--archived']);
  assert.not.ok(existsSync(j.run_dir));
  await ok(opts, ['pull', 'p/r']);
  assert.is(readFileSync(join(j.run_dir, 'sub/d.txt'), 'utf8'), 'deep\n');
  // The remote side unreachable: the shell fails; nothing is dropped.
  writeFileSync(join(bin, 'fake-ssh'), '#!/bin/sh\necho "ssh: connect to host somehost port 22: Connection refused" >&2\nexit 255\n');
  const g = JSON.parse(await ok(opts, ['gc', '--archived', '--json']));
  assert.equal(g.archived, []);
  assert.match(g.archived_kept[0].reason, /not verified: checking .* failed: the archive could not be reached: .*Connection refused/);
  assert.ok(existsSync(j.run_dir));
});

test('alloc move of the archive allocation: records follow, the config naming it is reported', async () => {
  setArchive(arch);
  const j = await submitJob('v', '1');
  await waitDone(opts, 'p/v');
  await ok(opts, ['gc', '--archived']);
  const moved = arch + '-moved';
  renameSync(arch, moved);
  const r = await qdo(['alloc', 'move', arch, moved, '--json'], opts);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.records, 1);
  assert.ok(out.notes.includes(`${join(home, '.qdo/project-config/p.json')} archives to ${arch}: edit it to name ${moved}`), out.notes.join('\n'));
  assert.is((readRecord(home, j.id).archived as { to: string }).to, moved);
  await ok(opts, ['pull', 'p/v']);
  assert.is(readFileSync(join(j.run_dir, 'out.csv'), 'utf8'), '1\n', 'fetched from the new place');
  // Removing it: the setting that names it is a note; nothing is deleted.
  setArchive(moved);
  const rm = JSON.parse(await ok(opts, ['alloc', 'remove', moved, '--json']));
  assert.equal(rm.notes, [`${join(home, '.qdo/project-config/p.json')} archives to ${moved}; archiving there fails until it is registered again or the setting changes`]);
  assert.ok(existsSync(join(moved, `p/runs/v/1-${j.id.slice(0, 8)}/out.csv`)));
});

test('hostile: gc killed between marking and removing is finished by the next gc; archive and gc --archived at once never lose a file', async () => {
  setArchive(arch);
  const j = await submitJob('k', 'x');
  await waitDone(opts, 'p/k');
  // The state a gc killed after writing `collected` leaves: the folder is still there.
  const { changeSubmission } = await import('../../src/store/submissions.js');
  const { layoutOf } = await import('../../src/store/layout.js');
  await changeSubmission(layoutOf(home), j.id, (cur) => (cur ? { ...cur, collected: '2026-11-21T09:31:00.000Z' } : null));
  const g = JSON.parse(await ok(opts, ['gc', '--archived', '--json']));
  assert.is(g.archived.length, 1);
  assert.not.ok(existsSync(j.run_dir));
  // Racing: fetch back, then archive (with a new file) and drop at the same time, a few times.
  const copy = join(arch, `p/runs/k/1-${j.id.slice(0, 8)}`);
  for (let i = 0; i < 4; i++) {
    await ok(opts, ['pull', 'p/k']);
    writeFileSync(join(j.run_dir, `new-${i}.txt`), `round ${i}\n`);
    await Promise.all([qdo(['archive', 'p/k'], opts), qdo(['gc', '--archived'], opts)]);
    if (!existsSync(j.run_dir)) {
      // Dropped: then the archive had every file, the new one included.
      assert.is(readFileSync(join(copy, `new-${i}.txt`), 'utf8'), `round ${i}\n`, `round ${i}`);
    }
  }
});

test.run();
