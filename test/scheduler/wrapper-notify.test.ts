// The notify step of the wrapper (spec/scheduler-common.md §Notify): rendered, then really
// run with bash, as in wrapper.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/cli.js';
import { NOTIFY_MARKER, NOTIFY_TIMEOUT_SEC, renderWrapper, SLURM_JOB_VARS } from '../../src/scheduler/wrapper.js';
import type { RenderSpec } from '../../src/scheduler/types.js';

const root = tempDir('qdo-notify-');
let n = 0;

function spec(over: Partial<RenderSpec> & { script: string }): RenderSpec {
  const dir = join(root, `t${++n}`);
  return { jobName: 'job', resources: {}, runDir: join(dir, 'run'), submitDir: root, env: {}, ...over };
}

function writeWrapped(s: RenderSpec, edit: (text: string) => string = (t) => t): string {
  const file = join(root, `script-${++n}.sh`);
  writeFileSync(file, edit(`#!/bin/bash\n${renderWrapper(s, SLURM_JOB_VARS)}`));
  return file;
}

const read = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8');
const json = (dir: string, f: string): Record<string, unknown> => JSON.parse(read(dir, f)) as Record<string, unknown>;

function run(s: RenderSpec, edit?: (text: string) => string): number | null {
  const r = spawnSync('bash', [writeWrapped(s, edit)], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SLURM_JOB_ID: '77' }, encoding: 'utf8', timeout: 30000 });
  return r.status;
}

async function runAndTerm(s: RenderSpec): Promise<number | null> {
  const child = spawn('bash', [writeWrapped(s)], { env: { PATH: process.env.PATH, SLURM_JOB_ID: '78' }, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const ready = join(s.runDir, 'ready');
  for (let t = 0; t < 500 && !existsSync(ready); t++) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGTERM');
  return exited;
}

// The notify command writes what it sees next to the run folder (not in the stderr log, to
// tell its own file from the log it is appended to).
const SEE = 'echo "$QDO_STATE $QDO_EXIT_CODE [$QDO_SIGNAL] $QDO_JOB_NAME $QDO_JOB_ID $(basename "$QDO_TASK_DIR") $GREETING" >"$QDO_RUN_DIR/../seen"; cat "$QDO_TASK_DIR/qdo-end.json" >>"$QDO_RUN_DIR/../seen"';
const seen = (s: RenderSpec): string[] => readFileSync(join(s.runDir, '..', 'seen'), 'utf8').trim().split('\n');

test('after a success: QDO_STATE=completed, the job env, the final end record already written', () => {
  const s = spec({ script: 'echo out\n', jobName: 'fit', env: { GREETING: 'hello world' }, notify: `${SEE}; echo notify-said-this; echo notify-err >&2` });
  // A stale marker from an earlier run (requeue) is removed at start.
  mkdirSync(s.runDir, { recursive: true });
  writeFileSync(join(s.runDir, NOTIFY_MARKER), 'stale\n');
  assert.is(run(s), 0);
  const [line, end] = seen(s);
  assert.is(line, 'completed 0 [] fit 77 run hello world');
  assert.is(JSON.parse(end!).exit_code, 0, 'the notify command sees the final end record');
  assert.is(read(s.runDir, 'stdout'), 'out\n', 'notify output is not in the stdout log');
  assert.is(read(s.runDir, 'stderr'), 'notify-said-this\nnotify-err\n', 'it is appended to the stderr log');
  const marker = json(s.runDir, NOTIFY_MARKER);
  assert.equal(Object.keys(marker), ['state', 'exit_code', 'time']);
  assert.equal([marker.state, marker.exit_code], ['completed', 0]);
  assert.equal(json(s.runDir, 'qdo-end.json').exit_code, 0);
});

test('after a failure: QDO_STATE=failed; a failing notify command never changes the job status', () => {
  const s = spec({ script: 'echo oops >&2\nexit 3\n', notify: `${SEE}; exit 7` });
  assert.is(run(s), 3);
  assert.is(seen(s)[0], 'failed 3 [] job 77 run ');
  assert.is(read(s.runDir, 'stderr'), 'oops\nqdo: the notify command exited with status 7\n');
  assert.is(json(s.runDir, 'qdo-end.json').exit_code, 3);
  assert.is(json(s.runDir, NOTIFY_MARKER).state, 'failed');
});

test('a notify command that calls exit or fails to parse cannot stop the wrapper from exiting with the job status', () => {
  const s = spec({ script: 'exit 0\n', notify: 'if then' });
  assert.is(run(s), 0);
  assert.match(read(s.runDir, 'stderr'), /syntax error[\s\S]*qdo: the notify command exited with status 2\n$/);
});

test('TERM: "stopped" without a time limit, "cancelled" well before it, "timeout" near it', async () => {
  const script = '#!/bin/sh\ntouch "$QDO_TASK_DIR/ready"\nexec sleep 30\n';
  const cases: [RenderSpec['resources'], string][] = [
    [{}, 'stopped'],
    [{ time: 3600 }, 'cancelled'],
    [{ time: 30 }, 'timeout'], // within 60 s of the limit counts as the limit, as in refresh
  ];
  for (const [resources, state] of cases) {
    const s = spec({ script, resources, notify: SEE });
    assert.is(await runAndTerm(s), 143, state);
    const [line, end] = seen(s);
    assert.is(line, `${state} 143 [TERM] job 78 run `, state);
    assert.equal([JSON.parse(end!).exit_code, JSON.parse(end!).signal], [143, 'TERM'], `${state}: final end record, not the provisional one`);
    assert.is(json(s.runDir, NOTIFY_MARKER).state, state);
  }
});

test('array tasks: each task runs the command in its own task folder', () => {
  const s = spec({ script: 'true\n', resources: { array: '1-2' }, notify: 'echo "$QDO_ARRAY_INDEX $QDO_STATE" >"$QDO_TASK_DIR/n"' });
  const file = writeWrapped(s);
  for (const i of ['1', '2']) {
    const r = spawnSync('bash', [file], { env: { PATH: process.env.PATH, SLURM_JOB_ID: '5', SLURM_ARRAY_TASK_ID: i }, encoding: 'utf8' });
    assert.is(r.status, 0);
    assert.is(read(join(s.runDir, i), 'n'), `${i} completed\n`);
    assert.ok(existsSync(join(s.runDir, i, NOTIFY_MARKER)));
  }
});

test(`a notify command running too long is stopped (limit ${NOTIFY_TIMEOUT_SEC} s; shortened here)`, () => {
  assert.is(NOTIFY_TIMEOUT_SEC, 60);
  const s = spec({ script: 'exit 4\n', notify: 'echo started; exec sleep 30' });
  const t0 = Date.now();
  // Same wrapper text with the limit at 1 s instead of 60 (ticks are tenths of a second).
  const code = run(s, (t) => {
    assert.ok(t.includes(`"$ticks" = ${NOTIFY_TIMEOUT_SEC * 10} ]`) && t.includes(`"$ticks" = ${NOTIFY_TIMEOUT_SEC * 10 + 50} ]`));
    return t.replace(`"$ticks" = ${NOTIFY_TIMEOUT_SEC * 10} ]`, '"$ticks" = 10 ]').replace(`"$ticks" = ${NOTIFY_TIMEOUT_SEC * 10 + 50} ]`, '"$ticks" = 60 ]');
  });
  assert.is(code, 4);
  assert.ok(Date.now() - t0 < 15000, 'stopped long before its 30 s');
  assert.match(read(s.runDir, 'stderr'), /^started\nqdo: the notify command ran for 60 s and is stopped\nqdo: the notify command exited with status 143\n$/);
});

test('a notify command that ignores TERM is killed 5 s after the limit', () => {
  const s = spec({ script: 'exit 0\n', notify: "trap '' TERM; echo started; exec sleep 30" });
  const t0 = Date.now();
  const code = run(s, (t) => t.replace(`"$ticks" = ${NOTIFY_TIMEOUT_SEC * 10} ]`, '"$ticks" = 5 ]').replace(`"$ticks" = ${NOTIFY_TIMEOUT_SEC * 10 + 50} ]`, '"$ticks" = 15 ]'));
  assert.is(code, 0);
  assert.ok(Date.now() - t0 < 15000, 'killed long before its 30 s');
  assert.is(read(s.runDir, 'stderr'), 'started\nqdo: the notify command ran for 60 s and is stopped\nqdo: the notify command exited with status 137\n');
});

test('a quick notify command costs the job well under a second', () => {
  const s = spec({ script: 'true\n', notify: 'true' });
  const t0 = Date.now();
  assert.is(run(s), 0);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
});

test('without --notify nothing changes: no marker, no QDO_STATE', () => {
  const s = spec({ script: 'echo "[${QDO_STATE-unset}]"\n' });
  assert.is(run(s), 0);
  assert.is(read(s.runDir, 'stdout'), '[unset]\n');
  assert.not.ok(existsSync(join(s.runDir, NOTIFY_MARKER)));
  const text = renderWrapper(s, SLURM_JOB_VARS);
  assert.not.match(text, /qdo_finish|qdo_notify|qdo-notified/);
  assert.ok(text.includes(`trap 'qdo_write_end $?' EXIT`));
});

test('QDO_STATE is the wrapper\'s: env may not set it', () => {
  assert.throws(() => renderWrapper(spec({ script: 'true', env: { QDO_STATE: 'x' } }), SLURM_JOB_VARS), /QDO_STATE is set by qdo itself/);
});

test.after(() => removeDir(root));
test.run();
