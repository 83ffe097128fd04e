// init, alloc, project and resource commands, in-process, with their bad inputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, tempDir, removeDir, scrub } from '../helpers/cli.js';

let home = '';
let scratch = '';
test.before.each(() => {
  home = tempDir('qdo-home-');
  scratch = tempDir('qdo-scratch-');
});
test.after.each(() => {
  removeDir(home);
  removeDir(scratch);
});

test('the home allocation is created on first use', async () => {
  const r = await qdo(['alloc', 'list'], { home });
  assert.is(r.code, 0);
  assert.is(readFileSync(join(home, '.qdo/format'), 'utf8'), 'qdo-format 1\n');
  assert.match(scrub(r.stdout, home), /^ALLOCATION\s+PROJECTS\s+STATUS\n\$HOME \(home\)\s+0\s+ok\n$/);
});

test('init registers once; re-running is harmless', async () => {
  const a = await qdo(['init', scratch], { home });
  assert.is(a.code, 0);
  assert.is(a.stdout, `initialised allocation ${scratch}\n`);
  const b = await qdo(['init', scratch], { home });
  assert.is(b.stdout, `${scratch} is already an allocation\n`);
  assert.is(readFileSync(join(home, '.qdo/allocations'), 'utf8'), scratch + '\n');
  const c = await qdo(['init'], { home, cwd: scratch });
  assert.is(c.code, 0);
  assert.is(readFileSync(join(home, '.qdo/allocations'), 'utf8'), scratch + '\n');
  const j = JSON.parse((await qdo(['alloc', 'list', '--json'], { home })).stdout);
  assert.equal(j, {
    version: 1,
    allocations: [
      { path: home, home: true, reachable: true, shared: false, problem: null, projects: [] },
      { path: scratch, home: false, reachable: true, shared: false, problem: null, projects: [] },
    ],
  });
});

test('an existing allocation made elsewhere is registered, not re-created', async () => {
  const other = tempDir('qdo-other-home-');
  try {
    await qdo(['init', scratch], { home: other });
    writeFileSync(join(scratch, '.qdo/projects'), 'keep\n');
    const r = await qdo(['init', scratch], { home });
    assert.is(r.stdout, `registered existing allocation ${scratch}\n`);
    assert.is(readFileSync(join(scratch, '.qdo/projects'), 'utf8'), 'keep\n');
  } finally {
    removeDir(other);
  }
});

test('init refuses a foreign or newer .qdo and changes nothing', async () => {
  mkdirSync(join(scratch, '.qdo'));
  writeFileSync(join(scratch, '.qdo/thing'), 'x');
  const r = await qdo(['init', scratch], { home });
  assert.is(r.code, 7);
  assert.match(r.stderr, new RegExp(`qdo: ${scratch}/\\.qdo is not a qdo allocation: ${scratch}/\\.qdo/format is missing`));
  assert.not.match(r.stderr, /at .*\.js/);
  assert.equal(readdirSync(join(scratch, '.qdo')), ['thing']);
  assert.not.ok(existsSync(join(home, '.qdo/allocations')));
  writeFileSync(join(scratch, '.qdo/format'), 'qdo-format 9\n');
  const n = await qdo(['init', scratch], { home });
  assert.is(n.code, 7);
  assert.match(n.stderr, /has format 9; this qdo understands format 1 and will not touch it/);
});

test('an unreachable allocation is listed and does not break other commands', async () => {
  await qdo(['init', scratch], { home });
  await qdo(['project', 'add', 'p', '--alloc', scratch], { home });
  const moved = scratch + '-moved';
  renameSync(scratch, moved);
  try {
    const r = await qdo(['alloc', 'list'], { home });
    assert.is(r.code, 0);
    assert.match(r.stdout, new RegExp(`${scratch}\\s+-\\s+unreachable: no \\.qdo folder`));
    const p = await qdo(['project', 'add', 'q'], { home });
    assert.is(p.code, 0);
    assert.match(p.stderr, /warning: allocation .* is unreachable/);
  } finally {
    renameSync(moved, scratch);
  }
});

test('project add/list across allocations; names are unique everywhere', async () => {
  await qdo(['init', scratch], { home });
  assert.is((await qdo(['project', 'add', 'paper/run'], { home })).code, 0);
  assert.ok(existsSync(join(home, 'paper/run')));
  const s = await qdo(['project', 'add', 'sim', '--alloc', scratch], { home });
  assert.is(s.stdout, `added project sim in ${scratch} (${scratch}/sim)\n`);
  // Inside the scratch allocation, a project goes there by default.
  mkdirSync(join(scratch, 'sub'));
  assert.is((await qdo(['project', 'add', 'sim2'], { home, cwd: join(scratch, 'sub') })).stdout, `added project sim2 in ${scratch} (${scratch}/sim2)\n`);
  const clash = await qdo(['project', 'add', 'sim'], { home });
  assert.is(clash.code, 4);
  assert.is(clash.stderr, `qdo: project "sim" already exists in allocation ${scratch}\nhint: project names are unique across all allocations\n`);
  assert.is((await qdo(['project', 'add', 'sim', '--alloc', scratch], { home })).stdout, `project sim already exists in ${scratch}\n`);
  const list = await qdo(['project', 'list'], { home });
  assert.is(scrub(scrub(list.stdout, scratch, '$SCRATCH'), home), 'PROJECT    ALLOCATION\npaper/run  $HOME\nsim        $SCRATCH\nsim2       $SCRATCH\n');
  const j = JSON.parse((await qdo(['project', 'list', '--json'], { home })).stdout);
  assert.equal(j.projects[0], { name: 'paper/run', allocation: home, path: join(home, 'paper/run') });
  assert.is(readFileSync(join(scratch, '.qdo/projects'), 'utf8'), 'sim\nsim2\n');
});

test('project names: bad, reserved, unknown allocation', async () => {
  for (const [name, re] of [
    ['a//b', /invalid project name "a\/\/b": an empty segment/],
    ['a/../b', /the segment "\.\."/],
    ['a b', /the character " "/],
    ['p/resources', /"resources" is reserved/],
    ['resources', /"resources" is reserved at the top of an allocation \(its shared resources folder\)/],
    ['resources/x', /"resources" is reserved at the top/],
    ['.qdo', /names starting with "\." are reserved/],
    ['.qdo.tmp-1234abcd/p', /names starting with "\." are reserved/],
  ] as const) {
    const r = await qdo(['project', 'add', name], { home });
    assert.is(r.code, 2, name);
    assert.match(r.stderr, re);
  }
  assert.is((await qdo(['project', 'add', 'a/-x'], { home })).code, 2);
  assert.not.ok(existsSync(join(home, '.qdo/projects')), 'nothing registered');
  const r = await qdo(['project', 'add', 'x', '--alloc', scratch], { home });
  assert.is(r.code, 3);
  assert.match(r.stderr, /--alloc: .* is not a registered allocation/);
});

test('a damaged projects file names file and line', async () => {
  await qdo(['project', 'add', 'a'], { home });
  writeFileSync(join(home, '.qdo/projects'), 'a\n<<<<<<< HEAD\n');
  const r = await qdo(['project', 'list'], { home });
  assert.is(r.code, 7);
  assert.is(scrub(r.stderr, home), 'qdo: $HOME/.qdo/projects:2: expected a project name, found "<<<<<<< HEAD"\nhint: this looks like an unresolved merge: keep both sides\' lines and delete the markers\n');
});

test('resources: add, list, show, --as, conflicts', async () => {
  await qdo(['project', 'add', 'paper'], { home });
  writeFileSync(join(home, 'job.sh.j2'), '#!/bin/bash\necho {{ params.x }}\n');
  chmodSync(join(home, 'job.sh.j2'), 0o755);
  const a = await qdo(['resource', 'add', 'paper', 'job.sh.j2'], { home });
  assert.is(a.stdout, `added paper:job.sh.j2 (${home}/paper/resources/job.sh.j2)\n`);
  assert.is((await qdo(['resource', 'add', 'paper', 'job.sh.j2'], { home })).stdout, 'paper:job.sh.j2 is unchanged\n');
  await qdo(['resource', 'add', 'paper', 'job.sh.j2', '--as', 'tpl'], { home });
  const show = await qdo(['resource', 'show', 'paper/tpl'], { home });
  assert.is(show.stdout, '#!/bin/bash\necho {{ params.x }}\n');
  writeFileSync(join(home, 'job.sh.j2'), 'changed\n');
  const c = await qdo(['resource', 'add', 'paper', 'job.sh.j2'], { home });
  assert.is(c.code, 4);
  assert.match(c.stderr, /already exists with other content/);
  assert.is(readFileSync(join(home, 'paper/resources/job.sh.j2'), 'utf8'), '#!/bin/bash\necho {{ params.x }}\n', 'nothing changed');
  assert.is((await qdo(['resource', 'add', 'paper', 'job.sh.j2', '--force'], { home })).code, 0);
  const list = await qdo(['resource', 'list'], { home });
  assert.is(
    scrub(list.stdout, home),
    'RESOURCE         FROM     SIZE  PATH\npaper:job.sh.j2  project  8 B   $HOME/paper/resources/job.sh.j2\npaper:tpl        project  32 B  $HOME/paper/resources/tpl\n',
  );
  const j = JSON.parse((await qdo(['resource', 'list', 'paper', '--json'], { home })).stdout);
  assert.is(j.version, 1);
  assert.is(j.resources.length, 2);
  const miss = await qdo(['resource', 'show', 'paper/tlp'], { home });
  assert.is(miss.code, 3);
  assert.is(miss.stderr, 'qdo: no resource "tlp" in project paper (nor in its allocation)\nhint: did you mean "tpl"?\n');
  const np = await qdo(['resource', 'add', 'nope', 'job.sh.j2'], { home });
  assert.is(np.code, 3);
  const nf = await qdo(['resource', 'add', 'paper', 'missing.sh'], { home });
  assert.is(nf.code, 3);
  assert.match(nf.stderr, /no file .*missing\.sh/);
  const bad = await qdo(['resource', 'add', 'paper', 'job.sh.j2', '--as', 'a/b'], { home });
  assert.is(bad.code, 2);
});

test('usage errors exit 2 without a stack', async () => {
  for (const args of [['frobnicate'], ['project'], ['project', 'add'], ['resource', 'show'], []]) {
    const r = await qdo(args, { home });
    assert.is(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^qdo: /);
    assert.not.match(r.stderr, /\n\s+at /);
  }
});

test('help and version print on stdout and exit 0', async () => {
  const h = await qdo(['--help'], { home });
  assert.is(h.code, 0);
  assert.match(h.stdout, /qdo hash-object/);
  assert.is((await qdo(['--version'], { home })).stdout, '0.1.0\n');
});

test.run();
