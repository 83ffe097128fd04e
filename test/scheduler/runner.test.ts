import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchedulerError } from '../../src/errors.js';
import { defaultBackoffMs, runCommand, showCommand, type Runner } from '../../src/scheduler/runner.js';

const dir = mkdtempSync(join(tmpdir(), 'qdo-runner-'));

async function rejects(p: Promise<unknown>): Promise<SchedulerError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, SchedulerError);
    assert.is((e as SchedulerError).exitCode, 6);
    return e as SchedulerError;
  }
  throw new Error('expected a SchedulerError');
}

test('success: stdout verbatim, exit code, one attempt', async () => {
  const r = await runCommand(['sh', '-c', 'printf "a b\\n"; echo warn >&2']);
  assert.equal(r, { stdout: 'a b\n', stderr: 'warn\n', exitCode: 0, attempts: 1 });
});

test('arguments are not interpreted by a shell', async () => {
  const r = await runCommand(['printf', '%s|', '$HOME', 'a b', "it's", '`id`']);
  assert.is(r.stdout, "$HOME|a b|it's|`id`|");
});

test('cwd, env and input', async () => {
  const r = await runCommand(['sh', '-c', 'pwd; echo "$QDO_X"; cat'], { cwd: dir, env: { QDO_X: 'x y' }, input: 'from stdin' });
  assert.is(r.stdout, `${dir}\nx y\nfrom stdin`);
});

test('stdin is closed when no input is given (a reader does not hang)', async () => {
  const r = await runCommand(['cat'], { timeoutMs: 5000 });
  assert.is(r.stdout, '');
});

test('non-zero exit: scheduler-command-failed with command line and stderr', async () => {
  const e = await rejects(runCommand(['sh', '-c', 'echo "  boom: no such partition  " >&2; exit 3']));
  assert.is(e.code, 'scheduler-command-failed');
  assert.is(e.message, "`sh -c 'echo \"  boom: no such partition  \" >&2; exit 3'` exited with 3: boom: no such partition");
  assert.is(e.data.exitCode, 3);
  assert.is(e.data.stderr, '  boom: no such partition  \n');
});

test('okExitCodes accepts listed non-zero codes', async () => {
  const r = await runCommand(['sh', '-c', 'exit 3'], { okExitCodes: [0, 3] });
  assert.is(r.exitCode, 3);
});

test('missing command: scheduler-command-missing naming it', async () => {
  const e = await rejects(runCommand(['qdo-no-such-command-xyz', '--version']));
  assert.is(e.code, 'scheduler-command-missing');
  assert.is(e.message, 'scheduler command not found: qdo-no-such-command-xyz');
  assert.match(e.hint ?? '', /PATH/);
});

test('missing cwd is reported as such, not as a missing command', async () => {
  const e = await rejects(runCommand(['true'], { cwd: join(dir, 'nope') }));
  assert.is(e.code, 'scheduler-command-missing');
  assert.match(e.message, /folder .*nope does not exist/);
});

test('timeout: process killed, scheduler-timeout names command and seconds', async () => {
  const t0 = Date.now();
  const e = await rejects(runCommand(['sleep', '5'], { timeoutMs: 200 }));
  assert.ok(Date.now() - t0 < 3000, 'returned well before sleep would have ended');
  assert.is(e.code, 'scheduler-timeout');
  assert.is(e.message, '`sleep 5` did not finish within 0.2 s and was killed');
});

test('timeoutMs 0: no time limit', async () => {
  const r = await runCommand(['sh', '-c', 'sleep 0.3; echo done'], { timeoutMs: 0 });
  assert.is(r.stdout, 'done\n');
});

test('a command that exits without reading its input is not an error', async () => {
  const r = await runCommand(['true'], { input: 'x'.repeat(1 << 20) });
  assert.is(r.exitCode, 0);
});

test('output split across chunks keeps multi-byte characters whole', async () => {
  const r = await runCommand(['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do printf "\\303\\251"; i=$((i+1)); done']);
  assert.is(r.stdout, '\u00e9'.repeat(20000));
});

test('transient failure is retried with backoff until it succeeds', async () => {
  const counter = join(dir, 'count');
  writeFileSync(counter, '0');
  const script = join(dir, 'flaky.sh');
  writeFileSync(
    script,
    `#!/bin/sh\nn=$(cat "${counter}"); n=$((n+1)); echo $n > "${counter}"\n` +
      `if [ $n -le 2 ]; then echo "squeue: error: Unable to contact slurm controller (connect failure)" >&2; exit 1; fi\necho ok\n`,
  );
  chmodSync(script, 0o755);
  const delays: number[] = [];
  const r = await runCommand([script], {
    backoffMs: (a) => {
      delays.push(a);
      return 1;
    },
  });
  assert.equal(r, { stdout: 'ok\n', stderr: '', exitCode: 0, attempts: 3 });
  assert.equal(delays, [1, 2]);
  assert.is(readFileSync(counter, 'utf8').trim(), '3');
});

test('transient failure gives up after `retries` extra attempts', async () => {
  const counter = join(dir, 'count2');
  writeFileSync(counter, '');
  const e = await rejects(
    runCommand(['sh', '-c', `echo x >> "${counter}"; echo "qstat: cannot connect to server pbs01 (errno=15010)" >&2; exit 255`], {
      retries: 2,
      backoffMs: () => 1,
    }),
  );
  assert.is(e.code, 'scheduler-command-failed');
  assert.match(e.message, /exited with 255 \(after 3 attempts\): qstat: cannot connect to server/);
  assert.is(readFileSync(counter, 'utf8'), 'x\nx\nx\n');
});

test('non-transient failure is not retried; retries: 0 disables retry', async () => {
  const counter = join(dir, 'count3');
  writeFileSync(counter, '');
  await rejects(runCommand(['sh', '-c', `echo x >> "${counter}"; echo "invalid partition" >&2; exit 1`], { backoffMs: () => 1 }));
  assert.is(readFileSync(counter, 'utf8'), 'x\n');
  writeFileSync(counter, '');
  await rejects(runCommand(['sh', '-c', `echo x >> "${counter}"; echo "Connection refused" >&2; exit 1`], { retries: 0, backoffMs: () => 1 }));
  assert.is(readFileSync(counter, 'utf8'), 'x\n');
});

test('default backoff doubles from 200 ms and caps at 5 s', () => {
  assert.equal([1, 2, 3, 4, 5, 6, 10].map(defaultBackoffMs), [200, 400, 800, 1600, 3200, 5000, 5000]);
});

test('showCommand quotes only what needs quoting', () => {
  assert.is(showCommand(['squeue', '--me', '-o', '%i %T', "it's"]), `squeue --me -o '%i %T' 'it'\\''s'`);
});

test('Runner type fits a fake', async () => {
  const fake: Runner = async (argv) => ({ stdout: argv.join(' '), stderr: '', exitCode: 0, attempts: 1 });
  assert.is((await fake(['a', 'b'])).stdout, 'a b');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
