// qdo doctor (man/qdo-doctor.1): each check ok, warn or fail with its fix. The scheduler's
// answers are parsed from captured outputs and tried with a fake runner; the allocation
// checks run on real folders with an injected clock; one suite asks the real Slurm.
import { test, suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, qdo, removeDir, tempDir, REPO } from '../helpers/cli.js';
import { parseQstatFull, parseScontrolConfig, parseSinfoPartitions, schedulerFacts } from '../../src/scheduler/facts.js';
import type { Runner } from '../../src/scheduler/runner.js';
import { SchedulerError } from '../../src/errors.js';
import { slurmSuite } from '../helpers/slurm.js';

const FIX = join(REPO, 'test/fixtures/slurm');
const read = (f: string) => readFileSync(join(FIX, f), 'utf8');

test('parsers: sinfo partitions, scontrol show config, qstat -Bf / -Qf', () => {
  assert.equal(parseSinfoPartitions(read('doctor/sinfo_partitions_22.05.8.txt')), [
    { name: 'debug', default: true, available: 'up', timeLimit: 'infinite', nodes: 1, cpus: '8', memoryMb: '16000' },
    { name: 'batch', default: false, available: 'up', timeLimit: 'infinite', nodes: 1, cpus: '8', memoryMb: '16000' },
  ]);
  const conf = parseScontrolConfig(read('doctor/scontrol_show_config_22.05.8_dbd.txt'));
  assert.is(conf.get('AccountingStorageType'), 'accounting_storage/slurmdbd');
  assert.is(conf.get('ClusterName'), 'qdo');
  // qstat -Bf / -Qf in the format PBS documents (attribute = value, tab-continued lines).
  const q = parseQstatFull('Server: pbs01\n    server_state = Active\n    job_history_enable = True\n\nQueue: workq\n    queue_type = Execution\n    resources_max.walltime = 48:00:00\n    enabled = True\n\nQueue: long\n    resources_max.walltime = 168:00:0\n\t0\n');
  assert.is(q.length, 3);
  assert.is(q[0]!.attrs.get('job_history_enable'), 'True');
  assert.is(q[1]!.attrs.get('resources_max.walltime'), '48:00:00');
  assert.is(q[2]!.attrs.get('resources_max.walltime'), '168:00:00');
});

/** A runner answering from a table of argv[0..1] → stdout or an error message. */
function fakeRunner(answers: Record<string, string | Error>): Runner {
  return async (argv) => {
    const a = answers[argv.slice(0, 2).join(' ')] ?? answers[argv[0]!];
    if (a === undefined) throw new SchedulerError('scheduler-command-missing', `scheduler command not found: ${argv[0]}`);
    if (a instanceof Error) throw a;
    return { stdout: a, stderr: '', exitCode: 0, attempts: 1 };
  };
}

test('Slurm: up with accounting; accounting disabled; slurmdbd down; controller down', async () => {
  const up = { 'scontrol ping': read('doctor/scontrol_ping_up_22.05.8.txt'), 'scontrol show': read('doctor/scontrol_show_config_22.05.8_dbd.txt'), sacct: '', sinfo: read('doctor/sinfo_partitions_22.05.8.txt') };
  const ok = await schedulerFacts('slurm', fakeRunner(up));
  assert.equal(ok.map((f) => [f.check, f.status]), [['responds', 'ok'], ['accounting', 'ok'], ['limits', 'ok']]);
  assert.match(ok[2]!.message, /debug \(default\): time infinite/);
  const fail = (file: string) => new SchedulerError('scheduler-command-failed', `\`sacct\` exited with 1: ${read(file).trim()}`);
  const off = await schedulerFacts('slurm', fakeRunner({ ...up, sacct: fail('sacct-disabled.stderr') }));
  assert.is(off[1]!.status, 'warn');
  assert.match(off[1]!.fix!, /exit record/);
  const down = await schedulerFacts('slurm', fakeRunner({ ...up, sacct: fail('sacct-db-down.stderr') }));
  assert.is(down[1]!.status, 'fail');
  const dead = await schedulerFacts('slurm', fakeRunner({ 'scontrol ping': new SchedulerError('scheduler-timeout', '`scontrol ping` did not finish within 10 s and was killed') }));
  assert.equal(dead.map((f) => [f.check, f.status]), [['responds', 'fail']]);
  assert.match(dead[0]!.fix!, /slurmctld/);
});

test('PBS Pro and Torque: history / keep_completed, queue limits', async () => {
  const pbs = await schedulerFacts('pbs', fakeRunner({ 'qstat -Bf': 'Server: pbs01\n    server_state = Active\n', 'qstat -Qf': 'Queue: workq\n    resources_max.walltime = 24:00:00\n' }));
  assert.equal(pbs.map((f) => [f.check, f.status]), [['responds', 'ok'], ['accounting', 'warn'], ['limits', 'ok']]);
  assert.match(pbs[2]!.message, /workq: walltime 24:00:00/);
  const torque = await schedulerFacts('torque', fakeRunner({ 'qstat -Bf': 'Server: t1\n    keep_completed = 300\n', 'qstat -Qf': '' }));
  assert.equal(torque.map((f) => [f.check, f.status]), [['responds', 'ok'], ['accounting', 'ok'], ['limits', 'ok']]);
});

const local = suite('doctor on the local backend');
let home = '';
local.before.each(async () => {
  home = tempDir('qdo-doctor-');
  await qdo(['alloc', 'list'], { home }); // the home allocation
});
local.after.each(() => {
  chmodSync(home, 0o755);
  removeDir(home);
});

interface Doc {
  ok: boolean;
  checks: { check: string; subject: string | null; status: string; message: string; fix: string | null }[];
}
async function doctor(env: Record<string, string> = {}, now?: Date) {
  const r = await qdo(['doctor', '--json'], { home, env: { QDO_SCHEDULER: 'local', ...env }, now: now ?? 'real' });
  return { code: r.code, doc: JSON.parse(r.stdout) as Doc };
}

local('all well: every check ok, exit 0, one line each in text', async () => {
  const { code, doc } = await doctor();
  assert.is(code, 0);
  assert.ok(doc.ok);
  assert.equal([...new Set(doc.checks.map((c) => c.check))], ['node', 'process', 'scheduler', 'cluster', 'responds', 'accounting', 'limits', 'allocation', 'permissions', 'clock', 'locks']);
  assert.ok(doc.checks.every((c) => c.status === 'ok' && c.fix === null));
  const t = await qdo(['doctor'], { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' });
  assert.match(t.stdout, /^ok {4}node {9}qdo \d+\.\d+\.\d+ on Node\.js v\d+/);
  assert.match(t.stdout, /\nok {4}clock {8}.*skew/);
});

local('process: a low ulimit -n and a ulimit -v too low for WebAssembly are warnings that say what qdo does instead', async () => {
  const run = (limits: string) => {
    const r = spawnSync('bash', ['-c', `${limits} && exec "$0" "$@"`, process.execPath, BIN, 'doctor', '--json'], { env: { PATH: process.env.PATH, QDO_HOME: home, QDO_SCHEDULER: 'local' }, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Doc).checks.find((c) => c.check === 'process')! as Doc['checks'][number] & { data: { open_files: number | null; address_space_left: number | null } };
  };
  const fine = run('ulimit -n 4096');
  assert.is(fine.status, 'ok');
  assert.is(fine.data.open_files, 4096);
  const low = run('ulimit -n 256 && ulimit -v 6000000');
  assert.is(low.status, 'warn');
  assert.is(low.data.open_files, 256);
  assert.ok(low.data.address_space_left !== null && low.data.address_space_left < 6e9);
  assert.match(low.message, /ulimit -n 256: sweeps and batch changes write in groups of \d+ jobs/);
  assert.match(low.message, /no WebAssembly/);
  assert.match(low.fix ?? '', /ulimit -n 4096.*ulimit -v unlimited/);
});

local('a home allocation others may write: qdo will not use it; doctor says so and how to fix it, exit 1', async () => {
  chmodSync(join(home, '.qdo'), 0o777);
  const { code, doc } = await doctor();
  chmodSync(join(home, '.qdo'), 0o755);
  assert.is(code, 1);
  assert.not.ok(doc.ok);
  const p = doc.checks.find((c) => c.check === 'permissions')!;
  assert.equal([p.subject, p.status], [home, 'fail']);
  assert.match(p.message, /writable by others/);
  assert.match(p.fix!, /chmod go-w/);
});

local('an unreachable allocation, a lock whose holder is gone', async () => {
  writeFileSync(join(home, '.qdo/allocations'), '/nonexistent/scratch\n');
  mkdirSync(join(home, '.qdo/refs/p.refs.lock'), { recursive: true });
  writeFileSync(join(home, '.qdo/refs/p.refs.lock/holder'), JSON.stringify({ host: 'testhost', pid: 999999, start: null, nonce: 'ab12cd34' }) + '\n');
  const { code, doc } = await doctor();
  assert.is(code, 0, 'warnings only: exit 0');
  const by = (c: string) => doc.checks.filter((x) => x.check === c);
  assert.equal(by('allocation').map((c) => [c.subject, c.status]), [[home, 'ok'], ['/nonexistent/scratch', 'warn']]);
  assert.match(by('allocation')[1]!.fix!, /mount it, or remove the line/);
  assert.is(by('permissions')[0]!.status, 'ok');
  const lock = by('locks')[0]!;
  assert.is(lock.status, 'warn');
  assert.match(lock.message, /^refs\/p\.refs held by testhost pid 999999, refreshed \d+ s ago; that process is gone$/);
  assert.match(lock.fix!, /qdo fsck --repair/);
});

local('a live holder is listed as ok, with who holds it', async () => {
  mkdirSync(join(home, '.qdo/refs/p.refs.lock'), { recursive: true });
  writeFileSync(join(home, '.qdo/refs/p.refs.lock/holder'), JSON.stringify({ host: 'testhost', pid: process.pid, start: '2026-11-21T09:00:00Z', nonce: 'x' }) + '\n');
  const { doc } = await doctor();
  const lock = doc.checks.find((c) => c.check === 'locks')!;
  assert.is(lock.status, 'ok');
  assert.match(lock.message, new RegExp(`held by testhost pid ${process.pid} \\(started 2026-11-21T09:00:00Z\\)`));
});

local('a holder on another host is stale for doctor only past 40 s (10 s + 30 s of clock skew allowed), by the later of folder and holder file', async () => {
  const lock = join(home, '.qdo/refs/p.refs.lock');
  mkdirSync(lock, { recursive: true });
  writeFileSync(join(lock, 'holder'), JSON.stringify({ host: 'elsewhere', pid: 4242, start: null, nonce: 'ab12cd34' }) + '\n');
  const ago = (s: number) => new Date(Date.now() - s * 1000);
  const status = async () => (await doctor()).doc.checks.find((c) => c.check === 'locks')!.status;
  utimesSync(lock, ago(25), ago(25));
  utimesSync(join(lock, 'holder'), ago(25), ago(25));
  assert.is(await status(), 'ok', '25 s: a holder whose clock is behind');
  utimesSync(lock, ago(3600), ago(3600));
  assert.is(await status(), 'ok', 'the holder file refreshed, the folder not');
  utimesSync(join(lock, 'holder'), ago(60), ago(60));
  assert.is(await status(), 'warn');
});

local('clock skew: a file system 60 s off this host fails, 5 s off warns', async () => {
  const skewed = async (s: number) => (await doctor({}, new Date(Date.now() - s * 1000))).doc.checks.find((c) => c.check === 'clock')!;
  const far = await skewed(60);
  assert.is(far.status, 'fail');
  assert.match(far.message, /the file system's clock is \d+\.\d s ahead of this host's/);
  assert.match(far.fix!, /NTP|chrony/);
  assert.is((await skewed(5)).status, 'warn');
  // The probe leaves nothing behind.
  const { readdirSync } = await import('node:fs');
  assert.equal(readdirSync(join(home, '.qdo/cache')).filter((f) => f.includes('clock')), []);
});

local('a scheduler that is not here fails with what to do; exit 1', async () => {
  const r = await qdo(['doctor', '--json'], { home, env: { QDO_SCHEDULER: 'slurm', PATH: '/nonexistent' }, now: 'real' });
  assert.is(r.code, 1);
  const doc = JSON.parse(r.stdout) as Doc;
  assert.not.ok(doc.ok);
  const s = doc.checks.find((c) => c.check === 'scheduler')!;
  assert.is(s.status, 'fail');
  assert.match(s.fix!, /sbatch is not on PATH/);
});

local.run();

await slurmSuite('doctor on the real Slurm', (t) => {
  t('the controller answers, accounting and partitions are read', async () => {
    const h = tempDir('qdo-doctor-slurm-');
    try {
      const r = await qdo(['doctor', '--json'], { home: h, env: { QDO_SCHEDULER: 'slurm' }, now: 'real' });
      const doc = JSON.parse(r.stdout) as Doc;
      const by = (c: string) => doc.checks.find((x) => x.check === c)!;
      assert.is(by('responds').status, 'ok', by('responds').message);
      assert.match(by('responds').message, /UP/);
      assert.ok(['ok', 'warn'].includes(by('accounting').status));
      assert.match(by('limits').message, /time /);
      assert.match(by('cluster').message, /\S/);
    } finally {
      removeDir(h);
    }
  });
});

test.run();
