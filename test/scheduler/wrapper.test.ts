// The wrapper is bash: these tests render it and really run it, with the environment a
// scheduler would give, then read the records and logs it leaves (spec/scheduler-common.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/errors.js';
import { heredocDelimiter, renderWrapper, scriptCommand, shellQuote, SLURM_JOB_VARS, PBS_JOB_VARS, TORQUE_JOB_VARS, type JobVarMap } from '../../src/scheduler/wrapper.js';
import { chmodSync, mkdirSync } from 'node:fs';
import type { RenderSpec } from '../../src/scheduler/types.js';

const root = mkdtempSync(join(tmpdir(), 'qdo-wrapper-'));
let n = 0;

function spec(over: Partial<RenderSpec> & { script: string }): RenderSpec {
  const dir = join(root, `t${++n}`);
  return { jobName: 'job', resources: {}, runDir: join(dir, 'run'), submitDir: root, env: {}, ...over };
}

function writeWrapped(s: RenderSpec, vars: JobVarMap = SLURM_JOB_VARS): string {
  const file = join(root, `script-${++n}.sh`);
  writeFileSync(file, `#!/bin/bash\n#SBATCH --job-name=x\n${renderWrapper(s, vars)}`);
  return file;
}

function run(s: RenderSpec, env: Record<string, string> = {}, vars?: JobVarMap): { status: number | null; out: string; err: string } {
  const file = writeWrapped(s, vars);
  const r = spawnSync('bash', [file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SLURM_JOB_ID: '4242', ...env }, encoding: 'utf8', timeout: 20000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const read = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8');
const json = (dir: string, f: string): Record<string, unknown> => JSON.parse(read(dir, f)) as Record<string, unknown>;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

async function waitFor(path: string, ms = 10000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('records, logs and exit code 3 propagate', () => {
  const s = spec({ script: '#!/bin/sh\necho out-line\necho err-line >&2\nexit 3\n' });
  const r = run(s);
  assert.is(r.status, 3);
  assert.is(read(s.runDir, 'stdout'), 'out-line\n');
  assert.is(read(s.runDir, 'stderr'), 'err-line\n');
  const start = json(s.runDir, 'qdo-start.json');
  assert.equal(Object.keys(start), ['host', 'time', 'job_id', 'array_index', 'pid', 'attempt']);
  assert.is(start.attempt, 1);
  assert.is(start.job_id, '4242');
  assert.is(start.array_index, null);
  assert.type(start.pid, 'number');
  assert.type(start.host, 'string');
  assert.match(start.time as string, ISO);
  const end = json(s.runDir, 'qdo-end.json');
  assert.equal(Object.keys(end), ['exit_code', 'signal', 'signals', 'time', 'host', 'attempt']);
  assert.is(end.exit_code, 3);
  assert.is(end.signal, null);
  assert.equal(end.signals, []);
  assert.match(end.time as string, ISO);
  assert.is(end.host, start.host);
  // no temp files left behind
  assert.equal(
    readdirSync(s.runDir).filter((f) => f.startsWith('.')),
    [],
  );
});

test('exit 0 and the QDO_* variables the script sees', () => {
  const s = spec({
    jobName: 'my job',
    script: '#!/bin/bash\nfor v in QDO_JOB_ID QDO_JOB_NAME QDO_ARRAY_INDEX QDO_NCPUS QDO_SUBMIT_DIR QDO_RUN_DIR QDO_TASK_DIR; do echo "$v=${!v}"; done\necho "pwd=$PWD"\ncat "$QDO_NODEFILE"\n',
    submitDir: root,
  });
  const r = run(s, { SLURM_CPUS_PER_TASK: '6' });
  assert.is(r.status, 0);
  const host = json(s.runDir, 'qdo-start.json').host as string;
  assert.is(
    read(s.runDir, 'stdout'),
    [
      'QDO_JOB_ID=4242',
      'QDO_JOB_NAME=my job',
      'QDO_ARRAY_INDEX=',
      'QDO_NCPUS=6',
      `QDO_SUBMIT_DIR=${root}`,
      `QDO_RUN_DIR=${s.runDir}`,
      `QDO_TASK_DIR=${s.runDir}`,
      `pwd=${root}`,
      host,
      '',
    ].join('\n'),
  );
  assert.is(json(s.runDir, 'qdo-end.json').exit_code, 0);
});

test('PBS variables: node file given by the scheduler, submit dir from PBS_O_WORKDIR', () => {
  const nodes = join(root, 'pbs-nodes');
  writeFileSync(nodes, 'n1\nn1\nn2\n');
  const s = spec({ script: 'echo "$QDO_JOB_ID $QDO_NCPUS $QDO_NODEFILE $PWD"\n', submitDir: '' });
  const r = run(s, { PBS_JOBID: '17.pbs01', NCPUS: '8', PBS_NODEFILE: nodes, PBS_O_WORKDIR: '/tmp' }, PBS_JOB_VARS);
  assert.is(r.status, 0);
  assert.is(read(s.runDir, 'stdout'), `17.pbs01 8 ${nodes} /tmp\n`);
});

test('env values with spaces, quotes, $, backslashes and newlines arrive verbatim', () => {
  const env = {
    QDO_PARAM_A: 'two words',
    QDO_PARAM_B: `it's "quoted"`,
    QDO_PARAM_C: '$HOME `id` $(id) \\n \\',
    QDO_PARAM_D: 'line1\nline2',
    PLAIN: 'x',
    EMPTY: '',
  };
  const s = spec({ script: '#!/bin/sh\nfor v in QDO_PARAM_A QDO_PARAM_B QDO_PARAM_C QDO_PARAM_D PLAIN EMPTY; do printf "%s=[%s]\\n" "$v" "$(printenv $v)"; done\n', env });
  const r = run(s);
  assert.is(r.status, 0);
  assert.is(
    read(s.runDir, 'stdout'),
    Object.entries({ QDO_PARAM_A: env.QDO_PARAM_A, QDO_PARAM_B: env.QDO_PARAM_B, QDO_PARAM_C: env.QDO_PARAM_C, QDO_PARAM_D: env.QDO_PARAM_D, PLAIN: 'x', EMPTY: '' })
      .map(([k, v]) => `${k}=[${v}]\n`)
      .join(''),
  );
});

test('a script without #! runs under bash; one with #! runs under its interpreter', () => {
  const s1 = spec({ script: 'if [[ -n "$BASH_VERSION" ]]; then echo bash; fi\n' });
  assert.is(run(s1).status, 0);
  assert.is(read(s1.runDir, 'stdout'), 'bash\n');
  const s2 = spec({ script: '#!/usr/bin/env python3\nimport sys, os\nprint("py", os.environ["QDO_JOB_ID"])\nsys.exit(4)\n' });
  assert.is(run(s2).status, 4);
  assert.is(read(s2.runDir, 'stdout'), 'py 4242\n');
  assert.is(json(s2.runDir, 'qdo-end.json').exit_code, 4);
});

test('script text containing the heredoc delimiter and shell syntax is kept byte for byte', () => {
  const script = "#!/bin/sh\ncat <<'QDO_EOF'\n$HOME `x` \\ 'q'\nQDO_EOF\nQDO_EOF_1\n\techo tab\n";
  assert.is(heredocDelimiter(script), 'QDO_EOF_2');
  const s = spec({ script });
  assert.is(run(s).status, 0);
  assert.is(read(s.runDir, 'qdo-script'), script);
  assert.is(read(s.runDir, 'stdout'), "$HOME `x` \\ 'q'\ntab\n");
});

test('prologue, script, epilogue run in order; prologue exports reach the script', () => {
  const s = spec({
    script: '#!/bin/sh\necho "script sees $FROM_PROLOGUE"\nexit 7\n',
    prologue: 'export FROM_PROLOGUE=yes\necho prologue',
    epilogue: 'echo "epilogue after $QDO_EXIT_CODE"\nexit 9',
  });
  const r = run(s);
  assert.is(r.status, 7, 'the script status wins over the epilogue exit');
  assert.is(read(s.runDir, 'stdout'), 'prologue\nscript sees yes\nepilogue after 7\n');
  assert.match(read(s.runDir, 'stderr'), /qdo: the epilogue failed with status 9/);
  assert.is(json(s.runDir, 'qdo-end.json').exit_code, 7);
});

test('a failing prologue skips the script and gives its status', () => {
  const s = spec({ script: '#!/bin/sh\necho script ran\n', prologue: 'echo pro; false', epilogue: 'echo "epi $QDO_EXIT_CODE"' });
  const r = run(s);
  assert.is(r.status, 1);
  assert.is(read(s.runDir, 'stdout'), 'pro\nepi 1\n');
  assert.match(read(s.runDir, 'stderr'), /the prologue failed with status 1; the script was not run/);
  assert.is(json(s.runDir, 'qdo-end.json').exit_code, 1);
});

test('an exit inside the prologue still leaves an end record', () => {
  const s = spec({ script: 'echo no\n', prologue: 'exit 12' });
  assert.is(run(s).status, 12);
  assert.is(json(s.runDir, 'qdo-end.json').exit_code, 12);
  assert.is(read(s.runDir, 'stdout'), '');
});

test('array tasks use <run>/<index>; missing index is an error', () => {
  const s = spec({ script: 'echo "task $QDO_ARRAY_INDEX in $QDO_TASK_DIR"\n', resources: { array: '1-3' } });
  assert.is(run(s, { SLURM_ARRAY_TASK_ID: '2' }).status, 0);
  assert.is(run(s, { SLURM_ARRAY_TASK_ID: '3' }).status, 0);
  const t2 = join(s.runDir, '2');
  assert.is(read(t2, 'stdout'), `task 2 in ${t2}\n`);
  assert.is(json(t2, 'qdo-start.json').array_index, '2');
  assert.is(json(t2, 'qdo-end.json').exit_code, 0);
  assert.ok(existsSync(join(s.runDir, '3', 'qdo-end.json')));
  assert.not.ok(existsSync(join(s.runDir, 'qdo-start.json')));
  const r = run(s);
  assert.is(r.status, 2);
  assert.match(r.err, /array job but the scheduler gave no array index/);
});

test('works when bash reads the wrapper from stdin (PBS, TORQUE), seekable or a pipe', () => {
  for (const how of ['file', 'pipe'] as const) {
    const s = spec({
      script: '#!/bin/sh\nread line || echo "script stdin is empty"\necho after\nexit 4\n',
      prologue: 'read x && echo "prologue read $x"; echo prologue',
      epilogue: 'cat; echo "epilogue $QDO_EXIT_CODE"',
    });
    const file = writeWrapped(s);
    const r =
      how === 'file'
        ? spawnSync('bash', ['-c', `exec bash < '${file}'`], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 20000 })
        : spawnSync('bash', ['-c', `cat '${file}' | bash`], { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 20000 });
    assert.is(r.status, 4, `${how}: ${r.stderr}`);
    assert.is(read(s.runDir, 'stdout'), 'prologue\nscript stdin is empty\nafter\nepilogue 4\n', how);
    assert.is(json(s.runDir, 'qdo-end.json').exit_code, 4);
  }
});

test('a rerun removes the previous end record before starting', async () => {
  const s = spec({ script: 'sleep 0.5\n' });
  const file = writeWrapped(s);
  spawnSync('mkdir', ['-p', s.runDir]);
  writeFileSync(join(s.runDir, 'qdo-end.json'), '{"exit_code":1}\n');
  const child = spawn('bash', [file], { env: { PATH: process.env.PATH }, stdio: 'ignore' });
  await waitFor(join(s.runDir, 'qdo-start.json'));
  assert.not.ok(existsSync(join(s.runDir, 'qdo-end.json')));
  await new Promise((r) => child.on('exit', r));
  assert.is(json(s.runDir, 'qdo-end.json').exit_code, 0);
});

async function runAndSignal(s: RenderSpec, signal: NodeJS.Signals, ready: string): Promise<number | null> {
  const file = writeWrapped(s);
  const child = spawn('bash', [file], { env: { PATH: process.env.PATH, SLURM_JOB_ID: '9' }, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await waitFor(ready);
  child.kill(signal);
  return exited;
}

test('TERM mid-run is forwarded and recorded; exit status 143', async () => {
  const s = spec({ script: '#!/bin/sh\ntouch "$QDO_TASK_DIR/ready"\nexec sleep 30\n' });
  const t0 = Date.now();
  const code = await runAndSignal(s, 'SIGTERM', join(s.runDir, 'ready'));
  assert.ok(Date.now() - t0 < 10000, 'the sleep was stopped');
  assert.is(code, 143);
  const end = json(s.runDir, 'qdo-end.json');
  assert.is(end.exit_code, 143);
  assert.is(end.signal, 'TERM');
  assert.equal(end.signals, ['TERM']);
});

test('a script that handles TERM gets time to clean up; its status is kept', async () => {
  const s = spec({
    script: "#!/bin/bash\ntrap 'echo cleaning; exit 5' TERM\ntouch \"$QDO_TASK_DIR/ready\"\nwhile :; do sleep 0.05; done\n",
    epilogue: 'echo "epilogue $QDO_EXIT_CODE $QDO_SIGNAL"',
  });
  const code = await runAndSignal(s, 'SIGTERM', join(s.runDir, 'ready'));
  assert.is(code, 5);
  assert.is(read(s.runDir, 'stdout'), 'cleaning\nepilogue 5 TERM\n');
  const end = json(s.runDir, 'qdo-end.json');
  assert.is(end.exit_code, 5);
  assert.is(end.signal, 'TERM');
});

test('INT reaches a background script (not ignored)', async () => {
  const s = spec({ script: "#!/bin/bash\ntrap 'echo got INT; exit 6' INT\ntouch \"$QDO_TASK_DIR/ready\"\nwhile :; do sleep 0.05; done\n" });
  const code = await runAndSignal(s, 'SIGINT', join(s.runDir, 'ready'));
  assert.is(code, 6);
  assert.is(read(s.runDir, 'stdout'), 'got INT\n');
  assert.is(json(s.runDir, 'qdo-end.json').signal, 'INT');
});

test('USR1 is forwarded but is not a stop: signal stays null, signals lists it', async () => {
  const s = spec({
    script: "#!/bin/bash\nstop=0\ntrap 'echo checkpoint; stop=1' USR1\ntouch \"$QDO_TASK_DIR/ready\"\nwhile [ $stop = 0 ]; do sleep 0.05; done\necho done\n",
  });
  const code = await runAndSignal(s, 'SIGUSR1', join(s.runDir, 'ready'));
  assert.is(code, 0);
  assert.is(read(s.runDir, 'stdout'), 'checkpoint\ndone\n');
  const end = json(s.runDir, 'qdo-end.json');
  assert.is(end.exit_code, 0);
  assert.is(end.signal, null);
  assert.equal(end.signals, ['USR1']);
});

test('stopped before the script starts, with more TERMs coming (scancel signals every process): 143, never 0', () => {
  // The prologue (run in the wrapper's shell) stops the wrapper and leaves a process that
  // sends its group 300 more TERMs: whatever the wrapper does after the stop, including
  // working out the status, is shot at. A subshell there died and left status 0 (CI: a
  // pool run recorded completed that never ran).
  for (let i = 0; i < 5; i++) {
    const s = spec({
      script: 'echo ran\n',
      prologue: `( trap '' TERM; i=0; while [ $i -lt 300 ] && kill -0 $$ 2>/dev/null; do kill -TERM -- -$$ 2>/dev/null; i=$((i + 1)); done ) &\nkill -TERM $$\n`,
    });
    const r = spawnSync('setsid', ['bash', writeWrapped(s)], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SLURM_JOB_ID: '1' }, encoding: 'utf8', timeout: 20000 });
    assert.is(r.status, 143, `trial ${i}: ${r.stderr}`);
    assert.is(read(s.runDir, 'stdout'), '', 'the script did not run');
    const end = json(s.runDir, 'qdo-end.json');
    assert.is(end.exit_code, 143);
    assert.is(end.signal, 'TERM');
  }
});

test('a wrapper killed hard after TERM leaves a provisional end record (exit_code null)', async () => {
  const s = spec({ script: "#!/bin/bash\ntrap '' TERM\ntouch \"$QDO_TASK_DIR/ready\"\nsleep 30\n" });
  const file = writeWrapped(s);
  const child = spawn('bash', [file], { env: { PATH: process.env.PATH }, stdio: 'ignore', detached: true });
  const exited = new Promise((r) => child.on('exit', r));
  await waitFor(join(s.runDir, 'ready'));
  child.kill('SIGTERM');
  await waitFor(join(s.runDir, 'qdo-end.json'));
  process.kill(-child.pid!, 'SIGKILL'); // the whole group, as a scheduler would
  await exited;
  const end = json(s.runDir, 'qdo-end.json');
  assert.is(end.exit_code, null);
  assert.is(end.signal, 'TERM');
});

test('a rerun keeps the earlier attempt: numbered records and logs, attempt 2, a rerun marker', () => {
  const s = spec({ script: 'echo "run $QDO_JOB_ID"\necho "err $QDO_JOB_ID" >&2\nexit $(( QDO_JOB_ID == 1 ? 4 : 0 ))\n' });
  const file = writeWrapped(s);
  const go = (id: string) => spawnSync('bash', [file], { env: { PATH: process.env.PATH, SLURM_JOB_ID: id }, encoding: 'utf8', timeout: 20000 }).status;
  assert.is(go('1'), 4);
  assert.not.ok(existsSync(join(s.runDir, 'qdo-rerun.json')), 'no marker for a first attempt');
  assert.is(go('2'), 0);
  assert.equal([json(s.runDir, 'qdo-start.1.json').attempt, json(s.runDir, 'qdo-end.1.json').exit_code], [1, 4]);
  assert.equal([json(s.runDir, 'qdo-start.json').attempt, json(s.runDir, 'qdo-end.json').exit_code, json(s.runDir, 'qdo-end.json').attempt], [2, 0, 2]);
  assert.equal([read(s.runDir, 'stdout.1'), read(s.runDir, 'stderr.1'), read(s.runDir, 'stdout'), read(s.runDir, 'stderr')], ['run 1\n', 'err 1\n', 'run 2\n', 'err 2\n']);
  const mark = json(s.runDir, 'qdo-rerun.json');
  assert.equal([mark.task, mark.attempt], [null, 2]);
  assert.is(go('3'), 0);
  assert.equal([json(s.runDir, 'qdo-start.2.json').attempt, json(s.runDir, 'qdo-start.json').attempt, json(s.runDir, 'qdo-rerun.json').attempt], [2, 3, 3]);
  assert.is(read(s.runDir, 'stdout.1'), 'run 1\n', 'attempt 1 untouched by attempt 3');
  assert.equal(readdirSync(s.runDir).filter((f) => f.startsWith('.')), [], 'no temp files left');
});

test('an array task started again keeps its attempts in its own folder; the marker in the run folder names it', () => {
  const s = spec({ script: 'echo "task $QDO_ARRAY_INDEX"\n', resources: { array: '0-3' } });
  const file = writeWrapped(s);
  for (let i = 0; i < 2; i++) assert.is(spawnSync('bash', [file], { env: { PATH: process.env.PATH, SLURM_ARRAY_TASK_ID: '3' } }).status, 0);
  const t3 = join(s.runDir, '3');
  assert.equal([json(t3, 'qdo-start.1.json').attempt, json(t3, 'qdo-start.json').attempt], [1, 2]);
  assert.equal([json(s.runDir, 'qdo-rerun.json').task, json(s.runDir, 'qdo-rerun.json').attempt], ['3', 2]);
});

test('the common path starts no process but the script (no date, mv, mkdir, cat, chmod, hostname, scontrol)', () => {
  // With nothing on PATH, any external command would fail with "command not found".
  const empty = join(root, 'empty-path');
  const BASH = spawnSync('bash', ['-c', 'printf %s "$BASH"'], { encoding: 'utf8' }).stdout;
  mkdirSync(empty, { recursive: true });
  for (const vars of [SLURM_JOB_VARS, TORQUE_JOB_VARS]) {
    const s = spec({ script: '#!/bin/bash\necho "hosts: $(<"$QDO_NODEFILE")"\n', prologue: 'echo pro', epilogue: 'echo epi' });
    mkdirSync(s.runDir, { recursive: true }); // qdo creates the run folder before submitting
    const r = spawnSync(BASH, [writeWrapped(s, vars)], { env: { PATH: empty, SLURM_JOB_ID: '7', SLURM_JOB_NODELIST: 'n[1-2]' }, encoding: 'utf8', timeout: 20000 });
    assert.is(r.status, 0, r.stderr);
    assert.is(read(s.runDir, 'stderr'), '');
    assert.is(read(s.runDir, 'stdout'), 'pro\nhosts: n1\nn2\nepi\n');
    assert.is(json(s.runDir, 'qdo-end.json').exit_code, 0);
    assert.match(json(s.runDir, 'qdo-start.json').time as string, ISO);
  }
});

test('host lists are expanded by the wrapper; only a two-group name asks the scheduler tool', () => {
  const bin = join(root, 'fake-bin');
  mkdirSync(bin, { recursive: true });
  const calls = join(root, 'scontrol-calls');
  writeFileSync(join(bin, 'scontrol'), `#!/bin/bash\necho "$*" >> ${shellQuote(calls)}\necho r1n1; echo r1n2\n`);
  chmodSync(join(bin, 'scontrol'), 0o755);
  const cases: [string, string][] = [
    ['vm', 'vm\n'],
    ['a,b', 'a\nb\n'],
    ['n[01-03,7],gpu5', 'n01\nn02\nn03\nn7\ngpu5\n'],
    ['x[8-10]-ib', 'x8-ib\nx9-ib\nx10-ib\n'],
    ['n[098-101]', 'n098\nn099\nn100\nn101\n'],
    ['r[1]n[1-2]', 'r1n1\nr1n2\n'],
  ];
  for (const [list, want] of cases) {
    const s = spec({ script: 'cat "$QDO_NODEFILE"\n' });
    const r = spawnSync('bash', [writeWrapped(s)], { env: { PATH: `${bin}:${process.env.PATH}`, SLURM_JOB_NODELIST: list }, encoding: 'utf8', timeout: 20000 });
    assert.is(r.status, 0);
    assert.is(read(s.runDir, 'stdout'), want, list);
  }
  assert.is(read(root, 'scontrol-calls'), 'show hostnames r[1]n[1-2]\n', 'the tool ran once, for the two-group name');
});

test('a bash script is sourced in the child (no second bash): exit status, set -e, traps and its own variables behave', () => {
  const s = spec({ script: '#!/bin/bash\nset -e\nx=1\necho "pid-differs=$([ "$BASHPID" != "$PPID" ] && echo yes)"\nfalse\necho not reached\n' });
  assert.is(run(s).status, 1);
  assert.is(read(s.runDir, 'stdout'), 'pid-differs=yes\n');
  assert.is(json(s.runDir, 'qdo-end.json').exit_code, 1);
});

test('a #! line is run as the kernel would: interpreter and one optional argument', () => {
  assert.is(scriptCommand('echo x\n', 'F'), '. F', 'no #!: sourced by the wrapper\'s bash, in its child');
  assert.is(scriptCommand('#!/bin/bash\n', 'F'), 'if [ /bin/bash -ef "$BASH" ]; then . F; else exec /bin/bash F; fi');
  assert.is(scriptCommand('#!/usr/bin/env bash\n', 'F'), 'exec /usr/bin/env bash F');
  assert.is(scriptCommand('#!/bin/sh\n', 'F'), 'exec /bin/sh F');
  assert.is(scriptCommand('#! /usr/bin/env  python3 -u \n', 'F'), "exec /usr/bin/env 'python3 -u' F");
  const s = spec({ script: '#!/bin/bash -e\nfalse\necho not reached\n' });
  assert.is(run(s).status, 1);
  assert.is(read(s.runDir, 'stdout'), '');
});

test('render rejects bad env names, reserved names and relative folders', () => {
  const base = { jobName: 'j', resources: {}, script: 'true', runDir: '/r', submitDir: '/s', env: {} };
  const bad: [Partial<RenderSpec>, RegExp][] = [
    [{ env: { '1X': 'v' } }, /"1X" is not a valid variable name/],
    [{ env: { 'A-B': 'v' } }, /not a valid variable name/],
    [{ env: { QDO_RUN_DIR: '/x' } }, /QDO_RUN_DIR is set by qdo itself/],
    [{ runDir: 'rel/run' }, /run folder must be an absolute path/],
    [{ submitDir: 'rel' }, /submit folder must be an absolute path/],
  ];
  for (const [over, re] of bad) {
    try {
      renderWrapper({ ...base, ...over }, SLURM_JOB_VARS);
      assert.unreachable('should throw');
    } catch (e) {
      assert.instance(e, UsageError);
      assert.match((e as Error).message, re);
    }
  }
});

test('rendering is pure and env is sorted', () => {
  const s: RenderSpec = { jobName: 'j', resources: {}, script: 'true', runDir: '/r', submitDir: '/s', env: { B: '2', A: '1' } };
  const a = renderWrapper(s, SLURM_JOB_VARS);
  assert.is(a, renderWrapper(s, SLURM_JOB_VARS));
  assert.ok(a.indexOf('export A=1') < a.indexOf('export B=2'));
  const syntax = spawnSync('bash', ['-n'], { input: a, encoding: 'utf8' });
  assert.is(syntax.status, 0, syntax.stderr);
});

test('shellQuote', () => {
  assert.is(shellQuote('plain/path-1.txt'), 'plain/path-1.txt');
  assert.is(shellQuote(''), "''");
  assert.is(shellQuote("a'b"), `'a'\\''b'`);
  const r = spawnSync('bash', ['-c', `printf %s ${shellQuote('$x "y" \\ `z`\n')}`], { encoding: 'utf8' });
  assert.is(r.stdout, '$x "y" \\ `z`\n');
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
