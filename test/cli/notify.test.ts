// submit --notify on the local backend: the wrapper runs the command after a real job; qdo
// runs it itself for a job that ended without a wrapper to do it (spec/scheduler-common.md §Notify).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok as okIn, useLocalHome, waitDone as waitDoneIn, type Json, readRecord } from '../helpers/jobs.js';

const local = useLocalHome(test, 'qdo-notify-cli-');

const ok = (args: string[]): Promise<string> => okIn(local.opts, args);

const waitDone = (job: string): Promise<Json> => waitDoneIn(local.opts, job);

async function waitFile(path: string, ms = 10_000): Promise<string> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`no ${path}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return readFileSync(path, 'utf8');
}

const record = (id: string) => readRecord(local.home, id);
const NOTIFY = (file: string) => `echo "$QDO_STATE [$QDO_EXIT_CODE] $QDO_JOB_NAME $LR" >>${file}`;

test('a real job: the wrapper runs the command with QDO_STATE and QDO_EXIT_CODE, after the end record', async () => {
  const file = join(local.home, 'notified');
  const out = JSON.parse(await ok(['submit', 'p/j', '--json', '--env', 'LR=0.5', '--notify', NOTIFY(file), '--', 'bash', '-c', 'exit 3']));
  const done = await waitDone('p/j');
  assert.is(done.state, 'failed');
  assert.is(await waitFile(file), 'failed [3] j 0.5\n');
  const marker = JSON.parse(readFileSync(join(out.run_dir, 'qdo-notified'), 'utf8'));
  assert.equal([marker.state, marker.exit_code], ['failed', 3]);
  // The wrapper did it: qdo does not run it again.
  await ok(['status', '--refresh', 'p/j']);
  assert.is(record(out.id).notified, undefined);
  assert.is(readFileSync(file, 'utf8'), 'failed [3] j 0.5\n');
  // The manifest keeps the command; a retry keeps it too.
  const m = JSON.parse(await ok(['cat-object', out.id]));
  assert.is(m.notify, NOTIFY(file));
});

test('a job that never ran (cancelled while held): qdo runs the command once, records "notified"', async () => {
  const file = join(local.home, 'notified');
  const out = JSON.parse(await ok(['submit', 'p/h', '--hold', '--json', '--notify', NOTIFY(file), '--', 'true']));
  await ok(['cancel', 'p/h']);
  assert.is((await waitDone('p/h')).state, 'cancelled');
  assert.is(readFileSync(file, 'utf8'), 'cancelled [] h \n');
  const rec = record(out.id);
  assert.is(rec.notified, '2026-11-21T09:30:00.000Z');
  assert.match(readFileSync(join(out.run_dir, 'stderr'), 'utf8'), /^qdo: p\/h@1 ended cancelled without running its notify command; qdo runs it now \(2026-11-21T09:30:00\.000Z\)\n$/);
  // Later refreshes do not run it again.
  await ok(['status', '--refresh', 'p/h']);
  assert.is(readFileSync(file, 'utf8'), 'cancelled [] h \n');
});

test.run();
