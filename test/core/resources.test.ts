// Shared resources (spec/layout.md §Resources): the search order a project sees (own,
// parent projects nearest first, its allocation's shared folder), resolution and
// shadowing, `PROJECT:NAME`, `qdo resource list|show|add --shared`.
// test/core/resources-submit.test.ts: submit and includes using the same roots.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { qdo, removeDir, scrub, tempDir, testContext, type RunOptions } from '../helpers/cli.js';
import { parseResourceAddress, resolveResource, resourceSearchRoots } from '../../src/core/resources.js';
import { allAllocations, projectIndex, type Allocation } from '../../src/core/world.js';

let home = '';
let scratch = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-res-home-');
  scratch = tempDir('qdo-res-scratch-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['init', scratch], opts)).code, 0);
  // a (home), a/b (scratch: a parent in another allocation), a/b/c (scratch), x (scratch)
  for (const [p, where] of [['a', home], ['a/b', scratch], ['a/b/c', scratch], ['x', scratch]] as const) {
    const r = await qdo(['project', 'add', p, '--alloc', where], opts);
    assert.is(r.code, 0, r.stderr);
  }
});
test.after.each(() => {
  removeDir(home);
  removeDir(scratch);
});

function put(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

async function allocs(): Promise<Allocation[]> {
  return allAllocations(testContext(opts));
}

test('search roots: own, parents nearest first (wherever they live), then the allocation', async () => {
  const all = await allocs();
  const idx = projectIndex(all);
  const roots = resourceSearchRoots(idx.get('a/b/c')!, all);
  assert.equal(
    roots.map((r) => [r.origin, r.project, r.dir]),
    [
      ['own', 'a/b/c', join(scratch, 'a/b/c/resources')],
      ['parent', 'a/b', join(scratch, 'a/b/resources')],
      ['parent', 'a', join(home, 'a/resources')],
      ['allocation', null, join(scratch, 'resources')],
    ],
  );
  // A parent name that is no project is skipped; the allocation is the project's own.
  assert.equal(
    resourceSearchRoots(idx.get('a')!, all).map((r) => r.dir),
    [join(home, 'a/resources'), join(home, 'resources')],
  );
});

test('a legacy top-level project named "resources" owns that folder: no shared resources there', async () => {
  writeFileSync(join(scratch, '.qdo/projects'), 'a/b\na/b/c\nresources\nx\n');
  const all = await allocs();
  const roots = resourceSearchRoots(projectIndex(all).get('x')!, all);
  assert.equal(roots.map((r) => r.origin), ['own']);
  const r = await qdo(['resource', 'add', '--shared', '--alloc', scratch, join(home, '.qdo/format')], opts);
  assert.is(r.code, 4);
  assert.match(r.stderr, /has a project named "resources"/);
});

test('resolution: the first root with the name wins; missing is null', async () => {
  put(join(scratch, 'resources/t.sh'), 'alloc\n');
  put(join(home, 'a/resources/t.sh'), 'a\n');
  put(join(home, 'a/resources/only-a.sh'), 'only a\n');
  put(join(scratch, 'resources/only-alloc.sh'), 'only alloc\n');
  const all = await allocs();
  const c = projectIndex(all).get('a/b/c')!;
  assert.is((await resolveResource(c, all, 't.sh'))!.path, join(home, 'a/resources/t.sh'));
  put(join(scratch, 'a/b/c/resources/t.sh'), 'own\n');
  const own = (await resolveResource(c, all, 't.sh'))!;
  assert.is(own.root.origin, 'own');
  assert.is(own.label, 'resources/t.sh');
  const fromA = (await resolveResource(c, all, 'only-a.sh'))!;
  assert.is(fromA.root.origin, 'parent');
  assert.is(fromA.label, join(home, 'a/resources/only-a.sh'));
  assert.is((await resolveResource(c, all, 'only-alloc.sh'))!.root.origin, 'allocation');
  assert.is(await resolveResource(c, all, 'none.sh'), null);
  // A folder of that name is not a resource.
  mkdirSync(join(scratch, 'a/b/resources/dir.sh'), { recursive: true });
  assert.is(await resolveResource(c, all, 'dir.sh'), null);
  // x (scratch, no parents) sees the scratch allocation's, not home's.
  assert.is((await resolveResource(projectIndex(all).get('x')!, all, 't.sh'))!.path, join(scratch, 'resources/t.sh'));
});

test('PROJECT:NAME addresses', () => {
  assert.equal(parseResourceAddress('paper/run:train.sh.njk'), { project: 'paper/run', name: 'train.sh.njk' });
  assert.equal(parseResourceAddress('p:t'), { project: 'p', name: 't' });
  for (const s of ['train.sh', ':t', 'p:', 'p:a/b', 'a:b:c', '/abs/p:t', './p:t', 'p q:t']) assert.is(parseResourceAddress(s), null, s);
});

test('resource list PROJECT: every name it sees, where from, what is shadowed', async () => {
  put(join(scratch, 'a/b/c/resources/t.sh'), 'own\n');
  put(join(home, 'a/resources/t.sh'), 'from a\n');
  put(join(home, 'a/resources/lib.sh'), 'lib\n');
  put(join(scratch, 'resources/t.sh'), 'alloc\n');
  put(join(scratch, 'resources/common.sh'), 'common\n');
  put(join(scratch, 'resources/.hidden'), 'x\n');
  const r = await qdo(['resource', 'list', 'a/b/c'], opts);
  assert.is(r.code, 0, r.stderr);
  assert.is(
    scrub(scrub(r.stdout, scratch, '$SCRATCH'), home),
    [
      'resources project a/b/c sees (first one found is used):',
      'RESOURCE   FROM                         SIZE  PATH',
      'common.sh  allocation                   7 B   $SCRATCH/resources/common.sh',
      'lib.sh     parent a                     4 B   $HOME/a/resources/lib.sh',
      't.sh       own                          4 B   $SCRATCH/a/b/c/resources/t.sh',
      't.sh       parent a, shadowed by own    7 B   $HOME/a/resources/t.sh',
      't.sh       allocation, shadowed by own  6 B   $SCRATCH/resources/t.sh',
      '',
    ].join('\n'),
  );
  // Inside the project's folder, the same view without naming it.
  const here = await qdo(['resource', 'list'], { ...opts, cwd: join(scratch, 'a/b/c') });
  assert.is(here.stdout, r.stdout);
  const j = JSON.parse((await qdo(['resource', 'list', 'a/b/c', '--json'], opts)).stdout);
  assert.is(j.project, 'a/b/c');
  assert.equal(j.resources[3], {
    project: 'a',
    name: 't.sh',
    path: join(home, 'a/resources/t.sh'),
    size: 7,
    origin: 'parent',
    allocation: home,
    used: false,
    shadowed_by: join(scratch, 'a/b/c/resources/t.sh'),
  });
  assert.equal(j.resources[0].project, null);
  // Outside any project: every project's own and every allocation's shared resources.
  const all = await qdo(['resource', 'list'], opts);
  assert.is(
    scrub(scrub(all.stdout, scratch, '$SCRATCH'), home),
    [
      'RESOURCE    FROM        SIZE  PATH',
      'a:lib.sh    project     4 B   $HOME/a/resources/lib.sh',
      'a:t.sh      project     7 B   $HOME/a/resources/t.sh',
      'a/b/c:t.sh  project     4 B   $SCRATCH/a/b/c/resources/t.sh',
      'common.sh   allocation  7 B   $SCRATCH/resources/common.sh',
      't.sh        allocation  6 B   $SCRATCH/resources/t.sh',
      '',
    ].join('\n'),
  );
});

test('resource show: PROJECT:NAME, PROJECT/NAME, NAME inside a project or an allocation; --json says where from', async () => {
  put(join(home, 'a/resources/t.sh'), 'from a\n');
  put(join(scratch, 'resources/t.sh'), 'alloc\n');
  assert.is((await qdo(['resource', 'show', 'a/b/c:t.sh'], opts)).stdout, 'from a\n');
  assert.is((await qdo(['resource', 'show', 'a/b/c/t.sh'], opts)).stdout, 'from a\n');
  assert.is((await qdo(['resource', 'show', 't.sh'], { ...opts, cwd: join(scratch, 'a/b/c') })).stdout, 'from a\n');
  assert.is((await qdo(['resource', 'show', 't.sh'], { ...opts, cwd: scratch })).stdout, 'alloc\n');
  assert.is((await qdo(['resource', 'show', 't.sh', '--alloc', scratch], opts)).stdout, 'alloc\n');
  const j = JSON.parse((await qdo(['resource', 'show', 'a/b/c:t.sh', '--json'], opts)).stdout);
  assert.equal(j, {
    version: 1,
    view: 'a/b/c',
    name: 't.sh',
    path: join(home, 'a/resources/t.sh'),
    size: 7,
    origin: 'parent',
    project: 'a',
    allocation: home,
    shadows: [{ path: join(scratch, 'resources/t.sh'), size: 6, origin: 'allocation', project: null, allocation: scratch }],
    // The bytes, as every --json that prints bytes gives them (spec/porcelain.md §--json).
    encoding: 'utf8',
    content: 'from a\n',
  });
  // On a terminal, where it came from goes to stderr; the bytes stay alone on stdout.
  let out = '';
  let err = '';
  const code = await main(['resource', 'show', 'a/b/c:t.sh'], { stdout: (c) => void (out += String(c)), stderr: (c) => void (err += c), readStdin: async () => Buffer.alloc(0), isTTY: true, color: false }, testContext(opts));
  assert.is(code, 0);
  assert.is(out, 'from a\n');
  assert.is(err, `qdo: t.sh as a/b/c sees it: parent a (${join(home, 'a/resources/t.sh')}); shadows ${join(scratch, 'resources/t.sh')}\n`);
  const miss = await qdo(['resource', 'show', 'x:t.sh.njk'], opts);
  assert.is(miss.code, 3);
  assert.is(miss.stderr, 'qdo: no resource "t.sh.njk" in project x (nor in its allocation)\nhint: did you mean "t.sh"?\n');
  const none = await qdo(['resource', 'show', 'nope.sh'], opts);
  assert.is(none.code, 3);
  assert.match(none.stderr, /no shared resource "nope.sh" in allocation/);
  assert.is((await qdo(['resource', 'show', 'zz:t.sh'], opts)).code, 3, 'unknown project');
});

test('resource add --shared: into <allocation>/resources, atomically; conflicts as for projects', async () => {
  put(join(home, 'in/common.sh'), 'v1\n');
  const r = await qdo(['resource', 'add', '--shared', 'in/common.sh'], { ...opts, cwd: home });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `added shared resource common.sh of ${home} (${home}/resources/common.sh)\n`);
  assert.is(readFileSync(join(home, 'resources/common.sh'), 'utf8'), 'v1\n');
  const s = await qdo(['resource', 'add', '--shared', '--alloc', scratch, join(home, 'in/common.sh'), '--json'], opts);
  assert.equal(JSON.parse(s.stdout), { version: 1, project: null, allocation: scratch, name: 'common.sh', path: join(scratch, 'resources/common.sh'), changed: true });
  put(join(home, 'in/common.sh'), 'v2\n');
  const c = await qdo(['resource', 'add', '--shared', join(home, 'in/common.sh')], opts);
  assert.is(c.code, 4);
  assert.match(c.stderr, /resource common.sh \(shared resources of .*\) already exists with other content/);
  for (const args of [['resource', 'add', '--shared'], ['resource', 'add', '--shared', 'a', 'b'], ['resource', 'list', '--shared'], ['resource', 'list', '--alloc', scratch]]) {
    assert.is((await qdo(args, opts)).code, 2, args.join(' '));
  }
});

test.run();
