// Trust rules (spec/trust.md): files with other owners or loose modes are refused with the
// path and mode named, the shared-group opt-in accepts exactly group write, plugins and
// jobs of others never run code as the invoking user. The suite runs as root: files are
// given to `nobody` (chown) or made writable by all (chmod 666) to play the other user.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, qdoProcess, removeDir, tempDir, THIS_USER, type RunOptions } from '../helpers/cli.js';
import { readRecord } from '../helpers/jobs.js';
import type { UserId } from '../../src/context.js';
import { applyPolicies } from '../../src/core/policies.js';
import { selectJobs } from '../../src/core/jobs.js';
import { testContext } from '../helpers/cli.js';
import { writeSubmission } from '../../src/store/submissions.js';

const NOBODY = 65534;
const NOGROUP = 65534;
const ROOT = THIS_USER.uid === 0;
/** Another user, as qdo sees them when they run it (files owned by root stay trusted for them). */
const MALLORY: UserId = { uid: 4242, gid: 4242, name: 'mallory' };

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-trust-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['alloc', 'list'], opts)).code, 0); // creates home
});
test.after.each(() => removeDir(home));

function refused(r: { code: number; stderr: string }, code: string, re: RegExp): void {
  assert.is(r.code, 7, r.stderr);
  assert.match(r.stderr, re);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  void code;
}

test('an allocation whose .qdo is writable by others is refused, naming the path and mode; nothing uses it instead', async () => {
  const a = join(home, 'scratch');
  assert.is((await qdo(['init', a], opts)).code, 0);
  assert.is((await qdo(['project', 'add', 'x', '--alloc', a], opts)).code, 0);
  chmodSync(join(a, '.qdo'), 0o777);
  const list = await qdo(['alloc', 'list', '--json'], opts);
  assert.is(list.code, 0);
  const entry = JSON.parse(list.stdout).allocations.find((x: { path: string }) => x.path === a);
  assert.is(entry.reachable, false);
  assert.match(entry.problem, new RegExp(`^allocation ${a}: ${a}/\\.qdo is writable by others \\(mode 0777\\); whoever can change it could change your jobs`));
  // A command run inside it fails with the reason; it does not fall back to home.
  const inside = await qdo(['project', 'add', 'y'], { ...opts, cwd: a });
  refused(inside, 'untrusted-allocation', /^qdo: allocation .*\.qdo is writable by others \(mode 0777\).*\nhint: chmod o-w .*\/scratch\/\.qdo\n$/);
  assert.not.ok(existsSync(join(home, 'y')));
  assert.not.ok(existsSync(join(a, 'y')));
  refused(await qdo(['project', 'add', 'z', '--alloc', a], opts), 'untrusted-allocation', /writable by others/);
  // Fixed: usable again.
  chmodSync(join(a, '.qdo'), 0o755);
  assert.is((await qdo(['project', 'add', 'y'], { ...opts, cwd: a })).code, 0);
});

test('a folder on the way writable by others, or a symlink through one, is refused too; a sticky one (like /tmp) is fine', async () => {
  const open = join(home, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const r = await qdo(['init', join(open, 'alloc')], opts);
  refused(r, 'untrusted-allocation', new RegExp(`^qdo: allocation ${open}/alloc: ${open} is writable by others \\(mode 0777\\)`));
  assert.not.ok(existsSync(join(open, 'alloc', '.qdo')), 'nothing made');
  // Reached through a symlink: the folder the symlink leads through is checked.
  symlinkSync(open, join(home, 'link'));
  refused(await qdo(['init', join(home, 'link', 'alloc2')], opts), 'untrusted-allocation', new RegExp(`${open} is writable by others`));
  chmodSync(open, 0o1777);
  assert.is((await qdo(['init', join(open, 'alloc')], opts)).code, 0);
});

test('home writable by others: every command refuses (home cannot be shared)', async () => {
  chmodSync(join(home, '.qdo'), 0o757);
  const r = await qdo(['status'], opts);
  refused(r, 'untrusted-allocation', /^qdo: home allocation .*: .*\/\.qdo is writable by others \(mode 0757\).*\nhint: make it yours alone .* or set QDO_HOME/);
  chmodSync(join(home, '.qdo'), 0o755);
  const s = await qdo(['init', '--shared-group', home], opts);
  assert.is(s.code, 2);
  assert.match(s.stderr, /is the home allocation; it cannot be shared/);
});

test('group write: refused for a group that is not yours alone; --shared-group accepts it, never write by others', async () => {
  if (!ROOT) return; // chgrp to another group needs root
  const proj = join(home, 'proj');
  mkdirSync(proj);
  chownSync(proj, 0, NOGROUP);
  chmodSync(proj, 0o2770);
  const a = join(proj, 'run');
  const r = await qdo(['init', a], opts);
  refused(r, 'untrusted-allocation', new RegExp(`${proj} is writable by its group \\(gid ${NOGROUP}, mode 2770\\).*\\nhint: .*qdo init --shared-group ${a}`));
  assert.not.ok(existsSync(a));
  const s = await qdo(['init', '--shared-group', a, '--json'], opts);
  assert.is(s.code, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout), { version: 1, root: a, created: true, registered: true, home: false, shared: true });
  assert.is(readFileSync(join(home, '.qdo', 'shared-allocations'), 'utf8'), `${a}\n`);
  // The .qdo it made is group-writable with setgid, for the members.
  assert.is(statSync(join(a, '.qdo')).mode & 0o2070, 0o2070);
  const list = JSON.parse((await qdo(['alloc', 'list', '--json'], opts)).stdout).allocations;
  assert.equal(list.find((x: { path: string }) => x.path === a).shared, true);
  assert.is((await qdo(['project', 'add', 'q', '--alloc', a], opts)).code, 0);
  // Another member's file in .qdo is accepted there …
  writeFileSync(join(a, '.qdo', 'config.json'), '{"defaults": {"time": "1h"}}');
  chownSync(join(a, '.qdo', 'config.json'), NOBODY, NOGROUP);
  chmodSync(join(a, '.qdo', 'config.json'), 0o664);
  assert.is((await qdo(['submit', 'q/j', '--dry-run', '--', 'true'], { ...opts, cwd: a })).code, 0);
  // … write by others never.
  chmodSync(join(a, '.qdo'), 0o2777);
  refused(await qdo(['project', 'add', 'q2', '--alloc', a], opts), 'untrusted-allocation', /writable by others \(mode 2777\).*\nhint: chmod o-w/);
  chmodSync(join(a, '.qdo'), 0o2775);
  chmodSync(join(a, '.qdo', 'config.json'), 0o666);
  refused(await qdo(['submit', 'q/j', '--dry-run', '--', 'true'], { ...opts, cwd: a }), 'untrusted-config', /config\.json: it is writable by others \(mode 0666\); qdo will not read a config others could have written\nhint: chmod o-w/);
});

test('a config others could have written is refused, naming it and its mode', async () => {
  const cfg = join(home, '.qdo', 'config.json');
  writeFileSync(cfg, '{"scheduler": "local"}');
  chmodSync(cfg, 0o666);
  refused(await qdo(['sched', 'detect'], opts), 'untrusted-config', new RegExp(`^qdo: ${cfg}: it is writable by others \\(mode 0666\\)`));
  chmodSync(cfg, 0o644);
  assert.is((await qdo(['sched', 'detect'], opts)).code, 0);
  if (!ROOT) return;
  chownSync(cfg, NOBODY, NOGROUP);
  refused(await qdo(['sched', 'detect'], opts), 'untrusted-config', /it is owned by user nobody \(65534\), not by you or root/);
  // A project's config too.
  chownSync(cfg, 0, 0);
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
  const pc = join(home, '.qdo', 'project-config', 'p.json');
  mkdirSync(join(home, '.qdo', 'project-config'));
  writeFileSync(pc, '{"defaults": {"time": "2h"}}');
  chmodSync(pc, 0o646);
  refused(await qdo(['submit', 'p/j', '--dry-run', '--', 'true'], opts), 'untrusted-config', /p\.json: it is writable by others \(mode 0646\)/);
});

/** A plugin module that leaves a mark when imported, so a test can tell it never ran. */
function plugin(dir: string, mark: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'evil.mjs');
  writeFileSync(file, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(mark)}, 'ran');\nexport function createBackend() { throw new Error('x'); }\n`);
  return file;
}

test('the report: a mode-0666 module owned by nobody is not imported on qdo submit; nor one in a folder others can write, nor one named by an untrusted config', async () => {
  if (!ROOT) return;
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
  const mark = join(home, 'ran');
  const dir = join(home, 'plugins');
  const file = plugin(dir, mark);
  const cfg = join(home, '.qdo', 'config.json');
  writeFileSync(cfg, JSON.stringify({ plugins: { evil: file } }));
  chownSync(file, NOBODY, NOGROUP);
  chmodSync(file, 0o666);
  const r = await qdo(['submit', 'p/j', '--scheduler', 'evil', '--', 'true'], opts);
  refused(r, 'untrusted-plugin', new RegExp(`^qdo: scheduler plugin "evil": its module, ${file}: it is writable by others \\(mode 0666\\); qdo loads code only from files that you or root own`));
  assert.not.ok(existsSync(mark), 'the module never ran');
  // Not writable, but owned by someone else: they can change it.
  chmodSync(file, 0o644);
  refused(await qdo(['submit', 'p/j', '--scheduler', 'evil', '--', 'true'], opts), 'untrusted-plugin', /it is owned by user nobody \(65534\)/);
  // Ours, in a folder others can write: they can swap it.
  chownSync(file, 0, 0);
  chmodSync(dir, 0o777);
  refused(await qdo(['submit', 'p/j', '--scheduler', 'evil', '--', 'true'], opts), 'untrusted-plugin', new RegExp(`its module, ${file}: ${dir} is writable by others \\(mode 0777\\)`));
  chmodSync(dir, 0o755);
  // Ours, but named by a config others can write (strict even where a config may be read).
  chmodSync(cfg, 0o664);
  chownSync(cfg, 0, NOGROUP);
  const g = await qdo(['submit', 'p/j', '--scheduler', 'evil', '--', 'true'], opts);
  refused(g, 'untrusted-config', /config\.json: it is writable by its group \(gid 65534, mode 0664\)/);
  assert.not.ok(existsSync(mark));
  // All in order: it is imported (and fails as a plugin, exit 7 bad-plugin).
  chmodSync(cfg, 0o644);
  const okRun = await qdo(['submit', 'p/j', '--scheduler', 'evil', '--', 'true'], opts);
  assert.is(okRun.code, 7, okRun.stderr);
  assert.match(okRun.stderr, /failed to start: x/);
  assert.ok(existsSync(mark), 'a trusted module is loaded');
});

test('plugins in a shared allocation: a config a member could change names no plugin that runs', async () => {
  if (!ROOT) return;
  const proj = join(home, 'proj');
  mkdirSync(proj);
  chownSync(proj, 0, NOGROUP);
  chmodSync(proj, 0o2770);
  const a = join(proj, 'run');
  assert.is((await qdo(['init', '--shared-group', a], opts)).code, 0);
  assert.is((await qdo(['project', 'add', 'q', '--alloc', a], opts)).code, 0);
  const mark = join(home, 'ran');
  const file = plugin(join(home, 'plugins'), mark); // root's own, 0644: fine by itself
  writeFileSync(join(a, '.qdo', 'config.json'), JSON.stringify({ plugins: { evil: file } }));
  chownSync(join(a, '.qdo', 'config.json'), NOBODY, NOGROUP);
  const r = await qdo(['submit', 'q/j', '--scheduler', 'evil', '--', 'true'], { ...opts, cwd: a });
  refused(r, 'untrusted-plugin', /scheduler plugin "evil": the config naming it, .*config\.json: .*(owned by user nobody|writable by its group)/);
  assert.not.ok(existsSync(mark));
});

test('environments in a shared allocation: one a member could change is refused, one in your home config is taken', async () => {
  if (!ROOT) return;
  const proj = join(home, 'proj');
  mkdirSync(proj);
  chownSync(proj, 0, NOGROUP);
  chmodSync(proj, 0o2770);
  const a = join(proj, 'run');
  assert.is((await qdo(['init', '--shared-group', a], opts)).code, 0);
  assert.is((await qdo(['project', 'add', 'q', '--alloc', a], opts)).code, 0);
  writeFileSync(join(a, '.qdo', 'config.json'), JSON.stringify({ environments: { evil: { venv: '/tmp/whatever' } } }));
  chownSync(join(a, '.qdo', 'config.json'), NOBODY, NOGROUP);
  const r = await qdo(['submit', 'q/j', '--env-name', 'evil', '--dry-run', '--', 'true'], { ...opts, cwd: a });
  refused(r, 'untrusted-config', /--env-name evil: defined in .*config\.json, which .*(owned by user nobody|writable by its group).*; in a shared allocation an environment is taken only from a config no one else can change/);
  // Without --env-name the member's config still sets everything else.
  assert.is((await qdo(['submit', 'q/j', '--dry-run', '--', 'true'], { ...opts, cwd: a })).code, 0);
  writeFileSync(join(home, '.qdo', 'config.json'), JSON.stringify({ environments: { mine: { env: { A: '1' } } } }));
  const ok = await qdo(['submit', 'q/j', '--env-name', 'mine', '--dry-run', '--', 'true'], { ...opts, cwd: a });
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /export A=1\n/);
});

test('notify fallback: another user\'s qdo status does not run a job\'s notify command, warns naming the job, and claims nothing', async () => {
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
  const file = join(home, 'notified');
  const sub = await qdo(['submit', 'p/h', '--hold', '--json', '--notify', `echo "$QDO_STATE" >>${file}`, '--', 'true'], opts);
  assert.is(sub.code, 0, sub.stderr);
  const id = JSON.parse(sub.stdout).id as string;
  // Mallory cancels it and is the first to see it end (as in a shared allocation).
  const mallory = { ...opts, user: MALLORY };
  assert.is((await qdo(['cancel', 'p/h'], mallory)).code, 0);
  let st = { code: 0, stderr: '', stdout: '' };
  for (let i = 0; i < 100; i++) {
    st = await qdo(['status', '--refresh', 'p/h'], mallory);
    if (/cancelled/.test(st.stdout)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.is(st.code, 0, st.stderr);
  assert.match(st.stdout, /cancelled/);
  assert.match(st.stderr, /^qdo: p\/h@1: notify: not run: submitted by user root \(0\), not by you; only the submitter's qdo does this \(spec\/trust\.md §Jobs of others\)$/m);
  assert.not.ok(existsSync(file), 'the command did not run');
  assert.is(readRecord(home, id).notified, undefined, 'nothing claimed');
});

test('automatic retry: another user\'s qdo does not submit a job\'s retry; the submitter\'s does', async () => {
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
  const sub = await qdo(['submit', 'p/n', '--hold', '--retry-on', 'node-fail', '--json', '--', 'true'], opts);
  assert.is(sub.code, 0, sub.stderr);
  const ctx = testContext(opts);
  const j = (await selectJobs(ctx, ['p/n@1'], 'test')).jobs[0]!;
  const ended = { ...j.sub!, state: 'node-fail' as const, state_source: 'queue' as const, exit_code: null, reason: 'simulated' };
  await writeSubmission(j.layout, ended);
  const theirs = await applyPolicies(testContext({ ...opts, user: MALLORY }), [{ ...j, sub: ended }]);
  assert.equal(theirs.retried, []);
  assert.is(theirs.problems.length, 1);
  assert.match(theirs.problems[0]!.message, /^automatic retry: not run: submitted by user root \(0\), not by you/);
  assert.is(readRecord(home, j.id).retried_by, undefined);
  const mine = await applyPolicies(ctx, [{ ...j, sub: ended }]);
  assert.is(mine.retried.length, 1, JSON.stringify(mine.problems));
  assert.is((await qdo(['cancel', 'p/n'], opts)).code, 0);
});

test('one real process: the refusal is the same from the built binary (exit 7, no stack)', () => {
  chmodSync(join(home, '.qdo'), 0o777);
  const r = qdoProcess(['status'], { home });
  assert.is(r.code, 7, r.stderr);
  assert.match(r.stderr, /^qdo: home allocation .* is writable by others \(mode 0777\)/);
  assert.not.match(r.stderr, /\n\s+at /);
});

test.run();
