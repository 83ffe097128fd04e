// Relative resource flags of qdo retry (src/model/resource-change.ts; man qdo-retry(1)).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { applyResourceChanges, isRelative, parseRelative, parseResourceChanges } from '../../src/model/resource-change.js';
import type { Resources } from '../../src/model/resources.js';

function usage(fn: () => unknown, flag: string, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
    assert.is(e.exitCode, 2);
    assert.is(e.code, 'bad-resource');
    assert.ok(e.message.startsWith(`--${flag}`), `message names the flag: ${e.message}`);
    assert.match(e.message, re);
    return;
  }
  assert.unreachable(`expected an error for --${flag}`);
}

const base: Resources = { time: 3600, mem: 4096, cpus: 4, tasks: 2, nodes: 1, gpus: 1, partition: 'gpu' };
const apply = (flags: Record<string, string>, b: Resources = base): Resources => applyResourceChanges(b, parseResourceChanges(flags));

test('isRelative tells changes from values', () => {
  for (const t of ['x2', 'X1.5', '*2', '+30m', '-1', '+50%', ' +50% ', '-10%']) assert.ok(isRelative(t), t);
  for (const t of ['2h', '90', '4G', '1:00:00', '2-12']) assert.not.ok(isRelative(t), t);
});

test('factors: x2, X1.5, *3', () => {
  assert.equal(parseRelative('time', 'x2'), { kind: 'scale', factor: 2, text: 'x2' });
  assert.equal(apply({ time: 'x2' }).time, 7200);
  assert.equal(apply({ mem: 'x1.5' }).mem, 6144);
  assert.equal(apply({ cpus: '*3' }).cpus, 12);
  assert.equal(apply({ time: 'X0.5' }).time, 1800);
  // rounding up to whole units, without float noise
  assert.equal(apply({ time: 'x1.1' }).time, 3960);
  assert.equal(apply({ cpus: 'x1.1' }).cpus, 5);
});

test('amounts: +30m, -10m, +2G, +2 (in the flag\'s own units)', () => {
  assert.equal(parseRelative('time', '+30m'), { kind: 'add', amount: 1800, text: '+30m' });
  assert.equal(apply({ time: '+30m' }).time, 5400);
  assert.equal(apply({ time: '+1:00:00' }).time, 7200);
  assert.equal(apply({ time: '+15' }).time, 4500, 'a bare walltime is minutes, as in submit');
  assert.equal(apply({ time: '-10m' }).time, 3000);
  assert.equal(apply({ mem: '+2G' }).mem, 6144);
  assert.equal(apply({ mem: '+512' }).mem, 4608, 'a bare size is MiB');
  assert.equal(apply({ cpus: '+2' }).cpus, 6);
  assert.equal(apply({ nodes: '+1' }).nodes, 2);
  assert.equal(apply({ tasks: '-1' }).tasks, 1);
  assert.equal(apply({ gpus: '-1' }).gpus, 0, 'gpus may go to 0');
});

test('percentages: +50%, -25%', () => {
  assert.equal(parseRelative('mem', '+50%'), { kind: 'scale', factor: 1.5, text: '+50%' });
  assert.equal(apply({ mem: '+50%' }).mem, 6144);
  assert.equal(apply({ time: '-25%' }).time, 2700);
  assert.equal(apply({ 'mem-per-cpu': '+100%' }, { mem_per_cpu: 1000 }).mem_per_cpu, 2000);
});

test('absolute values are read as in submit and replace the old ones', () => {
  const r = apply({ time: '2h', mem: '8G', partition: 'long', cpus: '16' });
  assert.equal(r, { time: 7200, mem: 8192, cpus: 16, tasks: 2, nodes: 1, gpus: 1, partition: 'long' });
  // mem and mem-per-cpu replace each other
  assert.equal(apply({ 'mem-per-cpu': '2G' }), { time: 3600, mem_per_cpu: 2048, cpus: 4, tasks: 2, nodes: 1, gpus: 1, partition: 'gpu' });
  assert.equal(apply({ mem: '1G' }, { mem_per_cpu: 100 }), { mem: 1024 });
  // --queue is --partition
  assert.is(apply({ queue: 'short' }).partition, 'short');
});

test('mixed absolute and relative flags, other fields kept', () => {
  assert.equal(apply({ time: 'x2', mem: '+50%', partition: 'long' }), { time: 7200, mem: 6144, cpus: 4, tasks: 2, nodes: 1, gpus: 1, partition: 'long' });
  assert.equal(apply({}), base);
});

test('malformed changes: errors name the flag and show the forms', () => {
  usage(() => parseRelative('time', 'x'), 'time', /expected a value or a change like 2h, x2, \+30m, \+50%.*found "x"/);
  usage(() => parseRelative('time', 'x-2'), 'time', /found "x-2"/);
  usage(() => parseRelative('time', 'x0'), 'time', /found "x0"/);
  usage(() => parseRelative('time', '+'), 'time', /found "\+"/);
  usage(() => parseRelative('time', '+abc'), 'time', /found "\+abc"/);
  usage(() => parseRelative('mem', '+2Q'), 'mem', /like 8G, x1.5/);
  usage(() => parseRelative('mem', '+x%'), 'mem', /found "\+x%"/);
  usage(() => parseRelative('cpus', '+1.5'), 'cpus', /found "\+1.5"/);
  usage(() => parseRelative('gpus', '50%'), 'gpus', /found "50%"/);
  usage(() => parseRelative('nodes', '-100%'), 'nodes', /100% or more leaves nothing/);
  usage(() => parseRelative('tasks', 'xx'), 'tasks', /found "xx"/);
  usage(() => parseRelative('mem-per-cpu', '*'), 'mem-per-cpu', /found "\*"/);
  usage(() => parseRelative('partition', 'x2'), 'partition', /only --time, --mem, .* take relative values/);
  // absolute values keep submit's messages
  usage(() => parseResourceChanges({ time: 'soon' }), 'time', /expected a duration/);
});

test('a change the old version cannot take: errors name the flag', () => {
  usage(() => apply({ time: 'x2' }, {}), 'time', /the job has no time to change/);
  usage(() => apply({ mem: '+50%' }, { mem_per_cpu: 1024 }), 'mem', /memory per CPU: use --mem-per-cpu/);
  usage(() => apply({ 'mem-per-cpu': 'x2' }, { mem: 1024 }), 'mem-per-cpu', /memory per node: use --mem\)$/);
  usage(() => apply({ time: '-2h' }), 'time', /3600 s would become -3600 s; the least is 1 s/);
  usage(() => apply({ cpus: '-4' }), 'cpus', /4 would become 0; the least is 1/);
  usage(() => apply({ gpus: '-2' }), 'gpus', /1 would become -1; the least is 0/);
  try {
    apply({ time: 'x2' }, {});
  } catch (e) {
    assert.is((e as UsageError).hint, 'give an absolute value instead, e.g. --time 2h');
  }
});

test('a change past the top of the range names the flag and the range (spec/scheduler-common.md §Ranges)', () => {
  usage(() => apply({ time: 'x100000' }), 'time', /3600 s would become 360000000 s; the most is 365 days/);
  usage(() => apply({ cpus: '+70000' }), 'cpus', /the most is 65535/);
  usage(() => apply({ mem: 'x1e9' }), 'mem', /expected a value or a change/);
});

test.run();
