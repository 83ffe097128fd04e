// Parsers of src/scheduler/slurm/parse.ts on outputs captured from the real Slurm 22.05
// (test/fixtures/slurm/README.md says how each was captured).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SchedulerError } from '../../src/errors.js';
import {
  aggregateArray,
  decodeWaitStatus,
  expandArrayId,
  isAccountingDisabled,
  isInvalidJobId,
  isSafeSubmitRetry,
  isTransientSlurmError,
  normaliseSlurmState,
  parseExitCodePair,
  parseSacct,
  parseSbatchParsable,
  parseSqueue,
  type SlurmRecord,
} from '../../src/scheduler/slurm/parse.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fixture = (name: string) => readFileSync(join(root, 'test/fixtures/slurm', name), 'utf8');
const byId = (recs: SlurmRecord[]) => new Map(recs.map((r) => [r.id, r]));
/** id → "state raw exit/signal" in one string, for whole-table comparisons. */
const summary = (recs: SlurmRecord[]) =>
  Object.fromEntries(recs.map((r) => [r.id, `${r.state} ${r.raw} ${r.exitCode ?? '-'}/${r.signal ?? '-'}${r.reason ? ' ' + r.reason : ''}`]));

test('sbatch --parsable: plain id and id;cluster', () => {
  assert.equal(parseSbatchParsable(fixture('sbatch-parsable.txt')), { id: '34' });
  assert.equal(parseSbatchParsable(fixture('sbatch-parsable-cluster.txt')), { id: '4242', cluster: 'qdo' });
  assert.equal(parseSbatchParsable('sbatch: warning: something\n77\n'), { id: '77' });
});

test('sbatch --parsable: anything else is a scheduler error naming what was found', () => {
  for (const bad of ['', 'Submitted batch job 12\n', '12 13\n']) {
    try {
      parseSbatchParsable(bad);
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      assert.instance(e, SchedulerError);
      assert.is((e as SchedulerError).code, 'scheduler-bad-output');
      assert.match((e as Error).message, /expected a job id/);
    }
  }
});

test('squeue: live states of every kind, from the real cluster', () => {
  assert.equal(summary(parseSqueue(fixture('squeue-live.txt'))), {
    '38': 'cancelled CANCELLED -/15',
    '40': 'cancelled CANCELLED 0/- JobHeldUser',
    '34': 'completed COMPLETED 0/-',
    '42_2': 'completed COMPLETED 0/-',
    '35': 'failed FAILED 3/- NonZeroExitCode',
    '36': 'failed FAILED -/9 JobLaunchFailure',
    '42_1': 'failed FAILED 1/- NonZeroExitCode',
    '42_3': 'failed FAILED 1/- NonZeroExitCode',
    '44': 'pending PENDING -/- Dependency',
    '45': 'pending PENDING -/- DependencyNeverSatisfied',
    ...Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => [`43_${i}`, 'held PENDING -/- JobHeldUser'])),
    '39': 'held PENDING -/- JobHeldUser',
    '37': 'running RUNNING -/-',
    '41': 'running RUNNING -/-',
    '46': 'suspended SUSPENDED -/-',
  });
});

test('squeue: ids, array bases, elements, comments (with a "|" inside)', () => {
  const recs = byId(parseSqueue(fixture('squeue-live.txt')));
  const arr = recs.get('42_1')!;
  assert.is(arr.rawId, '47');
  assert.is(arr.arrayBase, '42');
  assert.equal(arr.elements, ['42_1']);
  assert.is(arr.source, 'queue');
  // squeue -r: a pending element is its own line, with the array's unique id.
  const pending = recs.get('43_7')!;
  assert.is(pending.rawId, '43');
  assert.is(pending.arrayBase, '43');
  assert.equal(pending.elements, ['43_7']);
  assert.is(pending.comment, 'qdo:tag|with pipe');
  assert.is(recs.get('37')!.comment, 'qdo:tag-running');
  assert.is(recs.get('37')!.arrayBase, undefined);
  assert.equal(recs.get('37')!.elements, []);
  assert.is(recs.get('34')!.comment, undefined);
});

test('squeue: elements asked by element id, including one still inside a pending block', () => {
  assert.equal(
    parseSqueue(fixture('squeue-elements.txt')).map((r) => [r.id, r.rawId, r.state, r.comment]),
    [
      ['42_2', '48', 'completed', undefined],
      ['43_3', '43', 'held', 'qdo:tag|with pipe'],
    ],
  );
});

test('squeue: finished states (cancelled running jobs carry SIGTERM, timeout)', () => {
  const s = summary(parseSqueue(fixture('squeue-finished.txt')));
  assert.is(s['37'], 'cancelled CANCELLED -/15');
  assert.is(s['41'], 'timeout TIMEOUT -/15 TimeLimit');
  assert.is(s['45'], 'cancelled CANCELLED 0/- DependencyNeverSatisfied');
  assert.is(s['43_9'], 'cancelled CANCELLED 0/- JobHeldUser');
  assert.is(Object.keys(s).length, 24);
});

test('squeue: synthetic states and array blocks', () => {
  const recs = parseSqueue(fixture('squeue-synthetic.txt'));
  assert.equal(summary(recs), {
    '40': 'out-of-memory OUT_OF_MEMORY 127/- OutOfMemory',
    '41': 'node-fail NODE_FAIL 0/- NodeDown',
    '42': 'preempted PREEMPTED -/15',
    '43': 'held PENDING -/- JobHeldAdmin',
    '44_[1,3,5-9:2%4]': 'pending PENDING -/- Resources',
    '45_[0-99...': 'pending PENDING -/- Priority',
  });
  assert.equal(byId(recs).get('44_[1,3,5-9:2%4]')!.elements, ['44_1', '44_3', '44_5', '44_7', '44_9']);
  assert.equal(byId(recs).get('45_[0-99...')!.elements, []);
});

test('sacct: live and finished, from the real cluster ("CANCELLED by 0", TIMEOUT, 0:9)', () => {
  assert.equal(summary(parseSacct(fixture('sacct-finished.txt'))), {
    '34': 'completed COMPLETED 0/-',
    '35': 'failed FAILED 3/-',
    '36': 'failed FAILED -/9',
    '37': 'cancelled CANCELLED by 0 0/-',
    '38': 'cancelled CANCELLED by 0 0/-',
    '39': 'cancelled CANCELLED by 0 0/- JobHeldUser',
    '40': 'cancelled CANCELLED by 0 0/- JobHeldUser',
    '41': 'timeout TIMEOUT 0/-',
    '44': 'cancelled CANCELLED by 0 0/- Dependency',
    '45': 'cancelled CANCELLED by 0 0/- DependencyNeverSatisfied',
    '46': 'cancelled CANCELLED by 0 0/-',
    '42_1': 'failed FAILED 1/-',
    '42_2': 'completed COMPLETED 0/-',
    '42_3': 'failed FAILED 1/-',
    '43_[0-9%2]': 'cancelled CANCELLED by 0 0/- JobHeldUser',
  });
  const live = summary(parseSacct(fixture('sacct-live.txt')));
  assert.is(live['37'], 'running RUNNING -/-');
  assert.is(live['39'], 'held PENDING -/- JobHeldUser');
  assert.is(live['46'], 'suspended SUSPENDED -/-');
  assert.is(live['43_[0-9%2]'], 'held PENDING -/- JobHeldUser');
  const recs = parseSacct(fixture('sacct-live.txt'));
  assert.ok(recs.every((r) => r.source === 'accounting'));
  assert.is(byId(recs).get('42_1')!.rawId, '47');
});

test('sacct: synthetic OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, BOOT_FAIL, COMPLETING, unknown word', () => {
  const recs = parseSacct(fixture('sacct-synthetic.txt'));
  assert.equal(summary(recs), {
    '30': 'out-of-memory OUT_OF_MEMORY -/125',
    '31': 'node-fail NODE_FAIL 1/-',
    '32': 'preempted PREEMPTED -/15',
    '33': 'node-fail BOOT_FAIL 0/-',
    '34_[4-9]': 'pending PENDING -/- Priority',
    '34_3': 'running COMPLETING -/-',
    '35': 'timeout DEADLINE 0/-',
    '36': 'pending REQUEUED -/- BeginTime',
    '38': 'unknown FROBNICATED -/-',
  });
  assert.is(byId(recs).get('30')!.comment, 'qdo:oom');
  assert.equal(byId(recs).get('34_[4-9]')!.elements, ['34_4', '34_5', '34_6', '34_7', '34_8', '34_9']);
});

test('garbage lines are scheduler errors that quote the line', () => {
  for (const [fn, text] of [
    [parseSqueue, 'hello world\n'],
    [parseSqueue, 'x|1|RUNNING|None|0|(null)|\n'],
    [parseSqueue, '1|1|FAILED|None|abc|(null)|\n'],
    [parseSacct, '1|1|FAILED|3|None|\n'],
  ] as const) {
    try {
      fn(text);
      assert.unreachable(text);
    } catch (e) {
      assert.instance(e, SchedulerError);
      assert.ok((e as Error).message.includes(JSON.stringify(text.trim())), (e as Error).message);
    }
  }
  assert.equal(parseSqueue(''), []);
  assert.equal(parseSacct('\n'), []);
});

test('state words, held reasons, exit codes', () => {
  assert.is(normaliseSlurmState('PENDING', 'JobHeldAdmin'), 'held');
  assert.is(normaliseSlurmState('PENDING', 'Priority'), 'pending');
  assert.is(normaliseSlurmState('CANCELLED by 1000'), 'cancelled');
  assert.is(normaliseSlurmState('REQUEUE_HOLD'), 'held');
  assert.is(normaliseSlurmState('STOPPED'), 'suspended');
  assert.is(normaliseSlurmState(''), 'unknown');
  assert.equal(decodeWaitStatus('768'), { exitCode: 3, signal: null });
  assert.equal(decodeWaitStatus('9'), { exitCode: null, signal: 9 });
  assert.equal(decodeWaitStatus('0'), { exitCode: 0, signal: null });
  assert.equal(parseExitCodePair('3:0'), { exitCode: 3, signal: null });
  assert.equal(parseExitCodePair('0:15'), { exitCode: null, signal: 15 });
});

test('array ids expand to elements', () => {
  assert.equal(expandArrayId('12'), []);
  assert.equal(expandArrayId('12_3'), ['12_3']);
  assert.equal(expandArrayId('12_[4-6]'), ['12_4', '12_5', '12_6']);
  assert.equal(expandArrayId('12_[1,4-5%1]'), ['12_1', '12_4', '12_5']);
  assert.equal(expandArrayId('12_[0-6:3]'), ['12_0', '12_3', '12_6']);
});

test('error texts: purged id, accounting disabled, database down, transient', () => {
  assert.ok(isInvalidJobId(fixture('squeue-unknown.stderr')));
  assert.is(fixture('squeue-unknown.rc').trim(), 'exit 1');
  assert.ok(isAccountingDisabled(fixture('sacct-disabled.stderr')));
  assert.not.ok(isAccountingDisabled(fixture('sacct-db-down.stderr')));
  assert.ok(isTransientSlurmError(fixture('sacct-db-down.stderr')));
  assert.not.ok(isTransientSlurmError(fixture('squeue-unknown.stderr')));
  assert.ok(isTransientSlurmError('squeue: error: slurm_load_jobs error: Socket timed out on send/recv operation'));
  assert.ok(isSafeSubmitRetry('sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)'));
  assert.not.ok(isSafeSubmitRetry('sbatch: error: Batch job submission failed: Socket timed out on send/recv operation'));
});

test('findByTag input: comments from squeue --me', () => {
  const recs = parseSqueue(fixture('squeue-me-comments.txt'));
  assert.equal(
    recs.map((r) => [r.id, r.arrayBase ?? r.rawId, r.comment]),
    [
      ['37', '37', 'qdo:tag-running'],
      ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => [`43_${i}`, '43', 'qdo:tag|with pipe']),
    ],
  );
});

test('array aggregate: live beats finished, failure beats success', () => {
  const st = (id: string, state: SlurmRecord['state'], exitCode?: number) => ({ id, state, raw: state.toUpperCase(), source: 'queue' as const, exitCode });
  assert.is(aggregateArray('5', [st('5_1', 'completed', 0), st('5_2', 'running')]).state, 'running');
  assert.is(aggregateArray('5', [st('5_1', 'held'), st('5_2', 'pending')]).state, 'pending');
  const done = aggregateArray('5', [st('5_1', 'completed', 0), st('5_2', 'failed', 2), st('5_3', 'failed', 7)]);
  assert.equal(done, { id: '5', state: 'failed', raw: 'COMPLETED,FAILED', source: 'queue', exitCode: 7 });
  assert.equal(aggregateArray('5', [st('5_1', 'completed', 0)]), { id: '5', state: 'completed', raw: 'COMPLETED', source: 'queue', exitCode: 0 });
});

test.run();
