// qdo watch [PATTERN…] (spec/porcelain.md §qdo watch; man/qdo-watch.1): a table redrawn in
// place on a terminal (q or Ctrl-C quits), one line per state change otherwise.
import type { CommandDef } from '../command.js';
import { strs } from '../command.js';
import { UsageError } from '../../errors.js';
import { isTerminal } from '../../model/states.js';
import type { WatchUpdate } from '../../core/watch.js';
import { formatTable } from '../../output/table.js';
import { formatAge, stateCell, STATUS_HEADERS, statusRow } from '../job-format.js';
import type { Io } from '../io.js';

/** `2026-11-21T09:30:00Z`: sortable, and the same wherever the log is read. */
function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The plain view: the first round lists every job, later rounds only what changed. */
export function plainLines(u: WatchUpdate): string {
  const t = stamp(u.time);
  return u.changes.map((c) => `${t} ${c.job.project}/${c.job.name}@${c.job.version} ${c.from === null ? c.to : `${c.from} → ${c.to}`}\n`).join('');
}

/** The terminal view: a header, the status table, the sources' ages. */
export function screen(u: WatchUpdate, color: boolean, maxRows: number): string {
  const done = u.jobs.filter((j) => j.sub !== null && isTerminal(j.sub.state)).length;
  const head = `qdo watch  ${u.time.toLocaleTimeString()}  ${done}/${u.jobs.length} ended  (q to quit)\n`;
  if (u.jobs.length === 0) return head + 'no jobs yet\n';
  const rows = u.jobs.map((j) => statusRow(j, u.time, false));
  const cut = rows.length > maxRows ? rows.slice(0, Math.max(1, maxRows - 1)) : rows;
  let out = head + formatTable(STATUS_HEADERS, cut, { color, cell: (c, i) => (i === 2 ? stateCell(c, color) : c) });
  if (cut.length < rows.length) out += `… ${rows.length - cut.length} more (narrow the view: qdo watch PATTERN)\n`;
  for (const g of u.report.groups) {
    if (g.problem) out += `${g.jobs} job(s) not refreshed: ${g.problem}\n`;
    else out += `states from ${g.scheduler} (${g.cluster}) asked ${g.last ? `${formatAge(u.time.getTime() - Date.parse(g.last))} ago` : 'never'}\n`;
  }
  return out;
}

/** q, Q or Ctrl-C on a raw terminal, or SIGINT: abort. Returns the undo. */
function listenForQuit(ac: AbortController): () => void {
  const stdin = process.stdin;
  const onKey = (b: Buffer) => {
    const k = b.toString('utf8');
    if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x1b') ac.abort();
  };
  const onSigint = () => ac.abort();
  process.on('SIGINT', onSigint);
  const raw = stdin.isTTY === true;
  if (raw) {
    stdin.setRawMode(true);
    stdin.on('data', onKey);
    stdin.resume();
  }
  return () => {
    process.off('SIGINT', onSigint);
    if (raw) {
      stdin.off('data', onKey);
      stdin.setRawMode(false);
      stdin.pause();
    }
  };
}

function redrawer(io: Io): (u: WatchUpdate) => void {
  let lines = 0;
  return (u) => {
    const text = screen(u, io.color, Math.max(3, (process.stdout.rows || 40) - 4 - u.report.groups.length));
    // Up to the first line of the previous screen, clear to the end, draw again.
    io.stdout(`${lines > 0 ? `\x1b[${lines}A` : ''}\x1b[J${text}`);
    lines = text.split('\n').length - 1;
  };
}

export const watchCommand: CommandDef = {
  command: 'watch [patterns..]',
  describe: 'A live status view: redrawn on a terminal, one line per change when piped',
  builder: (y) =>
    y
      .positional('patterns', { type: 'string', array: true, describe: 'PROJECT, PROJECT/JOB or glob ("paper/*", "train-*")' })
      .option('interval', { type: 'number', describe: 'seconds between refreshes (default: the status interval); the scheduler is still asked at most once per status interval' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/watch.js');
    const iv = args.interval;
    if (iv !== undefined && (typeof iv !== 'number' || !Number.isFinite(iv) || iv < 1)) {
      throw new UsageError(`--interval: expected a number of seconds >= 1, found ${JSON.stringify(String(iv))}`);
    }
    const intervalMs = iv === undefined ? undefined : Math.round(iv * 1000);
    const patterns = strs(args, 'patterns');
    if (!io.isTTY) {
      await core.watchStatus(ctx, patterns, { intervalMs, untilDone: true, onUpdate: (u) => io.stdout(plainLines(u)) });
      return;
    }
    const ac = new AbortController();
    const stop = listenForQuit(ac);
    io.stdout('\x1b[?25l'); // hide the cursor while redrawing
    try {
      await core.watchStatus(ctx, patterns, { intervalMs, signal: ac.signal, onUpdate: redrawer(io) });
    } finally {
      stop();
      io.stdout('\x1b[?25h');
    }
  },
};
