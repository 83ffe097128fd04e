// qdo watch on a terminal: the screen fits the terminal's width and height, and redraws land
// on the previous screen, also when lines wrap. Checked on a small terminal emulator that
// wraps lines and understands the few escapes watch sends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { redrawer, screen } from '../../src/cli/porcelain/watch.js';
import type { Io } from '../../src/cli/io.js';
import type { WatchUpdate } from '../../src/core/watch.js';
import type { JobVersion } from '../../src/core/jobs.js';
import { layoutOf } from '../../src/store/layout.js';
import { displayWidth } from '../../src/output/width.js';

/** A terminal of `cols` columns: auto-wrap (deferred, as xterm), CUU, CR, LF, ED; SGR and modes ignored. */
class Terminal {
  lines: string[][] = [[]];
  row = 0;
  col = 0;
  constructor(readonly cols: number) {}
  write(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '\x1b') {
        const m = /^\x1b\[(\??)(\d*)([A-Za-z])/.exec(s.slice(i))!;
        i += m[0].length - 1;
        if (m[3] === 'A') this.row = Math.max(0, this.row - Number(m[2] || 1));
        else if (m[3] === 'J') {
          this.lines[this.row] = (this.lines[this.row] ?? []).slice(0, this.col);
          this.lines.length = this.row + 1;
        }
        continue;
      }
      if (ch === '\r') this.col = 0;
      else if (ch === '\n') {
        this.row++;
        this.col = 0;
      } else {
        const w = displayWidth(ch);
        if (this.col + w > this.cols) {
          this.row++;
          this.col = 0;
        }
        const line = (this.lines[this.row] ??= []);
        line[this.col] = ch;
        this.col += w;
      }
      this.lines[this.row] ??= [];
    }
  }
  text(): string {
    return this.lines.map((l) => Array.from(l, (c) => c ?? ' ').join('').trimEnd()).join('\n');
  }
}

const layout = layoutOf('/tmp/alloc');
function job(name: string, state: string, i: number): JobVersion {
  return {
    layout,
    project: 'paper/run/with/a/deep/project/path',
    name,
    id: String(i).padStart(64, '0'),
    version: 1,
    latest: true,
    sub: { schema: 'qdo.submission/v1', id: String(i).padStart(64, '0'), project: 'p', name, version: 1, scheduler: 'slurm', cluster: 'cluster-with-a-long-name', host: 'h', pid: 1, intent: '2026-11-21T09:00:00.000Z', submitted: '2026-11-21T09:00:00.000Z', sched_id: String(4242000 + i), after: [], state: state as 'running', state_source: 'queue', state_time: '2026-11-21T09:00:00.000Z', exit_code: null, reason: null },
  };
}

function update(round: number, n: number): WatchUpdate {
  const jobs = Array.from({ length: n }, (_, i) => job(`train-lr0.00${i}-batch-size-256-with-warmup`, i < round ? 'completed' : 'running', i));
  return {
    round,
    jobs,
    changes: [],
    report: { groups: [{ scheduler: 'slurm', cluster: 'cluster-with-a-long-name', jobs: n, queried: true, last: '2026-11-21T09:29:00.000Z', problem: 'a long explanation of why this group was not asked, longer than any narrow terminal' }], ended: [], policy: { retried: [], notified: [], problems: [] } },
    time: new Date('2026-11-21T09:30:00.000Z'),
  };
}

function io(term: Terminal): Io {
  return { stdout: (c) => term.write(String(c)), stderr: () => undefined, readStdin: async () => Buffer.alloc(0), isTTY: true, color: true };
}

test('every line of the screen fits a 60-column terminal; long names end in "…"', () => {
  const s = screen(update(1, 4), true, { columns: 60, rows: 40 });
  for (const l of s.trimEnd().split('\n')) assert.ok(displayWidth(l) <= 60, `${JSON.stringify(l)}: ${displayWidth(l)} columns`);
  assert.match(s, /…/);
});

test('at most the terminal\'s height, with a line saying how many more', () => {
  const s = screen(update(1, 50), false, { columns: 100, rows: 12 });
  assert.ok(s.trimEnd().split('\n').length <= 12, s);
  assert.match(s, /… \d+ more \(narrow the view: qdo watch PATTERN\)/);
});

for (const cols of [60, 20]) {
  test(`six redraws on a ${cols}-column terminal leave one screen (the header once)`, () => {
    const term = new Terminal(cols);
    term.write('$ qdo watch\n');
    const draw = redrawer(io(term), () => ({ columns: cols, rows: 40 }));
    for (let r = 1; r <= 6; r++) draw(update(r, 4));
    const text = term.text();
    assert.is(text.split('qdo watch ').length - 1, 1, text);
    assert.ok(text.startsWith('$ qdo watch\n'), 'the line above the screen is untouched');
  });
}

test('piped (no terminal) output is never cut: the table is status\'s own', () => {
  const s = screen(update(1, 2), false, { columns: 1000, rows: 100 });
  assert.match(s, /paper\/run\/with\/a\/deep\/project\/path\/train-lr0\.000-batch-size-256-with-warmup/);
});

test.run();
