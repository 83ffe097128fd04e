// A pool as core sees it: scheduler kind pool:NAME (spec/pools.md §Submitting, §States).
// What submit renders and refuses, hold/release/cancel without a worker, recovery of an
// interrupted submit by its tag, dead workers and spent attempts settled by a refresh,
// retry and diff of runs; pool add/status/rm.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { readRecord } from '../helpers/jobs.js';
import { ok, startWorker, states, waitState } from '../helpers/pool.js';
import { layoutOf } from '../../src/store/layout.js';
import { writeSubmission } from '../../src/store/submissions.js';

const test = suite('pool backend');
let home = '';
let opts: RunOptions;
const queueDir = () => join(home, '.qdo/pools/ws/queue');

test.before.each(async () => {
  home = tempDir('qdo-pool-backend-');
  opts = { home, now: 'real' };
  await ok(opts, ['project', 'add', 'p']);
  await ok(opts, ['pool', 'add', 'ws']);
});
test.after.each(() => removeDir(home));

test('--dry-run shows the run script: #QDO_POOL lines, unused resources named, then the wrapper', async () => {
  const s = await ok(opts, ['submit', 'p/a', '--pool', 'ws', '--dry-run', '--cpus', '2', '--mem', '1G', '--time', '10m', '--constraint', 'gpu&apptainer', '--partition', 'big', '--', 'echo', 'hi']);
  assert.match(s, /^#!\/bin\/bash\n# qdo pool ws/);
  for (const l of ['#QDO_POOL name=a', '#QDO_POOL slots=2', '#QDO_POOL needs=apptainer,gpu', '#QDO_POOL mem=1024', '#QDO_POOL time=600']) assert.ok(s.includes(`\n${l}\n`), l);
  assert.match(s, /# Not used in a pool \(spec\/pools.md §Resources\): partition=big/);
  assert.match(s, /export QDO_JOB_ID="\$\{QDO_POOL_RUN:-\}"/);
  assert.equal(readdirSync(queueDir()), [], 'nothing queued');
});

test('refused: arrays, several nodes, --pool against --scheduler, an unknown pool (names it, with the pools there are)', async () => {
  for (const [flags, code, what] of [
    [['--array', '1-3'], 2, /--array: a pool runs single jobs/],
    [['--nodes', '2'], 2, /--nodes: a run in a pool uses one worker/],
    [['--scheduler', 'slurm'], 2, /--pool ws and --scheduler slurm disagree/],
  ] as const) {
    const r = await qdo(['submit', 'p/a', '--pool', 'ws', ...flags, '--', 'true'], opts);
    assert.is(r.code, code, r.stderr);
    assert.match(r.stderr, what);
  }
  const r = await qdo(['submit', 'p/a', '--pool', 'wz', '--', 'true'], opts);
  assert.is(r.code, 3);
  assert.match(r.stderr, /no pool "wz" in any allocation\nhint: did you mean "ws"\?/);
});

test('a pool with pilots refuses runs none of its pilots could run, saying why', async () => {
  await ok(opts, ['pool', 'add', 'pl', '--scheduler', 'local', '--slots', '4', '--time', '1h', '--capability', 'gpu', '--worker-command', 'qdo']);
  const r = await qdo(['submit', 'p/a', '--pool', 'pl', '--cpus', '8', '--constraint', 'gfortran', '--time', '2h', '--', 'true'], opts);
  assert.is(r.code, 2);
  assert.match(r.stderr, /pool:pl cannot run this job: it needs 8 slot\(s\) \(cpus x tasks\), a pilot has 4; it needs gfortran, the pilots offer gpu; its time limit 02:00:00 is longer than a pilot's 01:00:00/);
  await ok(opts, ['submit', 'p/b', '--pool', 'pl', '--dry-run', '--cpus', '4', '--constraint', 'gpu', '--', 'true']);
});

test('submit queues: state queued, one ticket; hold/release move it; cancel of a held run needs no worker', async () => {
  const line = await ok(opts, ['submit', 'p/a', '--pool', 'ws', '--', 'true']);
  assert.match(line, /^p\/a@1 queued: pool:ws job [0-9a-z]{9}-[0-9a-f]{6}\n$/);
  assert.is(readdirSync(queueDir()).length, 1);
  await ok(opts, ['hold', 'p/a']);
  assert.is((await states(opts, 'p/a'))[0]!.state, 'held');
  assert.equal(readdirSync(queueDir()), []);
  await ok(opts, ['release', 'p/a']);
  const j = readRecord(home, (await states(opts, 'p/a'))[0]!.id);
  assert.is(j.state, 'queued');
  await ok(opts, ['submit', 'p/h', '--pool', 'ws', '--hold', '--', 'true']);
  assert.is((await states(opts, 'p/h'))[0]!.state, 'held');
  await ok(opts, ['cancel', 'p/h']);
  const h = (await states(opts, 'p/h'))[0]!;
  assert.is(h.state, 'cancelled');
  assert.is(h.reason, 'cancelled while queued');
  const w = await qdo(['wait', 'p/h'], opts);
  assert.is(w.code, 1, 'wait returns at once: it ended, not completed');
});

test('an interrupted submit (record left "submitting") is found again by its tag', async () => {
  const line = await ok(opts, ['submit', 'p/a', '--pool', 'ws', '--', 'true']);
  const key = /job (\S+)/.exec(line)![1]!;
  const id = (await states(opts, 'p/a'))[0]!.id as string;
  const rec = readRecord(home, id);
  writeSubmission(layoutOf(home), { ...rec, state: 'submitting', sched_id: null, submitted: null, pid: 999_999_999 });
  const [j] = await states(opts, 'p/a');
  assert.is(j!.sched_id, key);
  assert.is(j!.state, 'queued');
});

test('a refresh queues again the runs of a dead worker (its process is gone), then runs spent attempts end node-fail', async () => {
  await ok(opts, ['pool', 'add', 'once', '--max-requeue', '1']);
  await ok(opts, ['submit', 'p/a', '--pool', 'once', '--', 'true']);
  const pool = join(home, '.qdo/pools/once');
  // A worker that died holding the ticket: same host as this qdo ("testhost"), pid gone.
  const wdir = join(pool, 'workers/testhost.999999999.dead');
  mkdirSync(join(wdir, 'runs'), { recursive: true });
  writeFileSync(join(wdir, 'worker.json'), JSON.stringify({ schema: 'qdo.pool-worker/v1', id: 'testhost.999999999.dead', kind: 'worker', pool: 'once', host: 'testhost', pid: 999999999, identity: 'x', started: new Date().toISOString(), slots: 1, capabilities: [], mem: null, gpus: 0, pilot: null, ends_at: null }));
  const [name] = readdirSync(join(pool, 'queue'));
  renameSync(join(pool, 'queue', name!), join(wdir, 'runs', name!));
  assert.is((await states(opts, 'p/a'))[0]!.state, 'queued', 'requeued by this very refresh');
  let j = (await states(opts, 'p/a'))[0]!;
  assert.match(j.reason, /queued again \(attempt 2\): worker testhost\.999999999\.dead \(pid 999999999 on testhost\) is gone/);
  assert.equal(readdirSync(join(pool, 'workers')), [], 'the dead worker folder is gone');
  // Lost once more: with max_requeue 1, attempt 3 is not run but ends node-fail.
  const [again] = readdirSync(join(pool, 'queue'));
  renameSync(join(pool, 'queue', again!), join(pool, 'queue', again!.replace('~2', '~3')));
  await ok(opts, ['pool', 'scale', 'once']);
  j = (await states(opts, 'p/a'))[0]!;
  assert.is(j.state, 'node-fail');
  assert.match(j.reason, /its worker was lost 2 time\(s\) \(last: worker .* is gone .*\); not queued again \(max_requeue 1\)/);
});

test('retry and diff of runs: the retry goes to the same pool and runs', async () => {
  await ok(opts, ['submit', 'p/a', '--pool', 'ws', '--', 'bash', '-c', 'exit 1']);
  const w = await startWorker(opts, 'ws');
  try {
    assert.is((await waitState(opts, 'p/a')).state, 'failed');
    const r = await ok(opts, ['retry', 'p/a', '--cpus', '2']);
    assert.match(r, /^p\/a@2 queued: pool:ws job /);
    assert.is((await waitState(opts, 'p/a')).state, 'failed');
    assert.match(await ok(opts, ['diff', 'p/a@1', 'p/a@2']), /cpus/);
  } finally {
    w.stop();
    await w.done;
  }
});

test('pool add: names are unique across allocations; status --json; rm refuses a busy pool', async () => {
  const other = join(home, 'scratch');
  mkdirSync(other);
  await ok(opts, ['init', other]);
  const r = await qdo(['pool', 'add', 'ws', '--alloc', other], opts);
  assert.is(r.code, 4);
  assert.match(r.stderr, /pool ws already exists in allocation/);
  await ok(opts, ['pool', 'add', 'far', '--alloc', other]);
  await ok(opts, ['submit', 'p/a', '--pool', 'far', '--', 'true']);
  const st = JSON.parse(await ok(opts, ['pool', 'status', '--json']));
  assert.is(st.version, 1);
  assert.equal(st.pools.map((p: { pool: string; allocation: string; queued: number }) => [p.pool, p.allocation, p.queued]), [['ws', home, 0], ['far', other, 1]]);
  const busy = await qdo(['pool', 'rm', 'far'], opts);
  assert.is(busy.code, 4);
  assert.match(busy.stderr, /still has 1 queued/);
  await ok(opts, ['cancel', 'p/a']);
  await ok(opts, ['pool', 'rm', 'far']);
  assert.equal(readdirSync(join(other, '.qdo/pools')), []);
  const bad = await qdo(['pool', 'add', 'x', '--nodes', '0..2'], opts);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--nodes: only for a pool with pilots/);
  const wrong = await qdo(['pool', 'status', 'ws', '--slots', '2'], opts);
  assert.is(wrong.code, 2);
  assert.match(wrong.stderr, /qdo pool status does not take --slots/);
});

test.run();
