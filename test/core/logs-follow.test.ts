// The follow loop of `qdo logs -f` (src/core/logs.ts) driven step by step: an injected
// waiter changes the run folder between looks, so appends, a requeue that restarts the log,
// the end record and Ctrl-C are checked without real time passing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, tempDir, removeDir, testContext } from '../helpers/cli.js';
import { chokidarWatcher, logs, outsideTaskFolders, type LogEvent, type Waiter } from '../../src/core/logs.js';

const env = { QDO_SCHEDULER: 'local' };
let home = '';
let dir = '';
test.before.each(async () => {
  home = tempDir('qdo-home-');
  assert.is((await qdo(['project', 'add', 'p'], { home, env })).code, 0);
  // Held: it never runs, so only this test writes its run folder.
  assert.is((await qdo(['submit', 'p/j', '--hold', '--', 'true'], { home, env })).code, 0);
  dir = (await qdo(['path', 'p/j'], { home, env })).stdout.trim();
});
test.after.each(() => removeDir(home));

/** Writes like the wrapper does: temp file + rename (a new inode each time). */
function record(name: string, text: string): void {
  writeFileSync(join(dir, `.${name}.tmp-00000000`), text);
  renameSync(join(dir, `.${name}.tmp-00000000`), join(dir, name));
}

function scripted(steps: (() => void)[], waits: number[]): (dirs: string[]) => Promise<Waiter> {
  return async (dirs) => {
    assert.equal(dirs, [dir]);
    return {
      async wait(ms) {
        waits.push(ms);
        const step = steps.shift();
        if (!step) return assert.unreachable('the loop waited after the job ended');
        step();
      },
      async close() {},
    };
  };
}

test('follows appends and a restarted log, stops after the end record, drained', async () => {
  const out: string[] = [];
  const events: LogEvent[] = [];
  const waits: number[] = [];
  const steps = [
    () => {
      record('qdo-start.json', '{"time":"1"}\n');
      writeFileSync(join(dir, 'stdout'), 'a\n');
    },
    () => appendFileSync(join(dir, 'stdout'), 'b\n'),
    () => {
      // A requeue: a new start record, the log truncated and already longer than before.
      record('qdo-start.json', '{"time":"2"}\n');
      writeFileSync(join(dir, 'stdout'), 'new run\n');
    },
    () => {
      appendFileSync(join(dir, 'stdout'), 'end\n');
      record('qdo-end.json', '{"exit_code":0,"signal":null,"time":"2026-11-21T09:31:00Z"}\n');
      appendFileSync(join(dir, 'stdout'), 'after\n'); // written before the look: drained too
    },
  ];
  const r = await logs(testContext({ home, env }), 'p/j', {
    stream: 'stdout',
    follow: true,
    pollMs: 250,
    watch: scripted(steps, waits),
    data: (index, chunk) => {
      assert.is(index, null);
      out.push(Buffer.from(chunk).toString('utf8'));
    },
    event: (e) => void events.push(e),
  });
  assert.equal(out, ['a\n', 'b\n', 'new run\n', 'end\nafter\n']);
  assert.equal(events, [
    { kind: 'no-output', name: 'p/j@1', state: 'held', following: true },
    { kind: 'restarted', name: 'p/j@1', index: null },
    { kind: 'ended', name: 'p/j@1', state: 'completed', exitCode: 0 },
  ]);
  assert.equal(waits, [250, 250, 250, 250]);
  assert.is(r.printed, 1);
  assert.is(r.job.sub!.state, 'completed', 'the end record was recorded');
});

test('a log truncated to less than was read restarts from its beginning', async () => {
  const out: string[] = [];
  const events: string[] = [];
  writeFileSync(join(dir, 'stderr'), 'long first line\n');
  const steps = [
    () => writeFileSync(join(dir, 'stderr'), 'short\n'),
    () => record('qdo-end.json', '{"exit_code":3,"signal":null}\n'),
  ];
  await logs(testContext({ home, env }), 'p/j', {
    stream: 'stderr',
    follow: true,
    watch: scripted(steps, []),
    data: (_i, c) => void out.push(Buffer.from(c).toString('utf8')),
    event: (e) => void events.push(e.kind === 'ended' ? `ended ${e.state} ${e.exitCode}` : e.kind),
  });
  assert.equal(out, ['long first line\n', 'short\n']);
  assert.equal(events, ['restarted', 'ended failed 3']);
});

test('an abort ends following at the next wake-up, without an end event', async () => {
  const ac = new AbortController();
  const events: string[] = [];
  await logs(testContext({ home, env }), 'p/j', {
    stream: 'stdout',
    follow: true,
    signal: ac.signal,
    watch: scripted([() => ac.abort()], []),
    data: () => assert.unreachable('no output'),
    event: (e) => void events.push(e.kind),
  });
  assert.equal(events, ['no-output']);
});

test('without -f: what is there, once; nothing there is an event, not an error', async () => {
  const events: LogEvent[] = [];
  const r = await logs(testContext({ home, env }), 'p/j', { stream: 'stdout', data: () => assert.unreachable(), event: (e) => void events.push(e), watch: async () => assert.unreachable('no watcher without -f') as never });
  assert.is(r.printed, 0);
  assert.equal(events, [{ kind: 'no-output', name: 'p/j@1', state: 'held', following: false }]);
});

test('the chokidar waiter wakes on a change, else after its time', async () => {
  const w = await chokidarWatcher([dir]);
  try {
    let t = Date.now();
    await w.wait(100);
    assert.ok(Date.now() - t >= 90, 'nothing changed: waited the full time');
    t = Date.now();
    const woke = w.wait(10_000);
    setTimeout(() => writeFileSync(join(dir, 'stdout'), 'x'), 50);
    await woke;
    assert.ok(Date.now() - t < 5000, 'woke on the change');
    const ac = new AbortController();
    t = Date.now();
    const aborted = w.wait(10_000, ac.signal);
    setTimeout(() => ac.abort(), 20);
    await aborted;
    assert.ok(Date.now() - t < 5000, 'woke on abort');
    assert.ok(existsSync(join(dir, 'stdout')));
  } finally {
    await w.close();
  }
});

test("the watcher looks at run and task folders, not into the job's own folders", () => {
  const r = '/a/runs/j/1-abc';
  assert.not.ok(outsideTaskFolders(r, [r]));
  assert.not.ok(outsideTaskFolders(`${r}/stdout`, [r]));
  assert.not.ok(outsideTaskFolders(`${r}/out`, [r]), 'a new folder is seen (it may be a task folder)');
  assert.not.ok(outsideTaskFolders(`${r}/3/stdout`, [r]));
  assert.ok(outsideTaskFolders(`${r}/out/data.h5`, [r]));
  assert.ok(outsideTaskFolders(`${r}/3/out/x`, [r]));
  assert.ok(outsideTaskFolders('/elsewhere', [r]));
});

test.run();
