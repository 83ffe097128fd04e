// qdo alloc remove / move and the rule for unreachable allocations (spec/layout.md
// §Allocations, §Unreachable allocations, §Moving an allocation), in-process, with real
// local jobs for the move.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, scrub, tempDir, type RunOptions } from '../helpers/cli.js';
import { fileListing, ok, waitDone } from '../helpers/jobs.js';

let home = '';
let scratch = '';
let opts: RunOptions;
test.before.each(() => {
  home = tempDir('qdo-alloc-home-');
  scratch = tempDir('qdo-alloc-scratch-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
});
test.after.each(() => {
  removeDir(home);
  removeDir(scratch);
  removeDir(scratch + '-moved');
});

const registered = () => (existsSync(join(home, '.qdo/allocations')) ? readFileSync(join(home, '.qdo/allocations'), 'utf8') : '');

test('an allocation registered by mistake: one warning with the way out, fsck does not fail; alloc remove ends it', async () => {
  const typo = join(scratch, 'typo');
  await ok(opts, ['init', typo]);
  removeDir(typo);
  const list = await qdo(['project', 'list'], opts);
  assert.is(list.code, 0);
  assert.is(
    scrub(list.stderr, scratch, '$S'),
    'qdo: warning: allocation $S/typo is unreachable (no .qdo folder (not mounted, moved or deleted?)); its projects are not listed\nhint: mount it, or if it is gone for good: qdo alloc remove $S/typo\n',
  );
  const f = await qdo(['fsck'], opts);
  assert.is(f.code, 0, 'an unreachable allocation is a warning, not damage');
  assert.is(scrub(f.stdout, scratch, '$S'), 'warning unreachable-allocation $S/typo: cannot be read; not checked (mount it, or if it is gone for good: qdo alloc remove $S/typo)\n');
  const a = await qdo(['alloc', 'list'], opts);
  assert.match(a.stderr, /hint: .* qdo alloc remove .*typo/);
  const r = await qdo(['alloc', 'remove', typo], opts);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `removed allocation ${typo} from the list; no file was deleted\n`);
  assert.is(registered(), '');
  const after = await qdo(['fsck'], opts);
  assert.equal([after.code, after.stdout], [0, '']);
  assert.is((await qdo(['project', 'list'], opts)).stderr, '');
  // Removing it again: it is not registered.
  const again = await qdo(['alloc', 'remove', typo], opts);
  assert.is(again.code, 3);
  assert.match(again.stderr, /is not a registered allocation/);
});

test('alloc remove refuses while projects there are reachable; --force unregisters, deleting nothing; init brings it back', async () => {
  await ok(opts, ['init', scratch]);
  await ok(opts, ['project', 'add', 'sim', '--alloc', scratch]);
  mkdirSync(join(scratch, 'sim/resources'), { recursive: true });
  writeFileSync(join(scratch, 'sim/resources/t.sh'), 'echo\n');
  const before = fileListing(scratch, { hashes: true });
  const r = await qdo(['alloc', 'remove', scratch], opts);
  assert.is(r.code, 4);
  assert.is(r.stderr, `qdo: allocation ${scratch} holds 1 project(s) (sim); removing it would hide them from qdo\nhint: pass --force to unregister it anyway (no file is deleted; qdo init ${scratch} registers it again)\n`);
  assert.is(registered(), `${scratch}\n`);
  const f = JSON.parse(await ok(opts, ['alloc', 'remove', scratch + '/', '--force', '--json']));
  assert.equal(f, { version: 1, path: scratch, reachable: true, projects: ['sim'], notes: [] });
  assert.is(registered(), '');
  assert.equal(fileListing(scratch, { hashes: true }), before, 'no file changed');
  assert.is((await qdo(['resource', 'list', 'sim'], opts)).code, 3, 'sim is unknown now');
  await ok(opts, ['init', scratch]);
  assert.match(await ok(opts, ['resource', 'list', 'sim']), /t\.sh/);
  // Usage: the home cannot be removed; an allocation without projects goes without --force.
  const h = await qdo(['alloc', 'remove', home], opts);
  assert.is(h.code, 2);
  assert.match(h.stderr, /home allocation/);
  const empty = join(scratch, 'empty');
  await ok(opts, ['init', empty]);
  await ok(opts, ['alloc', 'remove', empty]);
  for (const args of [['alloc', 'remove'], ['alloc', 'remove', 'a', 'b'], ['alloc', 'move', 'a'], ['alloc', 'list', 'x']]) assert.is((await qdo(args, opts)).code, 2, args.join(' '));
});

test('alloc move: a moved allocation is registered at its new path; its jobs, logs and resubmits work there', async () => {
  await ok(opts, ['init', scratch]);
  await ok(opts, ['project', 'add', 'sim', '--alloc', scratch]);
  writeFileSync(join(scratch, 'sim/t.sh'), 'echo run {{ n }} in {{ project.dir }}\n');
  const first = JSON.parse(await ok({ ...opts, cwd: join(scratch, 'sim') }, ['submit', 'sim/j', '--script', './t.sh', '--set', 'n=1', '--json']));
  await waitDone(opts, 'sim/j');
  const held = JSON.parse(await ok(opts, ['submit', 'sim/h', '--hold', '--json', '--', 'true']));
  const moved = scratch + '-moved';
  // Not moved yet: OLD still holds it.
  const early = await qdo(['alloc', 'move', scratch, moved], opts);
  assert.is(early.code, 3);
  assert.match(early.stderr, /has no \.qdo folder: it is not the moved allocation/);
  renameSync(scratch, moved);
  const r = await qdo(['alloc', 'move', scratch, moved], opts);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `allocation ${scratch} is now ${moved} (1 project(s))\n`);
  assert.match(r.stderr, new RegExp(`qdo: note: 1 job\\(s\\) had not ended \\(sim/h@1\\): their scripts name paths under ${scratch}`));
  assert.match(r.stderr, new RegExp(`qdo: note: the template of 1 job\\(s\\) is a file under ${scratch}: sim/j \\(${moved}/sim/t\\.sh\\); manifests never change`));
  assert.is(registered(), `${moved}\n`);
  // Run folders are found from the root: show, path and logs read the new place.
  assert.is(await ok(opts, ['path', 'sim/j']), `${moved}/sim/runs/j/1-${first.id.slice(0, 8)}\n`);
  assert.is(await ok(opts, ['logs', 'sim/j']), `run 1 in ${scratch}/sim\n`, 'what ran is history');
  assert.is((await qdo(['fsck'], opts)).code, 0);
  // A resubmit renders again with the new paths.
  const again = JSON.parse(await ok({ ...opts, cwd: join(moved, 'sim') }, ['submit', 'sim/j', '--script', './t.sh', '--set', 'n=2', '--json']));
  assert.is(again.job_version, 2);
  await waitDone(opts, 'sim/j');
  assert.is(await ok(opts, ['logs', 'sim/j']), `run 2 in ${moved}/sim\n`);
  await ok(opts, ['cancel', 'sim/h']);
  assert.is(held.job_version, 1);
  // Running it again: OLD is no longer registered, NEW is.
  const twice = await qdo(['alloc', 'move', scratch, moved], opts);
  assert.is(twice.code, 3);
  assert.match(twice.stderr, /is not registered, and .* already is: nothing to move/);
});

test('alloc move refuses a copy (OLD still there) unless --force, the home, and a name clash', async () => {
  await ok(opts, ['init', scratch]);
  await ok(opts, ['project', 'add', 'sim', '--alloc', scratch]);
  const copy = scratch + '-moved';
  mkdirSync(join(copy, '.qdo'), { recursive: true });
  writeFileSync(join(copy, '.qdo/format'), 'qdo-format 1\n');
  writeFileSync(join(copy, '.qdo/projects'), 'sim\n');
  const r = await qdo(['alloc', 'move', scratch, copy], opts);
  assert.is(r.code, 4);
  assert.match(r.stderr, /still holds an allocation: alloc move is for one that moved\nhint: if you copied it/);
  assert.is(registered(), `${scratch}\n`);
  const h = await qdo(['alloc', 'move', home, copy], opts);
  assert.is(h.code, 2);
  assert.match(h.stderr, /set QDO_HOME/);
  // A project of the same name elsewhere: names must stay unique.
  await ok(opts, ['project', 'add', 'other']);
  writeFileSync(join(copy, '.qdo/projects'), 'other\nsim\n');
  const c = await qdo(['alloc', 'move', scratch, copy, '--force'], opts);
  assert.is(c.code, 4);
  assert.match(c.stderr, new RegExp(`holds project\\(s\\) another allocation has too: other \\(${home}\\)`));
  writeFileSync(join(copy, '.qdo/projects'), 'sim\n');
  const f = JSON.parse(await ok(opts, ['alloc', 'move', scratch, copy, '--force', '--json']));
  assert.equal(f, { version: 1, old: scratch, new: copy, projects: ['sim'], records: 0, notes: [] });
  assert.is(registered(), `${copy}\n`);
  assert.ok(existsSync(join(scratch, '.qdo/format')), 'nothing deleted');
  const newer = await qdo(['alloc', 'move', copy, join(scratch, 'nope')], opts);
  assert.is(newer.code, 3);
});

test.run();
