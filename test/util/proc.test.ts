// Process identity (src/util/proc.ts): a process is named by host, pid and start time, so a
// dead process whose pid was reused is not taken for alive.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { identityOf, isProcessStart, liveness } from '../../src/util/proc.js';

const HOST = 'h1';

test('this process is alive; its identity has a start on Linux', () => {
  const me = identityOf(HOST, process.pid);
  assert.ok(me.start === null || isProcessStart(me.start), String(me.start));
  assert.is(liveness(me, HOST), 'alive');
});

test('a process that exited is dead; another host is unknown', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const id = identityOf(HOST, child.pid!);
  assert.is(liveness(id, HOST), 'alive');
  assert.is(liveness(id, 'h2'), 'unknown');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.is(liveness(id, HOST), 'dead');
});

test('a living pid with another start time is another process: dead', () => {
  const me = identityOf(HOST, process.pid);
  if (me.start === null) return; // no /proc here
  const [boot, ns, ticks] = me.start.split('/');
  assert.is(liveness({ ...me, start: `${boot}/${ns}/${Number(ticks) + 1}` }, HOST), 'dead');
  // Another boot or pid namespace cannot be looked at from here.
  assert.is(liveness({ ...me, start: `00000000-0000-0000-0000-000000000000/${ns}/${ticks}` }, HOST), 'unknown');
  assert.is(liveness({ ...me, start: `${boot}/1/${ticks}` }, HOST), 'unknown');
});

test('without a start, the pid alone decides (older records)', () => {
  assert.is(liveness({ host: HOST, pid: process.pid, start: null }, HOST), 'alive');
  assert.is(liveness({ host: HOST, pid: 0, start: null }, HOST), 'unknown');
});

test.run();
