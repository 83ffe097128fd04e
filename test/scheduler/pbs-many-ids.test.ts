// Many live ids on PBS Pro and TORQUE (spec/scheduler-common.md §Many ids): qstat, qdel,
// qhold and qrls are asked in batches under the OS limit, and the answers matched to the ids
// in linear time, with stand-ins on PATH that refuse (as the kernel would, lower) a command
// line that is too long.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_ID_CHARS } from '../../src/scheduler/id-batches.js';
import { runCommand, type Runner } from '../../src/scheduler/runner.js';
import { PbsProBackend } from '../../src/scheduler/pbs/backend-pbspro.js';
import { TorqueBackend } from '../../src/scheduler/pbs/backend-torque.js';
import { jobIndex, jobSequence } from '../../src/scheduler/pbs/pbs-job.js';

const bin = mkdtempSync(join(tmpdir(), 'qdo-pbs-many-'));
const log = join(bin, 'calls.log');
// Refuses a command line over 40,000 characters; logs the characters of ids per call. Ids
// whose sequence number ends in 7 are unknown to the server ("Unknown Job Id", exit 153);
// the others are running. With -F json it prints PBS Pro's JSON, else TORQUE's text.
const guard = `n=0; ids=(); json=0
for a in "$@"; do n=$((n + \${#a} + 1)); case "$a" in -F) json=1;; -*|json) ;; *) ids+=("$a");; esac; done
if [ $n -gt 40000 ]; then echo "stand-in: a command line of $n characters" >&2; exit 7; fi
echo "$n" >> "${log}"`;
writeFileSync(
  join(bin, 'qstat'),
  `#!/bin/bash
${guard}
rc=0; known=()
for id in "\${ids[@]}"; do seq=\${id%%.*}; if [ "\${seq: -1}" = 7 ]; then echo "qstat: Unknown Job Id $id" >&2; rc=153; else known+=("$id"); fi; done
if [ $json = 1 ]; then
  printf '{"timestamp":1,"pbs_version":"2022.1.1","pbs_server":"srv","Jobs":{'
  sep=''; for id in "\${known[@]}"; do printf '%s"%s":{"job_state":"R"}' "$sep" "$id"; sep=','; done
  printf '}}\\n'
else
  for id in "\${known[@]}"; do printf 'Job Id: %s\\n    job_state = R\\n\\n' "$id"; done
fi
exit $rc
`,
);
for (const cmd of ['qdel', 'qhold', 'qrls']) writeFileSync(join(bin, cmd), `#!/bin/bash\n${guard}\nexit 0\n`);
for (const cmd of ['qstat', 'qdel', 'qhold', 'qrls']) chmodSync(join(bin, cmd), 0o755);
const onPath: Runner = ((argv, o = {}) => runCommand(argv, { ...o, env: { ...o.env, PATH: `${bin}:${process.env.PATH ?? ''}` } })) as Runner;
const calls = () => readFileSync(log, 'utf8').trim().split('\n').map(Number);

test.after(() => rmSync(bin, { recursive: true, force: true }));

const ids = Array.from({ length: 20_000 }, (_, i) => `${1_000_000 + i}.srv`);

for (const [label, make] of [
  ['TORQUE', () => new TorqueBackend({ runner: onPath })],
  ['PBS Pro', () => new PbsProBackend({ runner: onPath })],
] as const) {
  test(`${label}: 20,000 ids asked in batches under the limit, every id answered (unknown ones too)`, async () => {
    writeFileSync(log, '');
    const states = await make().query(ids);
    assert.is(states.size, ids.length);
    for (const id of ids) {
      const s = states.get(id)!;
      if (id.split('.')[0]!.endsWith('7')) {
        assert.is(s.state, 'unknown', id);
        assert.match(s.reason ?? '', /Unknown Job Id/);
      } else assert.is(s.state, 'running', id);
    }
    const c = calls();
    assert.ok(c.length >= 5, `${c.length} qstat calls`);
    assert.ok(c.every((n) => n <= MAX_ID_CHARS + 100));
  });

  test(`${label}: qdel, qhold and qrls of 20,000 ids in batches`, async () => {
    writeFileSync(log, '');
    const b = make();
    await b.cancel(ids);
    await b.hold(ids);
    await b.release(ids);
    const c = calls();
    assert.ok(c.length >= 15, `${c.length} calls`);
    assert.ok(c.every((n) => n <= MAX_ID_CHARS + 100));
  });
}

/** The matching as it was before the index (a scan per id): the reference for jobIndex. */
function findByScan<T extends { id: string }>(id: string, jobs: readonly T[]): T | undefined {
  const exact = jobs.find((j) => j.id === id);
  if (exact) return exact;
  const seq = jobSequence(id);
  const server = id.slice(seq.length + 1);
  return jobs.find((j) => {
    if (jobSequence(j.id) !== seq) return false;
    const s = j.id.slice(seq.length + 1);
    return server === '' || s === '' || s.startsWith(server + '.') || server.startsWith(s + '.');
  });
}

test('jobIndex answers as a scan does: exact id first, else the first record whose server name matches', () => {
  const jobs = [{ id: '12.pbs01.example.org', n: 1 }, { id: '12.pbs01', n: 2 }, { id: '13.other', n: 3 }, { id: '14', n: 4 }, { id: '15.a.b', n: 5 }];
  const find = jobIndex(jobs);
  for (const id of ['12.pbs01', '12.pbs01.example.org', '12', '12.pbs02', '13.other', '13.other.x', '13.ot', '14.srv', '15.a', '15.a.b.c', '16']) {
    assert.is(find(id)?.n, findByScan(id, jobs)?.n, id);
  }
  assert.is(find('12.pbs01')!.n, 2);
  assert.is(find('12')!.n, 1);
  assert.is(find('13.ot'), undefined);
});

test.run();
