// Workstation mode on one machine (spec/pools.md §Workers): workers started by hand as
// processes, with different capabilities; pause and resume of the runs on a host; a worker
// killed with SIGKILL at any step of a run's life: its run is rerun elsewhere, never lost,
// never run twice (counted by the runs' own side effects).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { counts, lines, ok, sleep, spawnWorker, states, stopWorkers, until, waitState, type WorkerProcess } from '../helpers/pool.js';
import type { Json } from '../helpers/jobs.js';

const test = suite('pool workstations');
let home = '';
let opts: RunOptions;
let out = '';
let workers: WorkerProcess[] = [];

test.before.each(async () => {
  home = tempDir('qdo-pool-ws-');
  opts = { home, now: 'real' };
  out = join(home, 'out');
  mkdirSync(out);
  workers = [];
  await ok(opts, ['project', 'add', 'p']);
  await ok(opts, ['pool', 'add', 'lab', '--lease', '20s']);
});
test.after.each(async () => {
  await stopWorkers(workers);
  removeDir(home);
});

function worker(args: string[], env: Record<string, string> = {}): WorkerProcess {
  const w = spawnWorker(opts, 'lab', args, env);
  workers.push(w);
  return w;
}

async function poolJson(): Promise<Json> {
  return JSON.parse(await ok(opts, ['pool', 'status', 'lab', '--json'])).pools[0];
}

async function registered(n: number): Promise<Json[]> {
  return until(`${n} worker(s) to register`, async () => {
    const ws = (await poolJson()).workers as Json[];
    return ws.filter((w) => w.mode !== 'dead').length >= n ? ws : undefined;
  });
}

test('three workers with different capabilities: runs needing gpu go to the gpu worker only', async () => {
  worker(['--slots', '2', '--capability', 'gpu']);
  worker(['--slots', '2', '--capability', 'gfortran']);
  worker(['--slots', '1']);
  const ws = await registered(3);
  const gpuWorker = ws.find((w) => (w.capabilities as string[]).includes('gpu'))!.id as string;
  const sweep = (name: string, extra: string[]) => ok(opts, ['submit', `p/${name}{{i}}`, '--pool', 'lab', ...extra, '--grid', 'i=0,1,2,3,4,5', '--', 'bash', '-c', `sleep 0.3; echo "$QDO_POOL_WORKER" >> ${out}/${name}$QDO_PARAM_i`]);
  await sweep('g', ['--constraint', 'gpu']);
  await sweep('f', ['--constraint', 'gfortran']);
  await sweep('c', []);
  const all = await until('all 18 runs to end', async () => {
    const js = await states(opts, 'p/*');
    return js.length === 18 && js.every((j) => j.state === 'completed') ? js : undefined;
  }, 60_000, 300);
  assert.is(all.length, 18);
  for (let i = 0; i < 6; i++) {
    assert.equal(lines(join(out, `g${i}`)), [gpuWorker], `g${i} ran once, on the gpu worker`);
    const f = lines(join(out, `f${i}`));
    assert.is(f.length, 1);
    assert.ok(ws.find((w) => w.id === f[0])!.capabilities.includes('gfortran'), `f${i} on the gfortran worker`);
    assert.is(lines(join(out, `c${i}`)).length, 1);
  }
  const show = JSON.parse(await ok(opts, ['show', '--json', 'p/g0']));
  assert.is(show.pool_run.worker, gpuWorker);
  assert.is(show.pool_run.host, hostname());
});

test('runs work in their run folders: two versions writing out.csv relatively keep both, artifacts tell them apart', async () => {
  worker(['--slots', '2']);
  await registered(1);
  const a = JSON.parse(await ok(opts, ['submit', '--json', 'p/w', '--pool', 'lab', '--', 'bash', '-c', 'echo one > out.csv']));
  const b = JSON.parse(await ok(opts, ['submit', '--json', 'p/w', '--pool', 'lab', '--', 'bash', '-c', 'echo second > out.csv']));
  await ok(opts, ['wait', 'p/w@1', 'p/w@2', '--timeout', '60s']);
  const list = async (rev: string) => JSON.parse(await ok(opts, ['artifacts', rev, '*.csv', '--json'])).files.map((f: Json) => `${String(f.path)} ${String(f.size)}`);
  assert.equal(await list('p/w@1'), ['out.csv 4']);
  assert.equal(await list('p/w@2'), ['out.csv 7']);
  assert.is(a.run_dir !== b.run_dir, true);
});

test('pause --host stops the running run there and resume lets it finish; --worker pauses one worker', async () => {
  const w = worker(['--slots', '1']);
  await registered(1);
  const ticks = join(out, 'ticks');
  await ok(opts, ['submit', 'p/ticks', '--pool', 'lab', '--', 'bash', '-c', `for i in $(seq 25); do echo $i >> ${ticks}; sleep 0.1; done`]);
  await until('the run to make progress', async () => lines(ticks).length >= 3);
  await ok(opts, ['pool', 'pause', 'lab', '--host', hostname()]);
  await until('the worker to pause it', async () => w.out().includes('paused'), 10_000);
  const at = lines(ticks).length;
  await sleep(1000); // a paused run must make no progress for a while: time has to pass
  assert.is(lines(ticks).length, at, 'no progress while paused');
  assert.is((await states(opts, 'p/ticks'))[0]!.state, 'suspended');
  const st = await poolJson();
  assert.equal(st.paused.hosts, [hostname()]);
  await ok(opts, ['pool', 'resume', 'lab', '--host', hostname()]);
  assert.is((await waitState(opts, 'p/ticks')).state, 'completed');
  assert.is(lines(ticks).length, 25);

  // One worker paused by id: it claims nothing; another worker takes the run.
  const [one] = (await poolJson()).workers as Json[];
  await ok(opts, ['pool', 'pause', 'lab', '--worker', one!.id]);
  await ok(opts, ['submit', 'p/after', '--pool', 'lab', '--', 'true']);
  await sleep(800);
  assert.is((await states(opts, 'p/after'))[0]!.state, 'queued');
  worker(['--slots', '1']);
  assert.is((await waitState(opts, 'p/after')).state, 'completed');
  await ok(opts, ['pool', 'resume', 'lab']);
});

test('SIGKILL of a worker: its reaper stops the run, a peer finds it dead and the run is rerun once', async () => {
  const victim = worker(['--slots', '1']);
  await registered(1);
  await ok(opts, ['submit', 'p/k', '--pool', 'lab', '--', 'bash', '-c', `sleep 2.5; trap "" TERM; echo "$QDO_POOL_ATTEMPT" >> ${out}/k`]);
  await waitState(opts, 'p/k', (s) => s === 'running');
  victim.child.kill('SIGKILL');
  await victim.exited;
  worker(['--slots', '1']);
  const j = await waitState(opts, 'p/k', undefined, 60_000);
  assert.is(j.state, 'completed');
  assert.equal(lines(join(out, 'k')), ['2'], 'the first attempt was stopped by the reaper before its end; the second ran once');
});

for (const point of ['after-claim', 'after-start', 'before-end']) {
  test(`a worker killed ${point} of a run: the run ends completed and ran to its end exactly once`, async () => {
    worker(['--slots', '1'], { QDO_POOL_TEST_CRASH: point });
    await registered(1);
    // 3 s before the run stops listening to TERM: the reaper of the killed worker must stop
    // the first attempt before that (0.5 s was not enough once on a loaded CI machine).
    await ok(opts, ['submit', 'p/c{{i}}', '--pool', 'lab', '--grid', 'i=0,1,2', '--', 'bash', '-c', `sleep 3; trap "" TERM; echo "$QDO_POOL_ATTEMPT" >> ${out}/c$QDO_PARAM_i`]);
    await until('the worker to die', async () => workers[0]!.child.exitCode !== null || workers[0]!.child.signalCode !== null, 30_000);
    assert.is(workers[0]!.child.signalCode, 'SIGKILL');
    worker(['--slots', '2']);
    const js = await until('the 3 runs to end', async () => {
      const s = await states(opts, 'p/*');
      return s.length === 3 && s.every((j) => j.state !== 'queued' && j.state !== 'running' && j.state !== 'suspended') ? s : undefined;
    }, 60_000, 300);
    assert.equal(js.map((j) => j.state), ['completed', 'completed', 'completed']);
    const c = counts(out);
    assert.equal([...c.values()], [1, 1, 1], `each run reached its end once: ${JSON.stringify([...c])}`);
  });
}

test.run();
