// qdo retry, in-process on the local backend (real jobs on this machine).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo } from '../helpers/cli.js';
import { ok as okIn, useLocalHome, waitDone as waitDoneIn, type Json, readRecord } from '../helpers/jobs.js';

const local = useLocalHome(test, 'qdo-retry-');

const ok = (args: string[]): Promise<string> => okIn(local.opts, args);

async function submit(job: string, ...rest: string[]): Promise<Json> {
  return JSON.parse(await ok(['submit', job, '--json', ...rest]));
}

const waitDone = (job: string): Promise<Json> => waitDoneIn(local.opts, job);

const manifest = async (id: string): Promise<Json> => JSON.parse(await ok(['cat-object', id]));
const record = (id: string) => readRecord(local.home, id);
const refs = (): string => {
  try {
    return readFileSync(join(local.home, '.qdo', 'refs', 'p.refs'), 'utf8') + readdirSync(join(local.home, '.qdo', 'refs')).join(',');
  } catch {
    return '';
  }
};

test('retry --time x2 after a failure: version 2, time doubled, parent v1, template re-rendered', async () => {
  const v1 = await submit('p/j', '--time', '1m', '--set', 'lr=0.1', '--set', 'code=1', '--', 'bash', '-c', 'echo "limit {{ resources.time }} lr {{ lr }}"; exit {{ code }}');
  assert.is((await waitDone('p/j')).state, 'failed');
  const r = await qdo(['retry', 'p/j', '--time', 'x2', '--set', 'code=0', '--json'], local.opts);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.version, 1);
  assert.is(out.dry_run, false);
  assert.is(out.retried.length, 1);
  const v2 = out.retried[0];
  assert.is(v2.job, 'p/j');
  assert.equal(v2.from, { id: v1.id, job_version: 1, state: 'failed' });
  assert.is(v2.job_version, 2);
  assert.is(v2.parent, v1.id);
  assert.equal(v2.resources, { time: 120 });
  assert.is(v2.scheduler, 'local');
  assert.is(v2.state, 'pending');
  assert.equal(out.skipped, []);

  const m = await manifest(v2.id);
  assert.is(m.version, 2);
  assert.is(m.parent, v1.id);
  assert.equal(m.resources, { time: 120 });
  assert.equal(m.params, { lr: '0.1', code: '0' });
  assert.is(m.retry_of, v1.id);
  assert.is(m.auto_retry, undefined);
  assert.equal(m.template, (await manifest(v1.id)).template);
  assert.is(record(v1.id).retried_by, v2.id);

  const done = await waitDone('p/j');
  assert.is(done.job_version, 2);
  assert.is(done.state, 'completed');
  assert.is(readFileSync(join(v2.run_dir, 'stdout'), 'utf8'), 'limit 120 lr 0.1\n', 'resources.time and params as the new version has them');
});

test('human output names the change; an older REV gives its content a new version on top of the latest', async () => {
  const v1 = await submit('p/j', '--time', '1h', '--mem', '1G', '--', 'bash', '-c', 'echo one; exit 2');
  await waitDone('p/j');
  const v2 = await submit('p/j', '--', 'echo', 'two');
  await waitDone('p/j');
  const twice = await qdo(['retry', 'p/j@1', 'p/j'], local.opts);
  assert.is(twice.code, 2);
  assert.is(twice.stderr, 'qdo: retry: p/j@1 and p/j@2 are versions of the same job; retry one of them at a time\n');
  const r = await qdo(['retry', 'p/j@1', '--time', '+30m', '--mem', '+50%'], local.opts);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'p/j@3 pending: local job 3 (retry of @1, failed; mem 1G -> 1536M, time 01:00:00 -> 01:30:00)\n');
  const latest = JSON.parse(await ok(['status', '--json', 'p/j'])).jobs[0];
  const m3 = await manifest(latest.id);
  assert.is(m3.version, 3);
  assert.is(m3.parent, v2.id, 'parent is the latest version, not the one retried');
  assert.is(m3.retry_of, v1.id);
  assert.equal(m3.template, { kind: 'command', argv: ['bash', '-c', 'echo one; exit 2'] });
  assert.equal(m3.resources, { mem: 1536, time: 5400 });
  await waitDone('p/j');
  assert.is(readFileSync(join(local.home, 'p', 'runs', 'j', `3-${latest.id.slice(0, 8)}`, 'stdout'), 'utf8'), 'one\n');
});

test('a resource template is re-rendered from the bytes stored, not the edited file', async () => {
  writeFileSync(join(local.home, 'tpl.sh'), '#!/bin/bash\necho "v1 {{ resources.cpus }}"\nexit 1\n');
  await submit('p/r', '--script', join(local.home, 'tpl.sh'), '--cpus', '1');
  await waitDone('p/r');
  writeFileSync(join(local.home, 'tpl.sh'), '#!/bin/bash\necho "edited"\n');
  const out = JSON.parse(await ok(['retry', 'p/r', '--cpus', '+1', '--json']));
  const script = (await ok(['cat-object', (await manifest(out.retried[0].id)).script])).toString();
  assert.is(script, '#!/bin/bash\necho "v1 2"\nexit 1\n');
});

test('--dry-run prints the exact script and writes nothing', async () => {
  await submit('p/j', '--time', '10', '--', 'bash', '-c', 'echo {{ resources.time }}; exit 1');
  await waitDone('p/j');
  const before = refs();
  const r = await qdo(['retry', 'p/j', '--time', 'x3', '--dry-run'], local.opts);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^#!\/bin\/bash\n/);
  assert.match(r.stdout, /#QDO_LOCAL time=1800\n/);
  assert.match(r.stdout, /bash -c 'echo 1800; exit 1'/);
  assert.is(refs(), before);
  const st = JSON.parse(await ok(['status', '--json', '-a']));
  assert.is(st.jobs.length, 1);
  const j = JSON.parse((await qdo(['retry', 'p/j', '--dry-run', '--json'], local.opts)).stdout);
  assert.is(j.dry_run, true);
  assert.is(j.retried[0].state, 'dry-run');
  assert.is(j.retried[0].sched_id, null);
  assert.match(j.retried[0].script, /#QDO_LOCAL time=600\n/);
});

test('several jobs retried in one command: every new version has its objects stored (fsck clean)', async () => {
  await submit('p/a', '--', 'bash', '-c', 'exit 1');
  await submit('p/b', '--', 'bash', '-c', 'exit 2');
  await waitDone('p/a');
  await waitDone('p/b');
  const r = JSON.parse(await ok(['retry', 'p/a', 'p/b', '--json']));
  assert.equal(r.retried.map((x: Json) => `${x.job}@${x.job_version}`), ['p/a@2', 'p/b@2']);
  for (const x of r.retried) assert.is(JSON.parse(await ok(['cat-object', x.id])).version, 2);
  const f = await qdo(['fsck'], local.opts);
  assert.is(f.code, 0, f.stdout + f.stderr);
});

test('--failed retries failed ends only; cancelled only when named; none left: exit 0 with a message', async () => {
  await submit('p/bad', '--set', 'code=3', '--', 'bash', '-c', 'exit {{ code }}');
  await submit('p/good', '--', 'true');
  await submit('p/stop', '--hold', '--', 'true');
  assert.is((await qdo(['cancel', 'p/stop'], local.opts)).code, 0);
  await waitDone('p/bad');
  await waitDone('p/good');
  assert.is((await waitDone('p/stop')).state, 'cancelled');

  const r = await qdo(['retry', '--failed', '--set', 'code=0', '--json'], local.opts);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.retried.map((x: Json) => `${x.job}@${x.job_version}`), ['p/bad@2']);
  assert.equal(out.skipped.map((x: Json) => `${x.job} ${x.state}`), ['p/good completed', 'p/stop cancelled']);
  assert.is((await waitDone('p/bad')).state, 'completed');

  const none = await qdo(['retry', '--failed', 'p/*'], local.opts);
  assert.is(none.code, 0, none.stderr);
  assert.is(none.stdout, 'nothing to retry: none of the 3 selected job(s) ended failed, timeout, out-of-memory, node-fail or preempted\n');

  // Named explicitly, a cancelled job is retried.
  const named = JSON.parse(await ok(['retry', 'p/stop', '--json']));
  assert.equal(named.retried.map((x: Json) => [x.job_version, x.from.state]), [[2, 'cancelled']]);
});

test('a running job: exit 4 "still running; cancel it first", nothing written', async () => {
  await submit('p/slow', '--', 'sleep', '30');
  const before = refs();
  const r = await qdo(['retry', 'p/slow', '--time', '2h'], local.opts);
  assert.is(r.code, 4);
  assert.match(r.stderr, /^qdo: p\/slow@1 is still (pending|running); cancel it first\nhint: qdo cancel p\/slow@1/);
  assert.is(refs(), before);
  assert.is((await qdo(['cancel', 'p/slow'], local.opts)).code, 0);
});

test('bad input: one message, documented exit code', async () => {
  await submit('p/j', '--time', '5', '--', 'false');
  await waitDone('p/j');
  const cases: [string[], number, RegExp][] = [
    [['retry'], 3, /^qdo: retry: no job given\nhint: .*--failed/],
    [['retry', 'p/j', '--time', 'x'], 2, /^qdo: --time: expected a value or a change like 2h, x2, \+30m, \+50%/],
    [['retry', 'p/j', '--mem', '+1G'], 2, /^qdo: --mem \+1G: the job has no mem to change\nhint: give an absolute value instead, e\.g\. --mem 8G/],
    [['retry', 'p/j', '--time', '-5'], 2, /^qdo: --time -5: 300 s would become 0 s; the least is 1 s/],
    [['retry', 'p/j', '--set', 'novalue'], 2, /^qdo: --set "novalue": expected KEY=VALUE/],
    [['retry', 'p/jj'], 3, /unknown|no job/],
    [['retry', 'p/x*'], 3, /no job matches "p\/x\*"/],
  ];
  const before = refs();
  for (const [args, code, re] of cases) {
    const r = await qdo(args, local.opts);
    assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.is(refs(), before, 'nothing written');
});

test.run();
