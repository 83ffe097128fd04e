// The sweep progress bar (spec/sweeps.md §Progress): drawn on a terminal only, throttled,
// cleared before results.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatBar, progressBar } from '../../src/cli/progress.js';
import type { Io } from '../../src/cli/io.js';

const io = (tty: boolean, out: string[]): Io => ({ stdout() {}, stderr: (c) => void out.push(c), readStdin: async () => Buffer.alloc(0), isTTY: false, color: false, stderrTTY: tty });

test('formatBar: label, 30 cells, done/total', () => {
  assert.is(formatBar('submitting', 0, 10), `submitting [${'.'.repeat(30)}] 0/10`);
  assert.is(formatBar('submitting', 5, 10), `submitting [${'#'.repeat(15)}${'.'.repeat(15)}] 5/10`);
  assert.is(formatBar('x', 10, 10), `x [${'#'.repeat(30)}] 10/10`);
  assert.is(formatBar('x', 0, 0), `x [${'#'.repeat(30)}] 0/0`);
});

test('not a terminal: nothing at all', () => {
  const out: string[] = [];
  const b = progressBar(io(false, out));
  b.update('x', 1, 2);
  b.done();
  assert.equal(out, []);
});

test('a terminal: redrawn at most every 80 ms (the last always), cleared at the end', () => {
  const out: string[] = [];
  let t = 0;
  const b = progressBar(io(true, out), () => t);
  b.update('x', 1, 3);
  t = 10;
  b.update('x', 2, 3); // too soon
  t = 20;
  b.update('x', 3, 3); // the last one is always drawn
  b.done();
  assert.equal(out, [`\r${formatBar('x', 1, 3)}\x1b[K`, `\r${formatBar('x', 3, 3)}\x1b[K`, '\r\x1b[K']);
});

test.run();
