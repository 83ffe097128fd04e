// Many live ids (spec/scheduler-common.md §Many ids): squeue, sacct, scancel and scontrol
// are asked in batches that stay under the OS limit on one argument list, with a stand-in
// squeue on PATH that refuses (as the kernel would, lower) an argument that is too long.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SchedulerError } from '../../src/errors.js';
import { idBatches, MAX_ID_CHARS } from '../../src/scheduler/id-batches.js';
import { runCommand, type Runner } from '../../src/scheduler/runner.js';
import { SlurmBackend, arrayRanges, resolve } from '../../src/scheduler/slurm/backend.js';
import type { SlurmRecord } from '../../src/scheduler/slurm/parse.js';
import type { JobState } from '../../src/scheduler/types.js';

const bin = mkdtempSync(join(tmpdir(), 'qdo-many-ids-'));
const log = join(bin, 'calls.log');
// Refuses any argument over 40,000 characters (Linux refuses 128 KiB with E2BIG); answers
// RUNNING for every id of -j, one call logged per line.
writeFileSync(
  join(bin, 'squeue'),
  `#!/bin/bash
for a in "$@"; do
  if [ \${#a} -gt 40000 ]; then echo "stand-in squeue: an argument of \${#a} characters" >&2; exit 7; fi
done
while [ $# -gt 0 ]; do [ "$1" = -j ] && ids=$2; shift; done
echo "\${#ids}" >> "${log}"
IFS=, read -ra arr <<< "$ids"
printf '%s|%s|RUNNING|None|0|(null)|\\n' $(for i in "\${arr[@]}"; do echo "$i $i"; done)
`,
);
chmodSync(join(bin, 'squeue'), 0o755);
writeFileSync(join(bin, 'sacct'), '#!/bin/bash\nexit 0\n');
chmodSync(join(bin, 'sacct'), 0o755);
const onPath: Runner = ((argv, o = {}) => runCommand(argv, { ...o, env: { ...o.env, PATH: `${bin}:${process.env.PATH ?? ''}` } })) as Runner;

test.after(() => rmSync(bin, { recursive: true, force: true }));

test('idBatches: order kept, every batch under the character and count limits, nothing lost', () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => String(1_000_000 + i));
  const b = idBatches(ids);
  assert.ok(b.length > 1);
  assert.equal(b.flat(), ids);
  assert.ok(b.every((x) => x.join(',').length <= MAX_ID_CHARS && x.length <= 4000));
  assert.equal(idBatches([]), []);
  assert.equal(idBatches(['a', 'b', 'c'], 4), [['a', 'b'], ['c']]);
});

test('arrayRanges: an array\'s elements as ranges of consecutive indexes, other ids as given, first-seen order', () => {
  const sweep = Array.from({ length: 1000 }, (_, i) => `17_${i}`);
  assert.equal(arrayRanges(sweep), ['17_[0-999]']);
  assert.equal(arrayRanges(['9', '17_3', '17_1', '17_2', '18_5', '17_7', '17_3', '20']), ['9', '17_[1-3]', '17_7', '18_5', '20']);
  assert.equal(arrayRanges([]), []);
  // No token holds a comma: scontrol's list is comma-separated.
  assert.ok(arrayRanges(Array.from({ length: 500 }, (_, i) => `5_${i * 2}`)).every((t) => !t.includes(',')));
});

test('cancel and hold of 10 arrays of 1,000 elements: one token per array', async () => {
  const calls: string[][] = [];
  const runner: Runner = (async (argv: string[]) => {
    calls.push(argv);
    return { stdout: '', stderr: '', exitCode: 0 };
  }) as unknown as Runner;
  const b = new SlurmBackend({ runner, accounting: 'off', jobcomp: 'off' });
  const ids = Array.from({ length: 10 }, (_, a) => Array.from({ length: 1000 }, (_, i) => `${100 + a}_${i}`)).flat();
  await b.cancel(ids);
  await b.hold(ids);
  assert.equal(calls, [
    ['scancel', ...Array.from({ length: 10 }, (_, a) => `${100 + a}_[0-999]`)],
    ['scontrol', 'hold', Array.from({ length: 10 }, (_, a) => `${100 + a}_[0-999]`).join(',')],
  ]);
});

test('20,000 live Slurm ids: squeue asked in batches under the limit, every id answered', async () => {
  writeFileSync(log, '');
  const ids = Array.from({ length: 20_000 }, (_, i) => String(1_000_000 + i));
  const b = new SlurmBackend({ runner: onPath, accounting: 'off', jobcomp: 'off' });
  const states = await b.query(ids);
  assert.is(states.size, ids.length);
  assert.ok(ids.every((id) => states.get(id)?.state === 'running'));
  const calls = readFileSync(log, 'utf8').trim().split('\n').map(Number);
  assert.ok(calls.length >= 5, `${calls.length} squeue calls`);
  assert.ok(calls.every((n) => n <= MAX_ID_CHARS));
});

test('a failing squeue: the error shows a short command, never the whole id list', async () => {
  // One argument longer than the stand-in takes: what an unbatched caller would send.
  const huge = Array.from({ length: 8_000 }, (_, i) => String(1_000_000 + i)).join(',');
  const e = await runCommand(['squeue', '-j', huge], { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, retries: 0 }).catch((x: unknown) => x);
  assert.instance(e, SchedulerError);
  const err = e as SchedulerError;
  assert.ok(err.message.length < 1000, `message of ${err.message.length} characters`);
  assert.match(err.message, /more characters/);
  assert.ok(JSON.stringify(err.data).length < 2000);
});

test('resolve: linear matching keeps find()-order semantics (element record beats its array range)', () => {
  const rec = (id: string, rawId: string, state: string, extra: Partial<SlurmRecord> = {}): SlurmRecord =>
    ({ id, rawId, state, raw: state.toUpperCase(), reason: null, comment: null, elements: [], exitCode: null, signal: null, source: 'queue', ...extra }) as unknown as SlurmRecord;
  const recs = [rec('42_[3-5]', '50', 'pending', { elements: ['42_3', '42_4', '42_5'], arrayBase: '42' }), rec('42_4', '48', 'running', { arrayBase: '42' }), rec('7', '7', 'completed')];
  const out = new Map<string, JobState>();
  const open = resolve(['42_4', '42_5', '7', '8'], recs, out);
  assert.equal(open, ['8']);
  assert.is(out.get('7')!.state, 'completed');
  assert.ok(out.has('42_4') && out.has('42_5'));
});

test.run();
