// Width-aware tables and the terminal width of text (src/output/table.ts, width.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitWidths, formatTable } from '../../src/output/table.js';
import { displayWidth, truncate, wrappedRows } from '../../src/output/width.js';

test('displayWidth: ASCII, wide, combining and zero-width characters, colour codes', () => {
  assert.is(displayWidth('paper/run/train'), 15);
  assert.is(displayWidth('日本語'), 6);
  assert.is(displayWidth('e\u0301'), 1);
  assert.is(displayWidth('a\u200bb'), 2);
  assert.is(displayWidth('\x1b[32mcompleted\x1b[0m'), 9);
  assert.is(displayWidth('🙂x'), 3);
});

test('truncate: cut at a column with "…", never inside a wide character', () => {
  assert.is(truncate('paper/run/train', 20), 'paper/run/train');
  assert.is(truncate('paper/run/train', 10), 'paper/run…');
  assert.is(displayWidth(truncate('paper/run/train', 10)), 10);
  assert.is(truncate('日本語です', 6), '日本…');
  assert.is(truncate('日本語です', 5), '日本…');
});

test('wrappedRows: lines wider than the screen take several rows', () => {
  assert.is(wrappedRows('abc\n', 60), 1);
  assert.is(wrappedRows('x'.repeat(60) + '\n', 60), 1);
  assert.is(wrappedRows('x'.repeat(61) + '\n', 60), 2);
  assert.is(wrappedRows('a\n\nb\n', 10), 3);
  assert.is(wrappedRows('x'.repeat(130) + '\nshort\n', 60), 4);
});

const H = ['JOB', 'VER', 'STATE'];
const ROWS = [
  ['paper/run/a-very-long-job-name-indeed', '1', 'completed'],
  ['p/short', '12', 'running'],
];

test('piped (no width): nothing is cut, however long', () => {
  const t = formatTable(H, ROWS);
  assert.is(t, 'JOB                                    VER  STATE\npaper/run/a-very-long-job-name-indeed  1    completed\np/short                                12   running\n');
});

test('on a terminal: the shrinkable column gives way and every line fits', () => {
  const t = formatTable(H, ROWS, { width: 30, shrink: [0] });
  for (const l of t.trimEnd().split('\n')) assert.ok(displayWidth(l) <= 30, `${JSON.stringify(l)} is ${displayWidth(l)} wide`);
  assert.is(t, 'JOB             VER  STATE\npaper/run/a-v…  1    completed\np/short         12   running\n');
});

test('fitWidths: columns give way in order, not below their floor', () => {
  assert.equal(fitWidths([40, 3, 9], H, 30, [0], 8), [14, 3, 9]);
  assert.equal(fitWidths([40, 3, 9], H, 10, [0], 8), [8, 3, 9]);
  assert.equal(fitWidths([10, 3, 9], H, 100, [0], 8), [10, 3, 9]);
});

test('colour codes added by the cell decorator take no columns', () => {
  const t = formatTable(H, ROWS, { width: 30, color: true, cell: (c, i) => (i === 2 ? `\x1b[32m${c}\x1b[0m` : c) });
  for (const l of t.trimEnd().split('\n')) assert.ok(displayWidth(l) <= 30);
});

test.run();
