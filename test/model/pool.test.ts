// Pools as data (spec/pools.md): what users type, the #QDO_POOL lines, ticket names, the
// matching of runs to workers, when a worker is dead, and the scaling plan. Pure functions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyPause, emptyControl, isPaused, isSchedulerName, parseCapabilities, parseNodeRange, poolProblems } from '../../src/model/pool.js';
import {
  couldRun,
  fitsNow,
  gpusOf,
  hasTimeFor,
  newRunKey,
  parsePoolDirectives,
  parseTicketName,
  renderPoolDirectives,
  ticketName,
  type WorkerInfo,
} from '../../src/model/pool-run.js';
import { planScale, workerLiveness, type PilotView, type ScaleInput } from '../../src/model/pool-scale.js';
import { throwsUsage } from '../helpers/assert.js';

test('--nodes: MIN..MAX, or MAX alone (from 0); nonsense names the flag', () => {
  assert.equal(parseNodeRange('0..4'), { min: 0, max: 4 });
  assert.equal(parseNodeRange('2..2'), { min: 2, max: 2 });
  assert.equal(parseNodeRange('3'), { min: 0, max: 3 });
  for (const bad of ['4..1', '0..0', '0', 'a..b', '-1..2', '1..2000']) throwsUsage(() => parseNodeRange(bad), '--nodes');
});

test('capabilities: comma or & separated words, sorted and unique; "|" is refused with a hint', () => {
  assert.equal(parseCapabilities('gpu,apptainer', '--capability'), ['apptainer', 'gpu']);
  assert.equal(parseCapabilities('gpu&gpu& bigmem', '--constraint'), ['bigmem', 'gpu']);
  const e = throwsUsage(() => parseCapabilities('gpu|cpu', '--constraint'), '--constraint');
  assert.match(e.hint ?? '', /not supported/);
});

test('scheduler names: built-ins, plugins and pool:NAME (lowercase)', () => {
  for (const ok of ['slurm', 'my-plugin', 'pool:gpu', 'pool:lab.ws_2']) assert.ok(isSchedulerName(ok), ok);
  for (const bad of ['Slurm', 'pool:', 'pool:GPU', 'pool:a b', 'pool:-x']) assert.not.ok(isSchedulerName(bad), bad);
});

test('#QDO_POOL lines round-trip, and an unknown key names the line', () => {
  const d = { name: 'fit', slots: 4, needs: ['apptainer', 'gpu'], mem: 4096, gpus: 1, time: 600, after: ['0mxby0tpd-e20785'], tag: 'abc' };
  const script = ['#!/bin/bash', ...renderPoolDirectives(d), '', 'echo hi'].join('\n');
  assert.equal(parsePoolDirectives(script, 's.sh'), d);
  const plain = ['#!/bin/bash', ...renderPoolDirectives({ ...d, needs: [], mem: null, gpus: 0, time: null, after: [], tag: null })].join('\n');
  assert.equal(parsePoolDirectives(plain, 's.sh'), { ...d, needs: [], mem: null, gpus: 0, time: null, after: [], tag: null });
  throwsUsage(() => parsePoolDirectives('#!/bin/bash\n#QDO_POOL colour=red\n', 's.sh'), 's.sh:2');
  throwsUsage(() => parsePoolDirectives('#!/bin/bash\n#QDO_POOL slots=0\n', 's.sh'), 'slots');
});

test('ticket names: the key, then key~N from the second attempt; keys sort by time', () => {
  const k = newRunKey(Date.parse('2026-11-21T09:30:00.000Z'), 'a1b2c3');
  assert.match(k, /^[0-9a-z]{9}-a1b2c3$/);
  assert.ok(newRunKey(Date.parse('2026-11-21T09:30:00.001Z'), '000000') > k.slice(0, 9));
  assert.is(ticketName(k, 1), k);
  assert.is(ticketName(k, 3), `${k}~3`);
  assert.equal(parseTicketName(`${k}~3`), { key: k, attempt: 3 });
  assert.equal(parseTicketName(k), { key: k, attempt: 1 });
  for (const bad of [`${k}~1`, `${k}~x`, 'nope', `.${k}.tmp-0011aabb`]) assert.is(parseTicketName(bad), null, bad);
});

test('matching: capabilities, slots, memory, GPUs (counted, uncounted, none), time left', () => {
  const run = { slots: 2, needs: ['gpu'], mem: 1000, gpus: 1, time: 600 };
  const gpuBox = { slots: 4, capabilities: ['gpu'], mem: 4000, gpus: gpusOf(undefined, ['gpu']) };
  const cpuBox = { slots: 8, capabilities: [], mem: null, gpus: gpusOf(undefined, []) };
  assert.is(gpuBox.gpus, null);
  assert.is(cpuBox.gpus, 0);
  assert.ok(couldRun(run, gpuBox));
  assert.not.ok(couldRun(run, cpuBox), 'needs gpu');
  assert.not.ok(couldRun({ ...run, needs: [] }, cpuBox), 'needs a GPU the box does not have');
  assert.ok(couldRun({ ...run, needs: [], gpus: 0 }, cpuBox));
  assert.not.ok(couldRun({ ...run, slots: 5 }, gpuBox));
  assert.not.ok(couldRun({ ...run, mem: 5000 }, gpuBox));
  assert.ok(fitsNow(run, gpuBox, { slots: 2, mem: 3000, gpus: 5 }), 'uncounted GPUs never run out');
  assert.not.ok(fitsNow(run, gpuBox, { slots: 3, mem: 0, gpus: 0 }));
  assert.not.ok(fitsNow(run, gpuBox, { slots: 0, mem: 3500, gpus: 0 }));
  assert.not.ok(fitsNow(run, { ...gpuBox, gpus: 2 }, { slots: 0, mem: 0, gpus: 2 }));
  assert.ok(hasTimeFor(run, null));
  assert.ok(hasTimeFor(run, 600));
  assert.not.ok(hasTimeFor(run, 599));
  assert.not.ok(hasTimeFor({ time: null }, 59), 'a run without a duration needs the last minute');
});

const worker = (over: Partial<WorkerInfo> = {}): WorkerInfo => ({
  schema: 'qdo.pool-worker/v1',
  id: 'node1.42.abcd',
  kind: 'worker',
  pool: 'gpu',
  host: 'node1',
  pid: 42,
  identity: 'boot:100',
  started: '2026-11-21T09:00:00.000Z',
  slots: 4,
  capabilities: [],
  mem: null,
  gpus: 0,
  pilot: null,
  ends_at: null,
  ...over,
});
const hb = (time: string) => ({ time, seq: 1, mode: 'claiming' as const, used: 0, running: [], ended: 0, ended_5m: 0, idle_since: null });
const NOW = Date.parse('2026-11-21T09:30:00.000Z');

test('liveness: same host decides by process identity, whatever the heartbeat', () => {
  const here = (id: string | null) => ({ host: 'node1', identity: () => id });
  const old = hb('2026-11-21T09:00:00.000Z');
  assert.not.ok(workerLiveness({ worker: worker(), heartbeat: old, nowMs: NOW, lease: 60, here: here('boot:100'), exited: false }).dead, 'alive (stopped with ^Z?) though silent');
  assert.ok(workerLiveness({ worker: worker(), heartbeat: hb('2026-11-21T09:29:59.000Z'), nowMs: NOW, lease: 60, here: here(null), exited: false }).dead, 'gone');
  const reused = workerLiveness({ worker: worker(), heartbeat: hb('2026-11-21T09:29:59.000Z'), nowMs: NOW, lease: 60, here: here('boot:999'), exited: false });
  assert.ok(reused.dead);
  assert.match(reused.why, /another process/);
});

test('liveness: another host decides by the pilot job, then by the heartbeat lease', () => {
  const there = { host: 'login', identity: () => 'x' };
  const w = worker({ pilot: { key: 'p-000000000-0000', sched_id: '7' } });
  assert.not.ok(workerLiveness({ worker: w, heartbeat: hb('2026-11-21T09:29:10.000Z'), nowMs: NOW, lease: 60, here: there, exited: false }).dead);
  assert.ok(workerLiveness({ worker: w, heartbeat: hb('2026-11-21T09:28:59.000Z'), nowMs: NOW, lease: 60, here: there, exited: false }).dead);
  const ended = workerLiveness({ worker: w, heartbeat: hb('2026-11-21T09:29:59.000Z'), nowMs: NOW, lease: 60, here: there, pilotState: 'cancelled', exited: false });
  assert.ok(ended.dead);
  assert.match(ended.why, /pilot job 7 ended cancelled/);
  assert.ok(workerLiveness({ worker: w, heartbeat: null, nowMs: NOW, lease: 60, here: there, pilotState: 'running', exited: true }).dead, 'said it exited');
  assert.ok(workerLiveness({ worker: w, heartbeat: null, nowMs: NOW, lease: 60, here: there, exited: false }).dead, 'no heartbeat: its start counts');
});

const pilot = (key: string, state: string, over: Partial<PilotView> = {}): PilotView => ({ key, state, intentMs: NOW - 120_000, worker: null, ...over });
const plan = (over: Partial<ScaleInput>) => planScale({ min: 0, max: 2, slots: 4, idle: 60, consolidate: false, pilots: [], demand: [], nowMs: NOW, ...over });

test('scaling: adds pilots while runs wait, never beyond max, counting waiting pilots as free', () => {
  assert.is(plan({ demand: [1] }).add, 1);
  assert.is(plan({ demand: Array(200).fill(1) }).add, 2);
  assert.is(plan({ demand: Array(200).fill(1), pilots: [pilot('a', 'pending')] }).add, 1);
  assert.is(plan({ demand: [1, 1, 1], pilots: [pilot('a', 'pending')] }).add, 0, 'the waiting pilot will take them');
  const busy = pilot('a', 'running', { worker: { id: 'w', used: 4, mode: 'claiming', running: 4 } });
  assert.is(plan({ demand: [1], pilots: [busy] }).add, 1);
  assert.is(plan({ demand: [1], pilots: [{ ...busy, worker: { id: 'w', used: 2, mode: 'claiming', running: 2 } }] }).add, 0);
  assert.is(plan({ demand: [1], pilots: [busy, pilot('b', 'cancelled')] }).add, 1, 'ended pilots do not count');
  assert.is(plan({ demand: [], min: 1 }).add, 1, 'min is kept without work');
  assert.is(plan({ demand: [1], pilots: [{ ...busy, worker: { id: 'w', used: 0, mode: 'draining', running: 0 } }] }).add, 1, 'a draining pilot takes nothing');
});

test('scaling: waiting pilots nobody needs are cancelled once they waited the idle time, down to min', () => {
  const young = pilot('y', 'pending', { intentMs: NOW - 10_000 });
  assert.equal(plan({ pilots: [pilot('a', 'pending'), young] }).cancel, ['a'], 'the young one waits out its idle time');
  assert.equal(plan({ pilots: [pilot('a', 'pending')], min: 1 }).cancel, []);
  assert.equal(plan({ pilots: [pilot('a', 'pending'), pilot('b', 'pending')], demand: [1] }).cancel.length, 1, 'one is still needed');
  assert.equal(plan({ pilots: [pilot('a', 'submitting')] }).cancel, [], 'no id yet: nothing to cancel');
  assert.equal(plan({ pilots: [pilot('a', 'running', { started: true })] }).cancel, [], 'started: starting up or ending, not waiting');
});

test('scaling: consolidation drains the least busy pilot when the others hold all runs (opt-in)', () => {
  const w = (id: string, used: number) => pilot(id, 'running', { worker: { id: `w-${id}`, used, mode: 'claiming', running: used } });
  assert.equal(plan({ consolidate: true, pilots: [w('a', 3), w('b', 1)] }).drain, ['w-b']);
  assert.equal(plan({ consolidate: false, pilots: [w('a', 3), w('b', 1)] }).drain, []);
  assert.equal(plan({ consolidate: true, pilots: [w('a', 3), w('b', 2)] }).drain, [], 'they would not fit on one');
  assert.equal(plan({ consolidate: true, pilots: [w('a', 1), w('b', 1)], demand: [1] }).drain, [], 'not while runs wait');
  assert.equal(plan({ consolidate: true, min: 2, pilots: [w('a', 1), w('b', 1)] }).drain, [], 'not below min');
});

test('pause and resume: everything, a host, a worker', () => {
  let c = applyPause(emptyControl(), true, { host: 'ws1' });
  assert.ok(isPaused(c, 'ws1', 'w'));
  assert.not.ok(isPaused(c, 'ws2', 'w'));
  c = applyPause(c, true, { worker: 'w2' });
  assert.ok(isPaused(c, 'ws2', 'w2'));
  c = applyPause(c, false, { host: 'ws1' });
  assert.not.ok(isPaused(c, 'ws1', 'w'));
  c = applyPause(c, true, {});
  assert.ok(isPaused(c, 'any', 'any'));
  c = applyPause(c, false, {});
  assert.equal(c.paused, { all: false, hosts: [], workers: [] });
});

test('pool.json problems name the field', () => {
  const good = {
    schema: 'qdo.pool/v1',
    name: 'gpu',
    scheduler: 'slurm',
    cluster: 'c',
    pilots: { min: 0, max: 4 },
    slots: 4,
    capabilities: ['gpu'],
    resources: { cpus: 16, time: 14400 },
    idle: 60,
    lease: 60,
    max_requeue: 3,
    consolidate: false,
    worker_command: null,
    created: '2026-11-21T09:30:00.000Z',
  };
  assert.equal(poolProblems(good), []);
  assert.match(poolProblems({ ...good, pilots: { min: 3, max: 1 } })[0]!, /^pilots:/);
  assert.match(poolProblems({ ...good, scheduler: null })[0]!, /^pilots: a pool without a scheduler/);
  assert.match(poolProblems({ ...good, scheduler: 'pool:x' })[0]!, /^scheduler:/);
  assert.match(poolProblems({ ...good, resources: { cpus: 0 } })[0]!, /^resources.cpus/);
});

test.run();
