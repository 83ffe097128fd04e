// Human tables: left-aligned columns separated by two spaces, a header row. Fitted to a
// terminal's width when one is given: the shrinkable columns give way, their long cells cut
// with "…"; piped output (no width) is never cut. Pure; porcelain only (plumbing output
// never goes through here).
import { displayWidth, truncate } from './width.js';

// eslint-disable-next-line no-control-regex
const PLAIN_ROW = /^[\x20-\x7e]*$/;

export interface TableOptions {
  color?: boolean;
  /** Decorates a cell after padding widths are known (colour codes take no columns). */
  cell?: (text: string, column: number) => string;
  /** The terminal's width; absent when piped (then nothing is cut). */
  width?: number;
  /** Columns that may be cut to fit `width`, the first gives way first (default: the first column). */
  shrink?: number[];
  /** No column is cut below this many columns (default 8, or its header's width if wider). */
  minWidth?: number;
}

/** Column widths that fit `width` if the shrinkable columns can give enough. */
export function fitWidths(natural: number[], headers: string[], width: number | undefined, shrink: number[], minWidth: number): number[] {
  const w = [...natural];
  if (width === undefined) return w;
  let excess = w.reduce((a, b) => a + b, 0) + 2 * (w.length - 1) - width;
  for (const i of shrink) {
    if (excess <= 0) break;
    const floor = Math.max(minWidth, displayWidth(headers[i] ?? ''));
    const give = Math.min(excess, Math.max(0, w[i]! - floor));
    w[i]! -= give;
    excess -= give;
  }
  return w;
}

export function formatTable(headers: string[], rows: string[][], opts: TableOptions = {}): string {
  const pieces: string[] = [];
  writeTableTo((s) => pieces.push(s), headers, rows, opts, Infinity);
  return pieces.join('');
}

/**
 * The text of formatTable handed to `write` in pieces of about `size` characters: a table of
 * 10^5 status rows is 6.7 MB, written out piece by piece instead of held whole with its
 * bytes. (A callback, not a generator: V8 compiles a generator's hot loop at much greater
 * cost, which a short-lived `qdo status` over 1,000 jobs pays; bench/README.md §Start-up.)
 */
export function writeTableTo(write: (piece: string) => void, headers: string[], rows: string[][], opts: TableOptions = {}, size = 1 << 16): void {
  const n = headers.length;
  // Widths are measured once. A table of printable ASCII (the usual: thousands of status
  // rows) is measured by length, with no per-cell allocation.
  let plain = true;
  for (let r = 0; r < rows.length && plain; r++) for (let i = 0; i < n; i++) if (!PLAIN_ROW.test(rows[r]![i] ?? '')) plain = false;
  const width = plain ? (s: string) => s.length : displayWidth;
  const natural = headers.map(width);
  for (const r of rows) for (let i = 0; i < n; i++) natural[i] = Math.max(natural[i]!, width(r[i] ?? ''));
  const widths = fitWidths(natural, headers, opts.width, opts.shrink ?? [0], opts.minWidth ?? 8);
  const cut = widths.some((w, i) => w < natural[i]!);
  const last = n - 1;
  const line = (cells: string[], decorate: boolean): string => {
    let out = '';
    for (let i = 0; i < n; i++) {
      let c = cells[i] ?? '';
      let w = width(c);
      if (cut && w > widths[i]!) {
        c = truncate(c, widths[i]!);
        w = displayWidth(c);
      }
      const shown = decorate && opts.cell ? opts.cell(c, i) : c;
      out += i === last ? shown : shown + ' '.repeat(widths[i]! - w + 2);
    }
    out = out.trimEnd();
    // Columns that cannot give more: the line itself is cut, so nothing wraps on a terminal.
    if (opts.width !== undefined && displayWidth(out) > opts.width) out = truncate(out, opts.width);
    return out;
  };
  const head = line(headers, false);
  let out = (opts.color ? `\x1b[1m${head}\x1b[0m` : head) + '\n';
  for (let r = 0; r < rows.length; r++) {
    out += line(rows[r]!, true) + '\n';
    if (out.length >= size) {
      write(out);
      out = '';
    }
  }
  write(out);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}
