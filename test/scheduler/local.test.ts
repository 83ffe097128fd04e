// The local backend, for real: jobs run detached under bash, in a temp spool.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchedulerError } from '../../src/errors.js';
import { LocalBackend } from '../../src/scheduler/local.js';
import { isShepherd, pidAlive } from '../../src/scheduler/local/spool.js';
import type { Resources } from '../../src/model/resources.js';
import type { JobState, NormalState } from '../../src/scheduler/types.js';

const root = mkdtempSync(join(tmpdir(), 'qdo-local-'));
let n = 0;

interface Setup {
  b: LocalBackend;
  dir: string;
  submit(script: string, res?: Resources, opts?: { hold?: boolean; name?: string; dependencies?: { type: 'afterok' | 'afterany'; ids: string[] }[] }): Promise<string>;
}

function setup(cpus = 1): Setup {
  const dir = join(root, `s${++n}`);
  const b = new LocalBackend({ spoolDir: join(dir, 'spool'), cpus, killGraceSec: 1, env: { PATH: process.env.PATH, HOME: process.env.HOME } });
  let k = 0;
  return {
    b,
    dir,
    async submit(script, resources = {}, opts = {}) {
      const name = opts.name ?? `j${++k}`;
      const text = b.render({ jobName: name, resources, script, runDir: join(dir, 'runs', name), submitDir: dir, env: { QDO_PARAM_NAME: name, LOG: join(dir, 'log') }, dependencies: opts.dependencies });
      const file = join(dir, `${name}.sh`);
      spawnSync('mkdir', ['-p', dir]);
      writeFileSync(file, text);
      return b.submit(file, { cwd: dir, hold: opts.hold });
    },
  };
}

async function waitState(b: LocalBackend, id: string, want: NormalState | ((s: JobState) => boolean), ms = 20000): Promise<JobState> {
  const t0 = Date.now();
  for (;;) {
    const s = (await b.query([id])).get(id)!;
    if (typeof want === 'string' ? s.state === want : want(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`job ${id}: still ${s.state} after ${ms} ms, wanted ${String(want)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitFile(path: string, ms = 20000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The wrapper's start record once it is whole (the file may exist a moment before its line). */
async function startRecord(path: string, ms = 20000): Promise<{ pid: number }> {
  const t0 = Date.now();
  for (;;) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as { pid: number };
    } catch (e) {
      if (Date.now() - t0 > ms) throw e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const logLines = (dir: string): string[] => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').trim().split('\n') : []);
const STEP = '#!/bin/sh\necho "start $QDO_PARAM_NAME" >> "$LOG"\nsleep 0.3\necho "end $QDO_PARAM_NAME" >> "$LOG"\n';

test('with one slot, jobs run one after another in submission order', async () => {
  const s = setup(1);
  const ids = [await s.submit(STEP), await s.submit(STEP), await s.submit(STEP)];
  assert.equal(ids, ['1', '2', '3']);
  for (const id of ids) await waitState(s.b, id, 'completed');
  assert.equal(logLines(s.dir), ['start j1', 'end j1', 'start j2', 'end j2', 'start j3', 'end j3']);
  const st = (await s.b.query(['2'])).get('2')!;
  assert.equal(st, { id: '2', state: 'completed', raw: 'COMPLETED', source: 'exit-record', exitCode: 0 });
  const start = JSON.parse(readFileSync(join(s.dir, 'runs', 'j2', 'qdo-start.json'), 'utf8')) as { job_id: string };
  assert.is(start.job_id, '2');
});

test('with two slots, two jobs overlap; a 2-cpu job waits for both slots', async () => {
  const s = setup(2);
  // Each of the first two waits (up to 20 s) for the other to start, so they complete only
  // if they ran at the same time, however slow the machine is (a fixed sleep raced here).
  const meet = (other: string) =>
    `#!/bin/bash\necho "start $QDO_PARAM_NAME" >> "$LOG"\ntouch "$LOG.$QDO_PARAM_NAME"\nfor i in $(seq 400); do [ -e "$LOG.${other}" ] && break; sleep 0.05; done\n[ -e "$LOG.${other}" ] || exit 9\necho "end $QDO_PARAM_NAME" >> "$LOG"\n`;
  const a = await s.submit(meet('j2'));
  const b = await s.submit(meet('j1'));
  const c = await s.submit(STEP, { cpus: 2 });
  for (const id of [a, b]) assert.is((await waitState(s.b, id, (x) => x.state !== 'pending' && x.state !== 'running', 30000)).state, 'completed');
  await waitState(s.b, c, 'completed');
  const log = logLines(s.dir);
  assert.equal(log.slice(0, 2).sort(), ['start j1', 'start j2']);
  assert.equal(log.slice(4), ['start j3', 'end j3']);
});

test('exit 3 is failed with exitCode 3', async () => {
  const s = setup();
  const id = await s.submit('#!/bin/sh\necho oops >&2\nexit 3\n');
  const st = await waitState(s.b, id, (x) => x.source === 'exit-record');
  assert.equal(st, { id, state: 'failed', raw: 'FAILED', source: 'exit-record', exitCode: 3 });
  assert.is(readFileSync(join(s.dir, 'runs', 'j1', 'stderr'), 'utf8'), 'oops\n');
  assert.is(JSON.parse(readFileSync(join(s.dir, 'runs', 'j1', 'qdo-end.json'), 'utf8')).exit_code, 3);
});

test('cancel a running job: its whole process group is killed, records say TERM', async () => {
  const s = setup();
  // A child of the script that would outlive a TERM to the script alone.
  const id = await s.submit('#!/bin/bash\nsleep 60 &\necho $! > "$QDO_TASK_DIR/grandchild"\nsleep 60\n');
  await waitState(s.b, id, 'running');
  await waitFile(join(s.dir, 'runs', 'j1', 'grandchild'));
  await s.b.cancel([id]);
  const st = await waitState(s.b, id, 'cancelled', 10000);
  assert.is(st.raw, 'CANCELLED');
  assert.is(st.source, 'exit-record');
  const gc = Number(readFileSync(join(s.dir, 'runs', 'j1', 'grandchild'), 'utf8'));
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(!pidAlive(gc), 'background child of the script is gone');
  const end = JSON.parse(readFileSync(join(s.dir, 'runs', 'j1', 'qdo-end.json'), 'utf8')) as { signal: string };
  assert.is(end.signal, 'TERM');
});

test('cancel a queued job: it never starts; the queue moves on', async () => {
  const s = setup(1);
  const a = await s.submit('#!/bin/sh\nsleep 1\n');
  const b = await s.submit(STEP);
  const c = await s.submit(STEP);
  await waitState(s.b, a, 'running');
  assert.is((await s.b.query([b])).get(b)!.state, 'pending');
  await s.b.cancel([b]);
  assert.equal((await s.b.query([b])).get(b), { id: b, state: 'cancelled', raw: 'CANCELLED', source: 'exit-record', exitCode: null, reason: 'cancelled while queued' });
  await waitState(s.b, c, 'completed');
  assert.is((await s.b.query([a])).get(a)!.state, 'completed');
  assert.not.ok(existsSync(join(s.dir, 'runs', 'j2')), 'the cancelled job never ran');
  assert.equal(logLines(s.dir), ['start j3', 'end j3']);
});

test('hold at submit and hold/release later', async () => {
  const s = setup(1);
  const a = await s.submit(STEP, {}, { hold: true });
  const b = await s.submit('#!/bin/sh\nsleep 0.5\n');
  const c = await s.submit(STEP);
  await s.b.hold([c]);
  await waitState(s.b, b, 'completed');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await s.b.query([a])).get(a), { id: a, state: 'held', raw: 'HELD', source: 'queue' });
  assert.is((await s.b.query([c])).get(c)!.state, 'held');
  assert.equal(logLines(s.dir), []);
  await s.b.release([c]);
  await waitState(s.b, c, 'completed');
  assert.is((await s.b.query([a])).get(a)!.state, 'held');
  await s.b.release([a]);
  await waitState(s.b, a, 'completed');
  assert.equal(logLines(s.dir), ['start j3', 'end j3', 'start j1', 'end j1']);
});

test('time limit: TERM at the limit, state timeout', async () => {
  const s = setup();
  const t0 = Date.now();
  const id = await s.submit('#!/bin/sh\nsleep 30\n', { time: 2 });
  const st = await waitState(s.b, id, (x) => x.source === 'exit-record', 15000);
  const took = Date.now() - t0;
  assert.is(st.state, 'timeout');
  assert.is(st.raw, 'TIMEOUT');
  assert.ok(took >= 1900 && took < 8000, `took ${took} ms`);
  const end = JSON.parse(readFileSync(join(s.dir, 'runs', 'j1', 'qdo-end.json'), 'utf8')) as { signal: string };
  assert.is(end.signal, 'TERM');
});

test('array jobs: one task per index, %N limit, per-task and whole-job states', async () => {
  const s = setup(4);
  const id = await s.submit('#!/bin/sh\necho "start $QDO_ARRAY_INDEX" >> "$LOG"\nsleep 0.3\necho "end $QDO_ARRAY_INDEX" >> "$LOG"\n[ "$QDO_ARRAY_INDEX" != 3 ] || exit 5\n', { array: '1-3%1' });
  const st = await waitState(s.b, id, (x) => x.source === 'exit-record');
  assert.equal(st, { id, state: 'failed', raw: 'FAILED', source: 'exit-record', exitCode: 5 });
  assert.equal(logLines(s.dir), ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  const parts = await s.b.query([`${id}_1`, `${id}_3`, `${id}_9`]);
  assert.is(parts.get(`${id}_1`)!.state, 'completed');
  assert.is(parts.get(`${id}_3`)!.exitCode, 5);
  assert.is(parts.get(`${id}_9`)!.state, 'unknown');
  const start = JSON.parse(readFileSync(join(s.dir, 'runs', 'j1', '2', 'qdo-start.json'), 'utf8')) as { job_id: string; array_index: string };
  assert.equal([start.job_id, start.array_index], [`${id}_2`, '2']);
});

test('dependencies: afterok waits for success, and is cancelled when it cannot be met', async () => {
  const s = setup(2);
  const a = await s.submit(STEP);
  const bad = await s.submit('#!/bin/sh\nexit 1\n');
  const b = await s.submit(STEP, {}, { dependencies: [{ type: 'afterok', ids: [a] }] });
  const c = await s.submit(STEP, {}, { dependencies: [{ type: 'afterok', ids: [bad] }] });
  await waitState(s.b, b, 'completed');
  assert.equal(logLines(s.dir), ['start j1', 'end j1', 'start j3', 'end j3']);
  const st = await waitState(s.b, c, 'cancelled');
  assert.is(st.reason, 'DependencyNeverSatisfied');
  await assert_rejects(() => s.submit(STEP, {}, { dependencies: [{ type: 'afterany', ids: ['77'] }] }), /local job 77, which does not exist/);
});

async function assert_rejects(fn: () => Promise<unknown>, re: RegExp): Promise<SchedulerError> {
  try {
    await fn();
  } catch (e) {
    assert.instance(e, SchedulerError);
    assert.match((e as Error).message, re);
    return e as SchedulerError;
  }
  throw new Error('expected a SchedulerError');
}

test('a shepherd killed with its job (kill -9, reboot) leaves a lost task: node-fail; the queue moves on', async () => {
  const s = setup(1);
  const a = await s.submit('#!/bin/sh\nsleep 60\n');
  const b = await s.submit(STEP);
  await waitState(s.b, a, 'running');
  await waitFile(join(s.dir, 'runs', 'j1', 'qdo-start.json'));
  const spid = Number(readFileSync(join(s.dir, 'spool', 'running', '0000000001'), 'utf8').trim().split(' ')[0]);
  const wpid = (await startRecord(join(s.dir, 'runs', 'j1', 'qdo-start.json'))).pid;
  process.kill(spid, 'SIGKILL');
  process.kill(-wpid, 'SIGKILL');
  const st = await waitState(s.b, a, 'node-fail');
  assert.equal(st, { id: a, state: 'node-fail', raw: 'LOST', source: 'exit-record', exitCode: null, reason: 'the shepherd process disappeared' });
  await waitState(s.b, b, 'completed');
});

test('a shepherd killed with -9 leaves its time-limit timer orphaned: the timer signals nothing when it fires', async () => {
  const s = setup(1);
  const a = await s.submit('#!/bin/sh\nsleep 60\n', { time: 2 });
  await waitState(s.b, a, 'running');
  await waitFile(join(s.dir, 'runs', 'j1', 'qdo-start.json'));
  const spool = join(s.dir, 'spool');
  const spid = Number(readFileSync(join(spool, 'running', '0000000001'), 'utf8').trim().split(' ')[0]);
  const wpid = (await startRecord(join(s.dir, 'runs', 'j1', 'qdo-start.json'))).pid;
  // The shepherd's own forks (its timer) show its command line.
  const forks = () =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d) && Number(d) !== spid)
      .filter((d) => {
        try {
          const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
          return argv.includes('shepherd') && argv.includes(spool);
        } catch {
          return false;
        }
      });
  try {
    assert.ok(forks().length > 0, 'the timer runs');
    process.kill(spid, 'SIGKILL');
    // The timer wakes at the limit (2 s), finds its shepherd gone and leaves.
    const t0 = Date.now();
    while (forks().length > 0) {
      if (Date.now() - t0 > 20000) throw new Error('the orphaned timer never ended');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(pidAlive(wpid), 'the job was not signalled by an orphaned timer');
    assert.not.ok(existsSync(join(spool, 'jobs', '1', 'tasks', 'main', 'timed-out')));
  } finally {
    try {
      process.kill(-wpid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

test('a running entry whose pid is another process now (shepherd killed, pid reused): cancel never signals it; the task ends', async () => {
  const s = setup(1);
  const a = await s.submit('#!/bin/sh\nsleep 60\n');
  await waitState(s.b, a, 'running');
  await waitFile(join(s.dir, 'runs', 'j1', 'qdo-start.json'));
  const entry = join(s.dir, 'spool', 'running', '0000000001');
  const spid = Number(readFileSync(entry, 'utf8').trim().split(' ')[0]);
  const wpid = (await startRecord(join(s.dir, 'runs', 'j1', 'qdo-start.json'))).pid;
  // Someone else's program, given the pid the dead shepherd had (as the kernel may).
  const stranger = spawn('sleep', ['120'], { detached: true, stdio: 'ignore' });
  let signalled: NodeJS.Signals | null = null;
  stranger.on('exit', (_c, sig) => (signalled = sig));
  try {
    process.kill(spid, 'SIGKILL');
    process.kill(-wpid, 'SIGKILL');
    writeFileSync(entry, `${stranger.pid} 1\n`);
    assert.not.ok(isShepherd(stranger.pid!, join(s.dir, 'spool'), 1, 'main'));
    await s.b.cancel([a]);
    const st = await waitState(s.b, a, (x) => x.state !== 'running' && x.state !== 'pending');
    assert.is(st.state, 'cancelled');
    assert.is(signalled, null, 'the stranger was not signalled');
    assert.ok(pidAlive(stranger.pid!));
  } finally {
    stranger.kill('SIGKILL');
  }
});

test('unknown ids: query says unknown, cancel/hold/release refuse', async () => {
  const s = setup();
  assert.equal((await s.b.query(['42', 'nope'])).get('42'), { id: '42', state: 'unknown', raw: '', source: 'none' });
  assert.is((await s.b.query(['nope'])).get('nope')!.state, 'unknown');
  const e = await assert_rejects(() => s.b.cancel(['42']), /no such local job: 42/);
  assert.is(e.code, 'scheduler-unknown-job');
  await assert_rejects(() => s.b.hold(['42']), /no such local job/);
  await assert_rejects(() => s.b.release(['42']), /no such local job/);
});

test('findByTag finds the job submitted with that tag', async () => {
  const s = setup();
  const text = s.b.render({ jobName: 't', resources: {}, script: 'true\n', runDir: join(s.dir, 'runs', 't'), submitDir: s.dir, env: {}, tag: 'manifest-abc' });
  spawnSync('mkdir', ['-p', s.dir]);
  writeFileSync(join(s.dir, 't.sh'), text);
  assert.is(await s.b.findByTag('manifest-abc'), null);
  const id = await s.b.submit(join(s.dir, 't.sh'), { cwd: s.dir });
  assert.is(await s.b.findByTag('manifest-abc'), id);
  assert.is(await s.b.findByTag('other'), null);
  await waitState(s.b, id, 'completed');
});

test('jobs finish and queued jobs start after the submitting process has exited', async () => {
  const s = setup(1);
  spawnSync('mkdir', ['-p', s.dir]);
  const files: string[] = [];
  for (const name of ['x1', 'x2']) {
    const text = s.b.render({ jobName: name, resources: {}, script: STEP, runDir: join(s.dir, 'runs', name), submitDir: s.dir, env: { QDO_PARAM_NAME: name, LOG: join(s.dir, 'log') } });
    files.push(join(s.dir, `${name}.sh`));
    writeFileSync(files.at(-1)!, text);
  }
  const localJs = fileURLToPath(new URL('../../src/scheduler/local.js', import.meta.url));
  const program = `const { LocalBackend } = await import(${JSON.stringify(localJs)});
const b = new LocalBackend({ spoolDir: ${JSON.stringify(join(s.dir, 'spool'))}, cpus: 1 });
for (const f of ${JSON.stringify(files)}) console.log(await b.submit(f, { cwd: ${JSON.stringify(s.dir)} }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 20000 });
  assert.is(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n'), ['1', '2']);
  await waitState(s.b, '2', 'completed');
  assert.equal(logLines(s.dir), ['start x1', 'end x1', 'start x2', 'end x2']);
});

test('render: #!/bin/bash, directives, then the wrapper with local job variables', () => {
  const s = setup();
  const text = s.b.render({ jobName: 'r', resources: { cpus: 3, mem: 1024 }, script: 'true', runDir: '/runs/r', submitDir: '/w', env: {} });
  const lines = text.split('\n');
  assert.is(lines[0], '#!/bin/bash');
  assert.ok(lines.includes('#QDO_LOCAL slots=3'));
  assert.ok(lines.some((l) => l.startsWith('# Not enforced by the local backend') && l.includes('mem=1G')));
  assert.ok(text.includes('export QDO_JOB_ID="${QDO_LOCAL_JOB_ID:-}"'));
  assert.ok(text.includes('export QDO_NCPUS="3"'));
  assert.throws(() => s.b.render({ jobName: 'r', resources: { nodes: 4 }, script: 'true', runDir: '/r', submitDir: '/w', env: {} }), /one machine/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
