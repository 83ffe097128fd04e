// Packed arrays on the local backend, for real (spec/local-backend.md §Packed arrays):
// each element runs its own script into its own run folder; element ids ("7_3") answer
// query, cancel and dependencies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../../src/scheduler/local.js';
import type { Dependency, JobState, NormalState, RenderSpec } from '../../src/scheduler/types.js';

const root = mkdtempSync(join(tmpdir(), 'qdo-local-packed-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function setup(cpus: number): { b: LocalBackend; dir: string } {
  const dir = join(root, `s${++n}`);
  mkdirSync(dir, { recursive: true });
  return { b: new LocalBackend({ spoolDir: join(dir, 'spool'), cpus, killGraceSec: 1, env: { PATH: process.env.PATH } }), dir };
}

async function submit(b: LocalBackend, dir: string, name: string, spec: Partial<RenderSpec>): Promise<string> {
  const full: RenderSpec = { jobName: name, resources: {}, script: 'true\n', runDir: join(dir, 'arrays', name), submitDir: dir, env: {}, ...spec };
  mkdirSync(full.runDir, { recursive: true });
  const file = join(full.runDir, 'job.sh');
  writeFileSync(file, b.render(full));
  return b.submit(file, { cwd: dir });
}

const elements = (dir: string, scripts: string[]) =>
  scripts.map((script, i) => ({ index: i, jobName: `p-${i}`, runDir: join(dir, 'runs', `p-${i}`), script, env: { QDO_PARAM_I: String(i) } }));

async function waitState(b: LocalBackend, id: string, want: NormalState, ms = 20000): Promise<JobState> {
  const t0 = Date.now();
  for (;;) {
    const s = (await b.query([id])).get(id)!;
    if (s.state === want) return s;
    if (Date.now() - t0 > ms) throw new Error(`job ${id}: still ${s.state} after ${ms} ms, wanted ${want}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitFor(probe: () => boolean, ms = 20000): Promise<void> {
  const t0 = Date.now();
  while (!probe()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const read = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8');

test('a packed array: each element runs its own job in its own run folder; element ids answer', async () => {
  const { b, dir } = setup(4);
  const els = elements(dir, ['echo "one $QDO_PARAM_I $QDO_JOB_NAME"\n', 'echo "two $QDO_PARAM_I"\nexit 4\n', '#!/bin/sh\necho "three $QDO_PARAM_I"\n']);
  const id = await submit(b, dir, 'arr', { elements: els });
  assert.is(b.elementId(id, 1), `${id}_1`);
  await waitState(b, id, 'failed');
  const m = await b.query([0, 1, 2].map((i) => b.elementId(id, i)));
  assert.equal(
    [...m.values()].map((s) => [s.state, s.exitCode]),
    [
      ['completed', 0],
      ['failed', 4],
      ['completed', 0],
    ],
  );
  assert.is(read(els[0]!.runDir, 'stdout'), 'one 0 p-0\n');
  assert.is(read(els[1]!.runDir, 'stdout'), 'two 1\n');
  assert.is(read(els[2]!.runDir, 'stdout'), 'three 2\n');
  for (const e of els) assert.ok(existsSync(join(e.runDir, 'qdo-end.json')), e.runDir);
  assert.is(JSON.parse(read(els[1]!.runDir, 'qdo-end.json')).exit_code, 4);
});

test('dependencies on one element: afterok waits for it; a failed element makes afterok never', async () => {
  const { b, dir } = setup(4);
  const log = join(dir, 'log');
  const els = elements(dir, [`sleep 0.5; echo "element 0 done" >> ${log}\n`, 'exit 1\n', `sleep 3; echo "element 2 done" >> ${log}\n`]);
  const id = await submit(b, dir, 'arr', { elements: els });
  const dep = (ids: string[]): Dependency[] => [{ type: 'afterok', ids }];
  const after0 = await submit(b, dir, 'after0', { script: `echo "after 0" >> ${log}\n`, dependencies: dep([b.elementId(id, 0)]) });
  const after1 = await submit(b, dir, 'after1', { dependencies: dep([b.elementId(id, 1)]) });
  await waitState(b, after0, 'completed');
  const s1 = await waitState(b, after1, 'cancelled');
  assert.is(s1.reason, 'DependencyNeverSatisfied');
  // after0 ran once element 0 was done, without waiting for element 2
  assert.equal(read(dir, 'log').trim().split('\n'), ['element 0 done', 'after 0']);
  await waitState(b, id, 'failed');
});

test('cancelling one element of a running array leaves the others running to the end', async () => {
  const { b, dir } = setup(4);
  const els = elements(dir, ['sleep 30\n', 'sleep 1; echo ok\n']);
  const id = await submit(b, dir, 'arr', { elements: els });
  await waitState(b, b.elementId(id, 0), 'running');
  // "running" is the spool's word: the shepherd started the wrapper, which may not have
  // trapped TERM yet. Its start record says it has (§Signals: traps come first); a cancel
  // before that ends the element with no end record at all, which is not what this tests.
  await waitFor(() => existsSync(join(els[0]!.runDir, 'qdo-start.json')));
  await b.cancel([b.elementId(id, 0)]);
  await waitState(b, b.elementId(id, 0), 'cancelled');
  await waitState(b, b.elementId(id, 1), 'completed');
  assert.is(read(els[1]!.runDir, 'stdout'), 'ok\n');
  assert.is(JSON.parse(read(els[0]!.runDir, 'qdo-end.json')).signal, 'TERM');
});


test('releasing one element of an array held whole releases that element only (as scontrol release 7_1)', async () => {
  const { b, dir } = setup(2);
  const els = elements(dir, ['echo zero\n', 'echo one\n', 'echo two\n']);
  const full: RenderSpec = { jobName: 'held', resources: {}, script: 'true\n', runDir: join(dir, 'arrays', 'held'), submitDir: dir, env: {}, elements: els };
  mkdirSync(full.runDir, { recursive: true });
  writeFileSync(join(full.runDir, 'job.sh'), b.render(full));
  const id = await b.submit(join(full.runDir, 'job.sh'), { cwd: dir, hold: true });
  const ids = [0, 1, 2].map((i) => b.elementId(id, i));
  assert.equal([...(await b.query(ids)).values()].map((s) => s.state), ['held', 'held', 'held']);
  await b.release([ids[1]!]);
  await waitState(b, ids[1]!, 'completed');
  assert.is(read(els[1]!.runDir, 'stdout'), 'one\n');
  // Another dispatch pass (a later submit, release or query) starts nothing else.
  await b.release([ids[1]!]);
  assert.equal([...(await b.query([ids[0]!, ids[2]!])).values()].map((s) => s.state), ['held', 'held']);
  assert.not.ok(existsSync(join(els[0]!.runDir, 'stdout')));
  await b.release([id]);
  await waitState(b, ids[2]!, 'completed');
  await waitState(b, ids[0]!, 'completed');
});

test('many elements named at once: all of them act on the array as one, some of them on each (cancel, hold, release)', async () => {
  const { b, dir } = setup(1);
  const make = async (name: string, n: number) => {
    const full: RenderSpec = { jobName: name, resources: {}, script: 'true\n', runDir: join(dir, 'arrays', name), submitDir: dir, env: {}, elements: elements(dir, Array.from({ length: n }, () => 'true\n')) };
    mkdirSync(full.runDir, { recursive: true });
    writeFileSync(join(full.runDir, 'job.sh'), b.render(full));
    const id = await b.submit(join(full.runDir, 'job.sh'), { cwd: dir, hold: true });
    return { id, ids: Array.from({ length: n }, (_, i) => b.elementId(id, i)) };
  };
  const spool = (b as unknown as { paths: { job(id: number): string; task(id: number, t: string): string } }).paths;
  const states = async (ids: string[]) => [...(await b.query(ids)).values()].map((s) => s.state);
  // Every element of a 600-task array named (as qdo cancel 'sweep/*' does): the array is cancelled whole.
  const a = await make('all', 600);
  await b.cancel([...a.ids].reverse());
  assert.ok(existsSync(join(spool.job(Number(a.id)), 'cancelled')), 'one mark for the array');
  assert.not.ok(existsSync(join(spool.task(Number(a.id), '5'), 'cancelled')), 'no mark per task');
  assert.ok((await states(a.ids)).every((s) => s === 'cancelled'));
  // Some elements: each of them marked, the others untouched.
  const c = await make('some', 5);
  await b.cancel([c.ids[3]!, c.ids[1]!]);
  assert.equal(await states(c.ids), ['held', 'cancelled', 'held', 'cancelled', 'held']);
  assert.not.ok(existsSync(join(spool.job(Number(c.id)), 'cancelled')));
  // Released whole by naming every element that is left, then held again element by element.
  await b.release([c.ids[0]!, c.ids[2]!, c.ids[4]!]);
  assert.not.ok(existsSync(join(spool.job(Number(c.id)), 'held')), 'released: the whole hold is gone');
  await b.hold([c.ids[4]!]);
  await waitState(b, c.ids[2]!, 'completed');
  await waitState(b, c.ids[0]!, 'completed');
  assert.equal(await states(c.ids), ['completed', 'cancelled', 'completed', 'cancelled', 'held']);
  await b.cancel([c.ids[4]!]);
});

test('one query for many ids of two jobs: each element its own state (held, cancelled, pending), the whole job, an unknown element', async () => {
  const { b, dir } = setup(1);
  // One slot, taken by a job that waits: nothing else starts while we look.
  const gate = join(dir, 'gate');
  const blocker = await submit(b, dir, 'blocker', { script: `while [ ! -e ${gate} ]; do sleep 0.05; done\n` });
  await waitState(b, blocker, 'running');
  const full: RenderSpec = { jobName: 'held', resources: {}, script: 'true\n', runDir: join(dir, 'arrays', 'held'), submitDir: dir, env: {}, elements: elements(dir, ['true\n', 'true\n', 'true\n', 'true\n']) };
  mkdirSync(full.runDir, { recursive: true });
  writeFileSync(join(full.runDir, 'job.sh'), b.render(full));
  const held = await b.submit(join(full.runDir, 'job.sh'), { cwd: dir, hold: true });
  const free = await submit(b, dir, 'free', { elements: elements(dir, ['true\n', 'true\n']) });
  await b.cancel([b.elementId(held, 1)]);
  const ids = [...[0, 1, 2, 3].map((i) => b.elementId(held, i)), held, b.elementId(held, 9), b.elementId(free, 0), free, blocker];
  const m = await b.query(ids);
  assert.equal(
    ids.map((id) => m.get(id)!.state),
    ['held', 'cancelled', 'held', 'held', 'held', 'unknown', 'pending', 'pending', 'running'],
  );
  writeFileSync(gate, '');
  await waitState(b, free, 'completed');
  await b.cancel([held]);
});

test.run();
