// qdo watch [PATTERN…] (spec/porcelain.md §qdo watch; man/qdo-watch.1): a table redrawn in
// place on a terminal (q or Ctrl-C quits), one line per state change otherwise.
import type { CommandDef } from '../command.js';
import { bool, str, strs } from '../command.js';
import { UsageError } from '../../errors.js';
import { isTerminal } from '../../model/states.js';
import type { WatchUpdate } from '../../core/watch.js';
import { formatTable } from '../../output/table.js';
import { jsonLine } from '../../output/json.js';
import { truncate, wrappedRows } from '../../output/width.js';
import { formatAge, jobJson, stateCell, STATUS_HEADERS, STATUS_SHRINK, statusRow } from '../job-format.js';
import type { Io } from '../io.js';
import { DEFAULT_SINCE, hiddenJson, hiddenNote, SINCE_DESCRIBE, sinceFrom } from '../since.js';

/** `2026-11-21T09:30:00Z`: sortable, and the same wherever the log is read. */
function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The plain view: the first round lists every job, later rounds only what changed. */
export function plainLines(u: WatchUpdate): string {
  const t = stamp(u.time);
  return u.changes.map((c) => `${t} ${c.job.project}/${c.job.name}@${c.job.version} ${c.from === null ? c.to : `${c.from} → ${c.to}`}\n`).join('');
}

/** `watch --json`: one JSON line per round, the status document of that moment (and, with --since, what it left out). */
export function jsonRound(u: WatchUpdate): string {
  return jsonLine({
    round: u.round,
    time: u.time.toISOString(),
    jobs: u.jobs.map(jobJson),
    changes: u.changes.map((c) => ({ job: `${c.job.project}/${c.job.name}`, job_version: c.job.version, from: c.from, to: c.to })),
    ...(u.hidden && u.since !== undefined ? { hidden: hiddenJson(u.hidden, u.since) } : {}),
  });
}

export interface ScreenSize {
  columns: number;
  rows: number;
}

/**
 * The terminal view: a header, the status table, the sources' ages, fitted to the screen:
 * the table to its width (long names cut with "…"), as many jobs as its height allows.
 */
export function screen(u: WatchUpdate, color: boolean, size: ScreenSize): string {
  const fit = (line: string) => truncate(line, size.columns) + '\n';
  const done = u.jobs.filter((j) => j.sub !== null && isTerminal(j.sub.state)).length;
  const older = u.hidden && u.hidden.count > 0 ? `, ${u.hidden.count} ended earlier not shown` : '';
  const head = fit(`qdo watch  ${u.time.toLocaleTimeString()}  ${done}/${u.jobs.length} ended${older}  (q to quit)`);
  if (u.jobs.length === 0) return head + fit(older ? 'no job live or ended since (qdo watch --since all lists them)' : 'no jobs yet');
  let tail = '';
  for (const g of u.report.groups) {
    if (g.problem) tail += fit(`${g.jobs} job(s) not refreshed: ${g.problem}`);
    else tail += fit(`states from ${g.scheduler} (${g.cluster}) asked ${g.last ? `${formatAge(u.time.getTime() - Date.parse(g.last))} ago` : 'never'}`);
  }
  // Header, table header, the "… more" line and the sources; at least one job is shown.
  const maxRows = Math.max(1, size.rows - 3 - u.report.groups.length);
  const rows = u.jobs.map((j) => statusRow(j, u.time, false));
  const cut = rows.length > maxRows ? rows.slice(0, Math.max(1, maxRows - 1)) : rows;
  let out = head + formatTable(STATUS_HEADERS, cut, { color, width: size.columns, shrink: STATUS_SHRINK, cell: (c, i) => (i === 2 ? stateCell(c, color) : c) });
  if (cut.length < rows.length) out += fit(`… ${rows.length - cut.length} more (narrow the view: qdo watch PATTERN)`);
  return out + tail;
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

/**
 * Draws each round over the last: up to the first row of the previous screen, clear to
 * the end, draw again. Rows are counted as the terminal shows them (a line wider than the
 * screen takes several), at the width it had when they were drawn.
 */
export function redrawer(io: Io, size: () => ScreenSize): (u: WatchUpdate) => void {
  let rows = 0;
  return (u) => {
    const s = size();
    const text = screen(u, io.color, s);
    io.stdout(`${rows > 0 ? `\x1b[${rows}A\r` : ''}\x1b[J${text}`);
    rows = wrappedRows(text, s.columns);
  };
}

export const watchCommand: CommandDef = {
  command: 'watch [patterns..]',
  describe: 'A live status view: redrawn on a terminal, one line per change when piped',
  builder: (y) =>
    y
      .positional('patterns', { type: 'string', array: true, describe: 'PROJECT, PROJECT/JOB or glob ("paper/*", "train-*")' })
      .option('interval', { type: 'number', describe: 'seconds between refreshes (default: the status interval); the scheduler is still asked at most once per status interval' })
      .option('since', { type: 'string', describe: SINCE_DESCRIBE }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/watch.js');
    const iv = args.interval;
    if (iv !== undefined && (typeof iv !== 'number' || !Number.isFinite(iv) || iv < 1)) {
      throw new UsageError(`--interval: expected a number of seconds >= 1, found ${JSON.stringify(String(iv))}`);
    }
    const intervalMs = iv === undefined ? undefined : Math.round(iv * 1000);
    const patterns = strs(args, 'patterns');
    const json = bool(args, 'json');
    // The jobs qdo status would show (spec/porcelain.md §qdo watch): without a pattern, the
    // ones live or ended within 7 days, unless --since says otherwise.
    // An age is measured from each round's time, so a watch left running keeps showing the
    // last 7 days (or --since's age), not those before it started; a date stays put.
    const sinceArg = str(args, 'since');
    const since = sinceFrom(sinceArg ?? (patterns.length === 0 && !json ? DEFAULT_SINCE : 'all'), ctx.now());
    let told = false;
    const tell = (u: WatchUpdate) => {
      if (told || !u.hidden || u.hidden.count === 0 || u.since === undefined) return;
      told = true;
      io.stderr(hiddenNote(u.hidden, u.since, sinceArg === undefined, 'qdo watch'));
    };
    if (json) {
      // JSON Lines until every job has ended (or q/Ctrl-C on a terminal).
      const ac = new AbortController();
      const stop = io.isTTY ? listenForQuit(ac) : () => undefined;
      try {
        await core.watchStatus(ctx, patterns, { intervalMs, untilDone: !io.isTTY, signal: ac.signal, since, onUpdate: (u) => io.stdout(jsonRound(u)) });
      } finally {
        stop();
      }
      return;
    }
    if (!io.isTTY) {
      await core.watchStatus(ctx, patterns, {
        intervalMs,
        untilDone: true,
        since,
        onUpdate: (u) => {
          io.stdout(plainLines(u));
          tell(u);
        },
      });
      return;
    }
    const ac = new AbortController();
    const stop = listenForQuit(ac);
    io.stdout('\x1b[?25l'); // hide the cursor while redrawing
    try {
      await core.watchStatus(ctx, patterns, { intervalMs, signal: ac.signal, since, onUpdate: redrawer(io, () => io.size?.() ?? { columns: io.columns ?? 80, rows: io.rows ?? 24 }) });
    } finally {
      stop();
      io.stdout('\x1b[?25h');
    }
  },
};
