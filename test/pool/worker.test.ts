// A pool worker in this process, its runs real processes (spec/pools.md §Workers): runs end
// as ordinary job versions; cancel, time limit, pause/resume act on the run's process group;
// a stop gives the run back as its next attempt; a worker whose ticket was taken from it
// records nothing; dependencies and capabilities decide what is claimed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { lines, ok, sleep, startWorker, states, until, waitState } from '../helpers/pool.js';

const test = suite('pool worker');
let home = '';
let opts: RunOptions;
let out = '';

test.before.each(async () => {
  home = tempDir('qdo-pool-worker-');
  opts = { home, now: 'real' };
  out = join(home, 'out');
  mkdirSync(out);
  await ok(opts, ['project', 'add', 'p']);
  await ok(opts, ['pool', 'add', 'ws']);
});
test.after.each(() => removeDir(home));

test('runs end as ordinary versions: completed, failed with its exit code; show says which worker ran it', async () => {
  await ok(opts, ['submit', 'p/good', '--pool', 'ws', '--', 'bash', '-c', `echo hello; echo x >> ${out}/good`]);
  await ok(opts, ['submit', 'p/bad', '--pool', 'ws', '--', 'bash', '-c', 'exit 3']);
  const [queued] = await states(opts, 'p/good');
  assert.is(queued!.state, 'queued');
  const w = await startWorker(opts, 'ws');
  try {
    const good = await waitState(opts, 'p/good');
    const bad = await waitState(opts, 'p/bad');
    assert.is(good.state, 'completed');
    assert.is(bad.state, 'failed');
    assert.is(bad.exit_code, 3);
    assert.equal(lines(join(out, 'good')), ['x']);
    assert.match(await ok(opts, ['logs', 'p/good']), /hello/);
    const show = JSON.parse(await ok(opts, ['show', '--json', 'p/good']));
    assert.is(show.pool_run.where, 'ended');
    assert.is(show.pool_run.host, 'testhost');
    assert.match(await ok(opts, ['show', 'p/good']), /ran on\s+worker testhost\.\d+\.[0-9a-f]{4} on testhost/);
  } finally {
    w.stop();
    await w.done;
  }
});

test('cancel of a running run: TERM to its group, state cancelled; cancel of a queued one needs no worker', async () => {
  await ok(opts, ['submit', 'p/long', '--pool', 'ws', '--', 'sleep', '60']);
  await ok(opts, ['submit', 'p/waits', '--pool', 'ws', '--cpus', '2', '--', 'true']);
  const w = await startWorker(opts, 'ws', { slots: 2 });
  try {
    await waitState(opts, 'p/long', (s) => s === 'running');
    // p/waits needs both slots and waits behind p/long: cancelled while queued, at once.
    await ok(opts, ['cancel', 'p/waits']);
    const [waits] = await states(opts, 'p/waits');
    assert.is(waits!.state, 'cancelled');
    assert.is(waits!.reason, 'cancelled while queued');
    const t0 = Date.now();
    await ok(opts, ['cancel', 'p/long']);
    const long = await waitState(opts, 'p/long');
    assert.is(long.state, 'cancelled');
    assert.ok(Date.now() - t0 < 10_000, 'stopped promptly');
  } finally {
    w.stop();
    await w.done;
  }
});

test('the time limit: TERM at --time, state timeout', async () => {
  await ok(opts, ['submit', 'p/slow', '--pool', 'ws', '--time', '2s', '--', 'sleep', '60']);
  const w = await startWorker(opts, 'ws');
  try {
    const j = await waitState(opts, 'p/slow');
    assert.is(j.state, 'timeout');
    assert.match(j.reason, /time limit of 2 s/);
  } finally {
    w.stop();
    await w.done;
  }
});

test('pause stops the run (SIGSTOP of its group) and claims nothing; resume continues it to the end', async () => {
  const counter = join(out, 'ticks');
  await ok(opts, ['submit', 'p/ticks', '--pool', 'ws', '--', 'bash', '-c', `for i in $(seq 30); do echo $i >> ${counter}; sleep 0.1; done`]);
  const w = await startWorker(opts, 'ws', { slots: 2 });
  try {
    await until('the run to make progress', async () => lines(counter).length >= 3);
    await ok(opts, ['pool', 'pause', 'ws']);
    await until('the worker to pause the run', async () => w.log.some((l) => l.startsWith('paused')));
    const [paused] = await states(opts, 'p/ticks');
    assert.is(paused!.state, 'suspended');
    await ok(opts, ['submit', 'p/other', '--pool', 'ws', '--', 'true']);
    const at = lines(counter).length;
    await sleep(1000); // no progress may be made while paused: this needs time to pass
    assert.is(lines(counter).length, at, 'no progress while paused');
    const [other] = await states(opts, 'p/other');
    assert.is(other!.state, 'queued', 'nothing is claimed while paused');
    await ok(opts, ['pool', 'resume', 'ws']);
    assert.is((await waitState(opts, 'p/ticks')).state, 'completed');
    assert.is(lines(counter).length, 30);
    assert.is((await waitState(opts, 'p/other')).state, 'completed');
  } finally {
    w.stop();
    await w.done;
  }
});

test('a stopped worker gives its running run back as the next attempt; another runs it once', async () => {
  const mark = join(out, 'once');
  await ok(opts, ['submit', 'p/r', '--pool', 'ws', '--', 'bash', '-c', `sleep 1.5; trap "" TERM; echo $QDO_POOL_ATTEMPT >> ${mark}`]);
  const w1 = await startWorker(opts, 'ws');
  await waitState(opts, 'p/r', (s) => s === 'running');
  w1.stop();
  const s1 = await w1.done;
  assert.is(s1.requeued, 1);
  const [again] = await states(opts, 'p/r');
  assert.is(again!.state, 'queued');
  assert.match(again!.reason, /queued again \(attempt 2\): worker .* was told to stop/);
  const w2 = await startWorker(opts, 'ws');
  try {
    assert.is((await waitState(opts, 'p/r')).state, 'completed');
    assert.equal(lines(mark), ['2'], 'the interrupted attempt never reached its end; the second ran once');
  } finally {
    w2.stop();
    await w2.done;
  }
});

test('a stop signal that reaches the run before its worker (scancel signals each process) gives the run back; one from outside alone fails it', async () => {
  const pidFile = join(out, 'pid');
  await ok(opts, ['submit', 'p/s', '--pool', 'ws', '--', 'bash', '-c', `echo $$ > ${pidFile}; exec sleep 30`]);
  const groupOf = async (file: string): Promise<number> => {
    const pid = await until(`${file} written`, async () => (existsSync(file) && readFileSync(file, 'utf8').trim()) || undefined);
    return Number(execFileSync('ps', ['-o', 'pgid=', '-p', pid], { encoding: 'utf8' }).trim());
  };
  const alive = (pgid: number): boolean => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // Gone once its worker has reaped it, that is, has seen its end.
  const gone = (pgid: number) => until(`group ${pgid} gone`, async () => !alive(pgid));
  // Only TERM from outside and nothing more: an ordinary failure, after the settle time.
  const w1 = await startWorker(opts, 'ws', { stopSettleMs: 300 });
  try {
    const g = await groupOf(pidFile);
    process.kill(-g, 'SIGTERM');
    const s = await waitState(opts, 'p/s');
    assert.is(s.state, 'failed');
    assert.is(s.exit_code, 143);
  } finally {
    w1.stop();
    await w1.done;
  }
  // TERM to the run's group first, the worker's own stop after its end: given back.
  await ok(opts, ['submit', 'p/k', '--pool', 'ws', '--', 'bash', '-c', `echo $$ > ${pidFile}.k; exec sleep 30`]);
  const w2 = await startWorker(opts, 'ws', { stopSettleMs: 60_000 });
  const g = await groupOf(`${pidFile}.k`);
  process.kill(-g, 'SIGTERM');
  await gone(g);
  w2.stop();
  const s2 = await w2.done;
  assert.is(s2.requeued, 1);
  const [k] = await states(opts, 'p/k');
  assert.is(k!.state, 'queued');
  assert.match(k!.reason, /queued again \(attempt 2\)/);
});

test('a worker whose ticket was taken from it (presumed dead) stops the run and records nothing', async () => {
  const mark = join(out, 'fenced');
  await ok(opts, ['submit', 'p/f', '--pool', 'ws', '--', 'bash', '-c', `sleep 10; echo done >> ${mark}`]);
  const w = await startWorker(opts, 'ws', {}, {});
  try {
    await waitState(opts, 'p/f', (s) => s === 'running');
    // What recovery does to a worker it presumes dead: its ticket goes back to the queue.
    const ref = join(home, '.qdo/pools/ws/workers');
    const wid = readdirSync(ref).find((d) => !d.startsWith('.'))!;
    const [name] = readdirSync(join(ref, wid, 'runs'));
    renameSync(join(ref, wid, 'runs', name!), join(home, '.qdo/pools/ws/held', name!));
    await until('the worker to notice', async () => w.log.some((l) => l.includes('nothing recorded')), 9_000);
    assert.equal(lines(mark), [], 'the run was stopped before its end');
    const [j] = await states(opts, 'p/f');
    assert.is(j!.state, 'held', 'the worker wrote no end for it');
  } finally {
    w.stop();
    await w.done;
  }
});

test('a worker that cannot write its heartbeat for half the lease stops its runs itself and gives them back', async () => {
  await ok(opts, ['pool', 'add', 'short', '--lease', '10s']);
  const mark = join(out, 'fence');
  await ok(opts, ['submit', 'p/s', '--pool', 'short', '--', 'bash', '-c', `sleep 20; echo done >> ${mark}`]);
  const w = await startWorker(opts, 'short', { heartbeatSec: 1 });
  try {
    await waitState(opts, 'p/s', (s) => s === 'running');
    // The heartbeat's name becomes a folder: every later heartbeat write fails.
    const wdir = join(home, '.qdo/pools/short/workers');
    const wid = readdirSync(wdir).find((d) => !d.startsWith('.'))!;
    rmSync(join(wdir, wid, 'heartbeat'));
    mkdirSync(join(wdir, wid, 'heartbeat', 'x'), { recursive: true });
    const s = await w.done;
    assert.match(s.why, /could not write its heartbeat for \d+ s/);
    assert.equal(lines(mark), [], 'the run was stopped before its end');
    const [j] = await states(opts, 'p/s');
    assert.is(j!.state, 'queued');
    assert.match(j!.reason, /attempt 2/);
  } finally {
    w.stop();
    await w.done;
  }
});

test('a worker runs only runs its own user queued (ticket and script owned by it or root)', async () => {
  await ok(opts, ['submit', 'p/theirs', '--pool', 'ws', '--', 'true']);
  await ok(opts, ['submit', 'p/mine', '--pool', 'ws', '--', 'true']);
  const q = join(home, '.qdo/pools/ws/queue');
  const [first] = readdirSync(q).sort();
  chownSync(join(q, first!), 4321, 4321); // as if another member of a shared allocation queued it
  const w = await startWorker(opts, 'ws');
  try {
    assert.is((await waitState(opts, 'p/mine')).state, 'completed');
    await until('the worker to say why it leaves the other', async () => w.log.some((l) => l.includes('queued by another user')));
    assert.is((await states(opts, 'p/theirs'))[0]!.state, 'queued');
  } finally {
    w.stop();
    await w.done;
  }
});

test('dependencies: a run waits for its afterok run; one whose dependency failed is cancelled', async () => {
  await ok(opts, ['submit', 'p/a', '--pool', 'ws', '--', 'bash', '-c', 'sleep 1']);
  await ok(opts, ['submit', 'p/b', '--pool', 'ws', '--after', 'p/a', '--', 'true']);
  await ok(opts, ['submit', 'p/x', '--pool', 'ws', '--', 'false']);
  await ok(opts, ['submit', 'p/y', '--pool', 'ws', '--after', 'p/x', '--', 'true']);
  const w = await startWorker(opts, 'ws', { slots: 4 });
  try {
    const a = await waitState(opts, 'p/a');
    const b = await waitState(opts, 'p/b');
    assert.is(a.state, 'completed');
    assert.is(b.state, 'completed');
    assert.ok(Date.parse(JSON.parse(await ok(opts, ['show', '--json', 'p/b'])).state_time) >= Date.parse(a.state_time) - 1000);
    const y = await waitState(opts, 'p/y');
    assert.is(y.state, 'cancelled');
    assert.match(y.reason, /DependencyNeverSatisfied/);
  } finally {
    w.stop();
    await w.done;
  }
});

test('a worker claims only runs whose capabilities and GPUs it has', async () => {
  await ok(opts, ['submit', 'p/gpu', '--pool', 'ws', '--constraint', 'gpu', '--', 'true']);
  await ok(opts, ['submit', 'p/card', '--pool', 'ws', '--gpus', '1', '--', 'true']);
  await ok(opts, ['submit', 'p/any', '--pool', 'ws', '--', 'true']);
  const cpu = await startWorker(opts, 'ws', { capabilities: ['gfortran'], gpus: 0 });
  try {
    assert.is((await waitState(opts, 'p/any')).state, 'completed');
    await sleep(500);
    const [gpu, card] = [(await states(opts, 'p/gpu'))[0]!, (await states(opts, 'p/card'))[0]!];
    assert.is(gpu.state, 'queued');
    assert.is(card.state, 'queued');
  } finally {
    cpu.stop();
    await cpu.done;
  }
  const gpu = await startWorker(opts, 'ws', { capabilities: ['gpu'], gpus: null });
  try {
    assert.is((await waitState(opts, 'p/gpu')).state, 'completed');
    assert.is((await waitState(opts, 'p/card')).state, 'completed');
  } finally {
    gpu.stop();
    await gpu.done;
  }
});

test.run();
