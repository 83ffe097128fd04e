import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import {
  formatHms,
  formatMemory,
  formatSlurmTime,
  parseCount,
  parseMemory,
  parseResourceFlags,
  parseWalltime,
} from '../../src/model/resource-units.js';

function throwsUsage(fn: () => unknown, message: string | RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, UsageError);
    const err = e as UsageError;
    assert.is(err.exitCode, 2);
    if (typeof message === 'string') assert.is(err.message, message);
    else assert.match(err.message, message);
    return;
  }
  assert.unreachable(`expected a UsageError matching ${String(message)}`);
}

const WALLTIMES: [string, number][] = [
  ['90', 90 * 60],
  ['1', 60],
  [' 45 ', 45 * 60],
  ['30:00', 30 * 60],
  ['90:30', 90 * 60 + 30],
  ['1:30:00', 5400],
  ['01:02:03', 3723],
  ['100:00:00', 360000],
  ['2-12', 2 * 86400 + 12 * 3600],
  ['2-12:30', 2 * 86400 + 12 * 3600 + 30 * 60],
  ['1-00:00:01', 86401],
  ['0-0:0:1', 1],
  ['90m', 5400],
  ['2h', 7200],
  ['2H', 7200],
  ['1d', 86400],
  ['30s', 30],
  ['1h30m', 5400],
  ['1d12h', 129600],
  ['1h0m5s', 3605],
  ['1.5h', 5400],
  ['1.1h', 3960],
  ['0.5m', 30],
  ['0.001m', 1],
  ['1.5', 90],
];
for (const [text, sec] of WALLTIMES) {
  test(`parseWalltime ${JSON.stringify(text)} = ${sec}s`, () => {
    assert.is(parseWalltime(text), sec);
  });
}

const BAD_WALLTIMES = ['', 'abc', '1x', '1h30', 'h', '1:2:3:4', '-5', '1--2', '0', '00:00', '0s', '1.5.2h', '30m1h', '2 h x'];
for (const text of BAD_WALLTIMES) {
  test(`parseWalltime rejects ${JSON.stringify(text)}`, () => {
    throwsUsage(() => parseWalltime(text, '--time'), /^--time: expected a duration/);
  });
}

test('parseWalltime error names the field and echoes the input', () => {
  throwsUsage(
    () => parseWalltime('soon'),
    'time: expected a duration like 90 (minutes), 30:00, 1:30:00, 2-12, 2-12:30:00, 90m, 2h, 1h30m, 1.5h or 1d, found "soon"',
  );
  try {
    parseWalltime('soon', 'resources.time');
  } catch (e) {
    assert.is((e as UsageError).code, 'bad-resource');
    assert.equal((e as UsageError).data, { field: 'resources.time', found: 'soon' });
  }
});

const MEMORY: [string, number][] = [
  ['512', 512],
  ['512M', 512],
  ['512m', 512],
  ['512MB', 512],
  ['512MiB', 512],
  ['4G', 4096],
  ['4g', 4096],
  ['4GB', 4096],
  ['4gib', 4096],
  ['4 G', 4096],
  ['1.5T', 1572864],
  ['1T', 1048576],
  ['1024K', 1],
  ['1025K', 2],
  ['1K', 1],
  ['0.5G', 512],
  ['1.5', 2],
  ['100KB', 1],
];
for (const [text, mib] of MEMORY) {
  test(`parseMemory ${JSON.stringify(text)} = ${mib} MiB`, () => {
    assert.is(parseMemory(text), mib);
  });
}

const BAD_MEMORY = ['', '4Q', 'G', '4GG', '-1G', '0', '0G', '4 GBs', '1e3M', 'lots'];
for (const text of BAD_MEMORY) {
  test(`parseMemory rejects ${JSON.stringify(text)}`, () => {
    throwsUsage(() => parseMemory(text, '--mem'), /^--mem: expected a size/);
  });
}

test('parseMemory error text', () => {
  throwsUsage(() => parseMemory('4Q', '--mem'), '--mem: expected a size like 512M, 4G, 1.5T, found "4Q"');
  throwsUsage(() => parseMemory('0'), 'mem: expected a size of at least 1M, found "0"');
});

test('parseCount', () => {
  assert.is(parseCount('4', '--cpus'), 4);
  assert.is(parseCount('0', '--gpus', 0), 0);
  throwsUsage(() => parseCount('0', '--cpus'), '--cpus: expected an integer >= 1, found "0"');
  throwsUsage(() => parseCount('4.5', '--cpus'), '--cpus: expected an integer >= 1, found "4.5"');
  throwsUsage(() => parseCount('four', '--cpus'), /found "four"/);
});

const SLURM_TIMES: [number, string][] = [
  [1, '00:00:01'],
  [59, '00:00:59'],
  [3600, '01:00:00'],
  [5400, '01:30:00'],
  [86399, '23:59:59'],
  [86400, '1-00:00:00'],
  [129600 + 61, '1-12:01:01'],
  [10 * 86400, '10-00:00:00'],
];
for (const [sec, text] of SLURM_TIMES) {
  test(`formatSlurmTime ${sec} = ${text}`, () => {
    assert.is(formatSlurmTime(sec), text);
    assert.is(parseWalltime(text), sec);
  });
}

const HMS: [number, string][] = [
  [1, '00:00:01'],
  [5400, '01:30:00'],
  [86400, '24:00:00'],
  [216000, '60:00:00'],
  [360000 + 1, '100:00:01'],
];
for (const [sec, text] of HMS) {
  test(`formatHms ${sec} = ${text}`, () => {
    assert.is(formatHms(sec), text);
    assert.is(parseWalltime(text), sec);
  });
}

const MEM_OUT: [number, string][] = [
  [4096, '4G'],
  [4097, '4097M'],
  [512, '512M'],
  [1024, '1G'],
  [1048576, '1024G'],
  [1, '1M'],
];
for (const [mib, text] of MEM_OUT) {
  test(`formatMemory ${mib} = ${text}`, () => {
    assert.is(formatMemory(mib), text);
    assert.is(parseMemory(text), mib);
  });
}

test('parseResourceFlags: everything', () => {
  const r = parseResourceFlags({
    cpus: '4',
    tasks: '2',
    nodes: '1',
    mem: '4G',
    gpus: '0',
    time: '1h30m',
    partition: 'gpu',
    account: 'proj42',
    qos: 'high',
    constraint: 'skylake&ib',
    array: '1-10%2',
    'job-name': 'my job',
    output: 'out.%j',
    error: 'err.%j',
    'mail-user': 'a@b.c',
    'mail-type': 'BEGIN,end, FAIL',
    unrelated: 'ignored',
    verbose: undefined,
  });
  assert.equal(r, {
    cpus: 4,
    tasks: 2,
    nodes: 1,
    gpus: 0,
    mem: 4096,
    time: 5400,
    partition: 'gpu',
    account: 'proj42',
    qos: 'high',
    constraint: 'skylake&ib',
    array: '1-10%2',
    job_name: 'my job',
    stdout: 'out.%j',
    stderr: 'err.%j',
    mail: { user: 'a@b.c', events: ['begin', 'end', 'fail'] },
  });
});

test('parseResourceFlags: empty and undefined give nothing', () => {
  assert.equal(parseResourceFlags({}), {});
  assert.equal(parseResourceFlags({ cpus: undefined, mem: undefined }), {});
});

test('parseResourceFlags: queue is partition', () => {
  assert.equal(parseResourceFlags({ queue: 'workq' }), { partition: 'workq' });
  assert.equal(parseResourceFlags({ queue: 'workq', partition: 'workq' }), { partition: 'workq' });
  throwsUsage(() => parseResourceFlags({ queue: 'a', partition: 'b' }), /--partition and --queue/);
});

test('parseResourceFlags: mem-per-cpu and its exclusion with mem', () => {
  assert.equal(parseResourceFlags({ 'mem-per-cpu': '2000' }), { mem_per_cpu: 2000 });
  throwsUsage(() => parseResourceFlags({ mem: '1G', 'mem-per-cpu': '1G' }), /--mem and --mem-per-cpu/);
});

test('parseResourceFlags: mail-type none', () => {
  assert.equal(parseResourceFlags({ 'mail-type': 'none' }), {});
  assert.equal(parseResourceFlags({ 'mail-type': 'all', 'mail-user': 'u@x' }), { mail: { user: 'u@x', events: ['all'] } });
});

const BAD_FLAGS: [Record<string, string>, string | RegExp][] = [
  [{ mem: '4Q' }, '--mem: expected a size like 512M, 4G, 1.5T, found "4Q"'],
  [{ 'mem-per-cpu': 'x' }, /^--mem-per-cpu: expected a size/],
  [{ cpus: '0' }, '--cpus: expected an integer >= 1, found "0"'],
  [{ tasks: '-1' }, '--tasks: expected an integer >= 1, found "-1"'],
  [{ nodes: 'two' }, '--nodes: expected an integer >= 1, found "two"'],
  [{ gpus: 'a100:2' }, '--gpus: expected an integer >= 0, found "a100:2"'],
  [{ time: 'tomorrow' }, /^--time: expected a duration like/],
  [{ array: '1-' }, '--array: expected an index spec like 1-10, 0-99:2, 1,3,5 or 1-100%10, found "1-"'],
  [{ partition: '' }, '--partition: expected a non-empty one-line value, found ""'],
  [{ 'job-name': 'a\nb' }, /^--job-name: expected a non-empty one-line value/],
  [{ 'mail-type': 'sometimes' }, /^--mail-type: expected a comma-separated list of begin, end, fail, all/],
];
for (const [flags, msg] of BAD_FLAGS) {
  test(`parseResourceFlags rejects ${JSON.stringify(flags)}`, () => {
    throwsUsage(() => parseResourceFlags(flags), msg);
  });
}

test.run();

// spec/scheduler-common.md §Ranges: every numeric value is range-checked, naming the flag and the range.
const OUT_OF_RANGE: [Record<string, string>, RegExp][] = [
  [{ time: '99999999999999' }, /^--time: expected a duration of at most 365 days/],
  [{ time: '366d' }, /^--time: expected a duration of at most 365 days/],
  [{ time: '1:99:99' }, /^--time: expected minutes and seconds below 60/],
  [{ time: '1:30:60' }, /^--time: expected minutes and seconds below 60/],
  [{ time: '10:60' }, /^--time: expected minutes and seconds below 60/],
  [{ time: '1-24' }, /hours below 24/],
  [{ time: '1-23:60' }, /below 60/],
  [{ mem: '2P' }, /^--mem: expected a size like/],
  [{ mem: '1048577G' }, /^--mem: expected a size of at most 1P/],
  [{ 'mem-per-cpu': '99999999999T' }, /^--mem-per-cpu: expected a size of at most 1P/],
  [{ cpus: '65536' }, /^--cpus: expected an integer from 1 to 65535, found "65536"$/],
  [{ tasks: '99999999999' }, /^--tasks: expected an integer from 1 to 10000000/],
  [{ nodes: '1000001' }, /^--nodes: expected an integer from 1 to 1000000/],
  [{ gpus: '1025' }, /^--gpus: expected an integer from 0 to 1024/],
  [{ array: '5-1' }, /^--array: expected ranges that run upwards, not 5-1, found "5-1"$/],
  [{ array: '1-10:0' }, /^--array: expected a step of at least 1/],
  [{ array: '1-10%0' }, /^--array: expected a "%" limit of at least 1/],
  [{ array: '0-4000001' }, /^--array: expected indices from 0 to 4000000/],
  [{ array: '1,9-3' }, /run upwards, not 9-3/],
  [{ partition: 'a\u0000b' }, /^--partition: expected a value without control characters/],
  [{ account: 'x'.repeat(5000) }, /^--account: expected a value of at most 4096 characters/],
];
for (const [flags, re] of OUT_OF_RANGE) {
  test(`parseResourceFlags refuses ${JSON.stringify(flags).slice(0, 60)}`, () => throwsUsage(() => parseResourceFlags(flags), re));
}

test('the largest values of each range are accepted', () => {
  assert.equal(parseResourceFlags({ time: '365-00:00:00', mem: '1024T', cpus: '65535', gpus: '1024', array: '0-4000000:2%1', nodes: '1000000', tasks: '10000000' }), {
    time: 365 * 86400,
    mem: 1024 ** 3,
    cpus: 65535,
    gpus: 1024,
    array: '0-4000000:2%1',
    nodes: 1000000,
    tasks: 10000000,
  });
  assert.is(parseWalltime('90:59'), 90 * 60 + 59);
  assert.is(parseWalltime('100:59:59'), 100 * 3600 + 59 * 60 + 59);
});
