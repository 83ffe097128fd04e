// spec/states.md: every row of its tables is a test. The last column is fed to qdo's parser
// and state mapping (or names the refresh test that covers it); the "qdo" column and the
// checkable parts of "Details" must come out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/cli.js';
import { parseSacct, parseSqueue, recordToState } from '../../src/scheduler/slurm/parse.js';
import { parseQstatJson } from '../../src/scheduler/pbs/parse-json.js';
import { parseQstatFull } from '../../src/scheduler/pbs/parse-text.js';
import { findJob, jobFromAttributes } from '../../src/scheduler/pbs/pbs-job.js';
import { pbsproJobState, torqueJobState } from '../../src/scheduler/pbs/states.js';
import { reasonOf } from '../../src/core/refresh.js';
import { signalName } from '../../src/model/states.js';
import { stateLabel } from '../../src/cli/job-format.js';
import type { JobState } from '../../src/scheduler/types.js';
import type { Submission } from '../../src/model/submission.js';

interface Row {
  section: string;
  says: string;
  qdo: string;
  details: string;
  input: string;
}

function rows(): Row[] {
  const out: Row[] = [];
  let section = '';
  for (const line of readFileSync(join(REPO, 'spec/states.md'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3);
    if (!line.startsWith('| ') || line.startsWith('| Scheduler says') || line.startsWith('|---')) continue;
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/\\\|/g, '|'));
    assert.is(cells.length, 4, `spec/states.md: a row of four cells, found ${JSON.stringify(line)}`);
    out.push({ section, says: cells[0]!, qdo: cells[1]!, details: cells[2]!, input: cells[3]!.replace(/^`|`$/g, '') });
  }
  return out;
}

function pbsState(flavor: string, rest: string[]): JobState {
  const map = flavor === 'pbspro' ? pbsproJobState : torqueJobState;
  if (rest[0] === 'fixture') {
    const text = readFileSync(join(REPO, 'test/fixtures/pbs', rest[1]!), 'utf8');
    const jobs = rest[1]!.endsWith('.json') ? parseQstatJson(text).jobs : parseQstatFull(text);
    const job = findJob(rest[2]!, jobs) ?? jobs.find((j) => j.id.split('.')[0] === rest[2]);
    assert.ok(job, `no job ${rest[2]} in ${rest[1]}`);
    return map(job!);
  }
  const attrs = Object.fromEntries(rest.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return map(jobFromAttributes('1.s', attrs, {}));
}

function stateOf(input: string): JobState {
  const sp = input.indexOf(' ');
  const kind = input.slice(0, sp);
  const arg = input.slice(sp + 1);
  switch (kind) {
    case 'squeue':
    case 'sacct':
    case 'jobcomp': {
      const [rec] = kind === 'squeue' ? parseSqueue(arg + '\n') : parseSacct(arg + '\n');
      const st = recordToState(rec!.id, rec!);
      return kind === 'jobcomp' ? { ...st, source: 'jobcomp' } : st;
    }
    case 'pbspro':
    case 'torque':
      return pbsState(kind, arg.split(/\s+/));
    default:
      throw new Error(`spec/states.md: unknown test input ${JSON.stringify(input)}`);
  }
}

const all = rows();

test('the table has rows for Slurm, PBS Pro, TORQUE and qdo\'s own sources', () => {
  const count = (s: string) => all.filter((r) => r.section.startsWith(s)).length;
  assert.ok(count('Slurm') >= 30 && count('PBS Pro') >= 20 && count('TORQUE') >= 15 && count('From the job') >= 5, JSON.stringify(all.map((r) => r.section)));
});

for (const r of all.filter((x) => !x.section.startsWith('From the job'))) {
  test(`${r.section}: ${r.says} → ${r.qdo}`, () => {
    const st = stateOf(r.input);
    assert.is(st.state, r.qdo, r.input);
    const exit = /\bexit (\d+)\b/.exec(r.details);
    if (exit) assert.is(st.exitCode, Number(exit[1]), 'exit code');
    const sig = /\bsignal ([A-Z]+)\b/.exec(r.details);
    if (sig) assert.is(typeof st.signal === 'number' ? signalName(st.signal) : null, sig[1], 'signal');
    const src = /\bsource ([a-z-]+)/.exec(r.details);
    if (src) assert.is(st.source, src[1], 'source');
    for (const [, words] of r.details.matchAll(/reason "([^"]+)"/g)) assert.ok((reasonOf(st) ?? '').includes(words!), `reason ${JSON.stringify(reasonOf(st))} should include ${JSON.stringify(words)}`);
    const shown = /shown `([^`]+)`/.exec(r.details);
    if (shown) assert.is(stateLabel({ state: st.state, reason: reasonOf(st), exit_code: null } as Submission), shown[1]);
  });
}

for (const r of all.filter((x) => x.section.startsWith('From the job'))) {
  test(`qdo's own: ${r.says} → ${r.qdo} (tested in ${r.input})`, () => {
    const [file, name] = r.input.split(': ');
    const path = join(REPO, 'test', `${file}.test.ts`);
    assert.ok(existsSync(path), path);
    assert.ok(new RegExp(`test\\('[^']*${name!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).test(readFileSync(path, 'utf8')), `a test named with "${name}" in ${path}`);
  });
}

test.run();
