// Elements of packed sweep arrays as Slurm 22.05 lists them once they have ended (captured
// on the CI Slurm, spec/sweeps.md §Packing): an element that never started is found through
// its array's record, an element's own record wins over its array's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolve } from '../../src/scheduler/slurm/backend.js';
import { parseSacct } from '../../src/scheduler/slurm/parse.js';
import type { JobState } from '../../src/scheduler/types.js';

const states = (ids: string[], text: string) => {
  const out = new Map<string, JobState>();
  const open = resolve(ids, parseSacct(text), out);
  return { open, got: Object.fromEntries(ids.filter((i) => out.has(i)).map((i) => [i, out.get(i)!.state])) };
};

test('an array cancelled before any element started is listed whole ("3647"): each element gets its state', () => {
  // sacct -n -P -X -j 3647_0,3647_1,3647_2,3647 -o JobID,JobIDRaw,State,ExitCode,Reason,Comment
  const r = states(['3647_0', '3647_1', '3647_2'], '3647|3647|CANCELLED by 0|0:0|None|\n');
  assert.equal(r.open, []);
  assert.equal(r.got, { '3647_0': 'cancelled', '3647_1': 'cancelled', '3647_2': 'cancelled' });
});

test('elements that ran keep their own records; the one that never started takes the array record', () => {
  // Two elements had started when the array was cancelled; accounting still shows the range.
  const text = '1543_0|1544|CANCELLED by 0|0:0|None|\n1543_1|1545|COMPLETED|0:0|None|\n1543_[0-2]|1543|CANCELLED by 0|0:0|None|\n';
  const r = states(['1543_0', '1543_1', '1543_2'], text);
  assert.equal(r.got, { '1543_0': 'cancelled', '1543_1': 'completed', '1543_2': 'cancelled' });
});

test.run();
