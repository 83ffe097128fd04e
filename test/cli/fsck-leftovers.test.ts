// fsck on what interrupted or refused submits leave (spec/plumbing/fsck.md §Leftovers):
// warnings, not errors; --repair cleans them and never makes a version no scheduler
// accepted the latest. Damage stays an error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FIXED_NOW, qdo, removeDir, REPO, tempDir, type RunOptions } from '../helpers/cli.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { submissionPath } from '../../src/store/submissions.js';
import { HOLDER_FILE } from '../../src/store/locks.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-fsck-left-');
  opts = { home, env: { QDO_SCHEDULER: 'refuser' } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ plugins: { refuser: join(REPO, 'test/fixtures/plugins/refusing-backend.mjs') } }));
});
test.after.each(() => removeDir(home));

const refuse = (what: string) => writeFileSync(join(home, 'p/refuse'), what + '\n');
const accept = () => writeFileSync(join(home, 'p/refuse'), '');
async function fsck(repair = false) {
  const r = await qdo(['fsck', ...(repair ? ['--repair'] : [])], opts);
  return { code: r.code, lines: r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 2).join(' ')) };
}

test('a refused first submit and a refused resubmit: warnings; --repair removes them and never moves a ref to them', async () => {
  refuse('one');
  assert.is((await qdo(['submit', 'p/a', '--', 'echo', 'one'], opts)).code, 6); // first version refused
  accept();
  const ok = await qdo(['submit', 'p/b', '--json', '--', 'echo', 'one'], opts);
  assert.is(ok.code, 0, ok.stderr);
  const b1 = JSON.parse(ok.stdout).id as string;
  refuse('echo two');
  assert.is((await qdo(['submit', 'p/b', '--', 'echo', 'two'], opts)).code, 6); // a refused v2 of b
  refuse('one');
  // The same version made again (same clock, same content): its never-accepted record starts over.
  assert.is((await qdo(['submit', 'p/a', '--', 'echo', 'one'], opts)).code, 6);
  const before = await fsck();
  assert.is(before.code, 0, 'leftovers are no failure');
  assert.equal(before.lines, ['warning unsubmitted-version', 'warning unsubmitted-version']);
  const rep = await fsck(true);
  assert.equal([rep.code, rep.lines], [0, ['fixed unsubmitted-version', 'fixed unsubmitted-version']]);
  const refs = await readRefs(layoutOf(home), 'p');
  assert.equal([...refs.entries()], [['b', b1]], 'no ref was made for a, and b stays at its accepted version');
  assert.equal((await fsck()).lines, []);
});

test('a record still submitting whose submitter died, an orphan record, a dead holder\'s lock, an empty run folder: warnings, cleaned by --repair', async () => {
  accept();
  const r = await qdo(['submit', 'p/k', '--json', '--', 'true'], opts);
  const id = JSON.parse(r.stdout).id as string;
  const l = layoutOf(home);
  const rec = JSON.parse(readFileSync(submissionPath(l, id), 'utf8'));
  // Killed after the ref moved, before the scheduler's answer: the refusing plugin has no findByTag.
  writeFileSync(submissionPath(l, id), JSON.stringify({ ...rec, state: 'submitting', sched_id: null, submitted: null, pid: 999999999, intent: '2026-11-21T08:00:00.000Z', state_time: '2026-11-21T08:00:00.000Z' }) + '\n');
  // Killed after the intent, before the manifest.
  const ghost = 'f'.repeat(64);
  mkdirSync(dirname(submissionPath(l, ghost)), { recursive: true });
  writeFileSync(submissionPath(l, ghost), JSON.stringify({ ...rec, id: ghost, state: 'submitting', sched_id: null, submitted: null, pid: 999999999 }) + '\n');
  // A lock whose holder is gone (pid 999999999 is no process), however young.
  mkdirSync(join(l.refs, 'p.refs.lock'));
  writeFileSync(join(l.refs, 'p.refs.lock', HOLDER_FILE), JSON.stringify({ host: 'testhost', pid: 999999999, start: null, nonce: '00000000' }) + '\n');
  mkdirSync(join(home, 'p/runs/gone'), { recursive: true });
  const before = await fsck();
  assert.equal([before.code, before.lines], [0, ['warning stale-lock', 'warning stuck-submission', 'warning orphan-submission', 'warning empty-run-folder']]);
  const rep = await fsck(true);
  assert.equal([rep.code, rep.lines], [0, ['fixed stale-lock', 'fixed stuck-submission', 'fixed orphan-submission', 'fixed empty-run-folder']]);
  assert.is(JSON.parse(readFileSync(submissionPath(l, id), 'utf8')).state, 'not-submitted', 'settled: never accepted (the ref still names it: no promotion, no removal)');
  assert.not.ok(existsSync(submissionPath(l, ghost)));
  assert.not.ok(existsSync(join(home, 'p/runs/gone')));
  assert.equal((await fsck()).lines, []);
});

test('damage stays an error: a ref that lost an accepted version is moved to it by --repair', async () => {
  accept();
  const a1 = JSON.parse((await qdo(['submit', 'p/a', '--json', '--', 'echo', '1'], opts)).stdout).id as string;
  const a2 = JSON.parse((await qdo(['submit', 'p/a', '--json', '--', 'echo', '2'], { ...opts, now: new Date(FIXED_NOW.getTime() + 1000) })).stdout).id as string;
  const l = layoutOf(home);
  writeFileSync(join(l.refs, 'p.refs'), `a ${a1}\n`);
  removeDir(join(l.refs, 'p.journal'));
  const before = await fsck();
  assert.equal([before.code, before.lines], [1, ['error ref-behind']]);
  const rep = await fsck(true);
  assert.equal([rep.code, rep.lines], [0, ['fixed ref-behind']]);
  assert.is((await readRefs(l, 'p')).get('a'), a2);
});

test('a lock of a holder elsewhere: stale for fsck only once not refreshed for 40 s (10 s + 30 s of clock skew allowed), by the later of its folder and holder file', async () => {
  const l = layoutOf(home);
  const lock = join(l.refs, 'p.refs.lock');
  mkdirSync(lock);
  const holder = join(lock, HOLDER_FILE);
  writeFileSync(holder, JSON.stringify({ host: 'elsewhere', pid: 1, start: null, nonce: '00000000' }) + '\n');
  const ago = (s: number) => new Date(Date.now() - s * 1000);
  const real = { ...opts, now: 'real' as const };
  const lines = async () => (await qdo(['fsck'], real)).stdout.split('\n').filter(Boolean).map((x) => x.split(' ').slice(0, 2).join(' '));
  utimesSync(lock, ago(25), ago(25));
  utimesSync(holder, ago(25), ago(25));
  assert.equal(await lines(), [], 'a holder whose clock is 25 s behind is not reported');
  utimesSync(lock, ago(3600), ago(3600));
  assert.equal(await lines(), [], 'the holder file refreshed, the folder not (an NFS attribute cache): not stale');
  utimesSync(holder, ago(60), ago(60));
  assert.equal(await lines(), ['warning stale-lock']);
});

test.run();
