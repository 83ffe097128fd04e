// Pilots and scaling without Slurm (spec/pools.md §Scaling, §Pilots): a pool whose pilot
// jobs go to the local backend. Submitting starts pilots at once, never more than max; idle
// pilots exit; min is kept; a pilot killed mid-run gets its runs rerun; a worker with too
// little time left takes only runs that fit, then exits; a drained worker exits when empty.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { counts, ok, startWorker, states, until, waitState } from '../helpers/pool.js';
import type { Json } from '../helpers/jobs.js';

const test = suite('pool pilots');
let home = '';
let opts: RunOptions;
let out = '';
const WORKER = `${process.execPath} ${BIN}`;

const pilots = (pool: string): Json[] => {
  const dir = join(home, `.qdo/pools/${pool}/pilots`);
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
};
const livePilots = async (pool: string): Promise<Json[]> => JSON.parse(await ok(opts, ['pool', 'status', pool, '--json'])).pools[0].pilots;

test.before.each(async () => {
  home = tempDir('qdo-pool-pilots-');
  opts = { home, now: 'real', env: { QDO_SCHEDULER: 'local' } };
  out = join(home, 'out');
  mkdirSync(out);
  await ok(opts, ['project', 'add', 'p']);
});
test.after.each(async () => {
  // Pilots exit when idle (2 s here); wait for them before the folder goes.
  await until('the pilots to exit', async () => (await livePilots('lp').catch(() => [])).length === 0, 30_000, 300).catch(() => undefined);
  removeDir(home);
});

test('submit starts pilots at once, at most max; all runs complete; idle pilots exit', async () => {
  await ok(opts, ['pool', 'add', 'lp', '--scheduler', 'local', '--nodes', '0..2', '--slots', '2', '--idle', '2s', '--worker-command', WORKER]);
  await ok(opts, ['submit', 'p/r{{i}}', '--pool', 'lp', '--grid', 'i=0,1,2,3,4,5,6,7,8,9,10,11', '--', 'bash', '-c', `sleep 0.3; echo "$QDO_POOL_WORKER" >> ${out}/$QDO_PARAM_i`]);
  assert.ok(pilots('lp').length >= 1, 'a pilot was submitted by the submit itself');
  const w = await qdo(['wait', 'p/*', '--timeout', '2m'], opts);
  assert.is(w.code, 0, w.stderr);
  assert.ok(pilots('lp').length <= 2, `at most 2 pilots, found ${pilots('lp').length}`);
  assert.equal([...counts(out).values()], Array(12).fill(1));
  await until('the idle pilots to exit and be seen ended', async () => (await livePilots('lp')).length === 0, 30_000, 300);
  // Each pilot ended by itself, or was cancelled by qdo while still waiting to start, as not needed.
  assert.ok(pilots('lp').every((p) => p.state === 'completed' || (p.state === 'cancelled' && /not needed/.test(p.reason))), JSON.stringify(pilots('lp').map((p) => [p.state, p.reason])));
});

test('min pilots are kept without work; a pilot killed mid-run: its run is rerun and completes once', async () => {
  await ok(opts, ['pool', 'add', 'lp', '--scheduler', 'local', '--nodes', '1..1', '--slots', '1', '--idle', '2s', '--worker-command', WORKER]);
  await ok(opts, ['pool', 'scale', 'lp']);
  const first = await until('the minimum pilot to run', async () => (await livePilots('lp')).find((p) => p.state === 'running'));
  await ok(opts, ['submit', 'p/k', '--pool', 'lp', '--', 'bash', '-c', `sleep 3; trap "" TERM; echo "$QDO_POOL_ATTEMPT" >> ${out}/k`]);
  await waitState(opts, 'p/k', (s) => s === 'running');
  await ok(opts, ['sched', 'cancel', '--scheduler', 'local', first.sched_id]);
  const j = await waitState(opts, 'p/k', undefined, 90_000);
  assert.is(j.state, 'completed');
  assert.equal(readFileSync(join(out, 'k'), 'utf8'), '2\n', 'rerun after its pilot was killed, once');
  assert.ok(pilots('lp').length >= 2, 'a new pilot replaced the killed one');
  await ok(opts, ['pool', 'scale', 'lp', '--nodes', '0..1']);
});

test('a worker with too little time left takes only the runs that fit, then exits', async () => {
  await ok(opts, ['pool', 'add', 'lp']);
  await ok(opts, ['submit', 'p/long', '--pool', 'lp', '--time', '10m', '--', 'true']);
  await ok(opts, ['submit', 'p/short', '--pool', 'lp', '--time', '30s', '--', 'true']);
  const w = await startWorker(opts, 'lp', { timeLeftSec: 120, idleSec: 60 });
  const s = await w.done;
  assert.match(s.why, /too little time left/);
  assert.is((await states(opts, 'p/short'))[0]!.state, 'completed');
  assert.is((await states(opts, 'p/long'))[0]!.state, 'queued');
});

test('a drained worker takes nothing more and exits once its runs ended', async () => {
  await ok(opts, ['pool', 'add', 'lp']);
  await ok(opts, ['submit', 'p/a', '--pool', 'lp', '--', 'sleep', '1']);
  const w = await startWorker(opts, 'lp');
  await waitState(opts, 'p/a', (s) => s === 'running');
  const id = readdirSync(join(home, '.qdo/pools/lp/workers')).find((d) => !d.startsWith('.'))!;
  const { changeControl, poolPaths } = await import('../../src/store/pool.js');
  const { layoutOf } = await import('../../src/store/layout.js');
  await changeControl(poolPaths(layoutOf(home), 'lp'), (c) => ({ ...c, drain: [id] }));
  await ok(opts, ['submit', 'p/b', '--pool', 'lp', '--', 'true']);
  const s = await w.done;
  assert.is(s.why, 'drained');
  assert.is((await states(opts, 'p/a'))[0]!.state, 'completed');
  assert.is((await states(opts, 'p/b'))[0]!.state, 'queued');
});

test('a pilot that fails (a broken worker command) keeps new pilots back for a while, and says why', async () => {
  await ok(opts, ['pool', 'add', 'lp', '--scheduler', 'local', '--nodes', '0..2', '--slots', '1', '--idle', '2s', '--worker-command', 'false']);
  await ok(opts, ['submit', 'p/a', '--pool', 'lp', '--', 'true']);
  await until('the pilot to fail', async () => readdirSync(join(home, '.qdo/pools/lp/pilots')).some((d) => !d.endsWith('.json') && readdirSync(join(home, '.qdo/pools/lp/pilots', d)).includes('qdo-end.json')));
  const r = await qdo(['pool', 'scale', 'lp', '--json'], opts);
  assert.is(r.code, 6);
  const s = JSON.parse(r.stdout);
  assert.match(s.problems.join('\n'), /pilot job \d+ failed with exit 1 \(see .*stderr\); no new pilot for 120 s/);
  assert.equal(s.submitted, []);
  assert.is(pilots('lp').length, 1, 'no pilot storm');
  await ok(opts, ['cancel', 'p/a']);
});

test('a worker command from a pool.json others can change is not run: no pilot, a problem that says why', async () => {
  await ok(opts, ['pool', 'add', 'lp', '--scheduler', 'local', '--nodes', '0..1', '--idle', '2s', '--worker-command', WORKER]);
  chmodSync(join(home, '.qdo/pools/lp/pool.json'), 0o666);
  await ok(opts, ['submit', 'p/a', '--pool', 'lp', '--', 'true']);
  const r = await qdo(['pool', 'scale', 'lp', '--json'], opts);
  assert.is(r.code, 6);
  assert.match(JSON.parse(r.stdout).problems.join('\n'), /not starting pilots: pool.json names a worker command, but .*pool.json: .*writable by others/);
  assert.equal(pilots('lp'), []);
  await ok(opts, ['cancel', 'p/a']);
});

test.run();
