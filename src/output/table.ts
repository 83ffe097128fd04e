// Human tables: left-aligned columns separated by two spaces, a header row.
// Pure; porcelain only (plumbing output never goes through here).

export interface TableOptions {
  color?: boolean;
  /** Decorates a cell after padding widths are known (colour codes take no columns). */
  cell?: (text: string, column: number) => string;
}

export function formatTable(headers: string[], rows: string[][], opts: TableOptions = {}): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], decorate: boolean) =>
    cells
      .map((c, i) => {
        const shown = decorate && opts.cell ? opts.cell(c, i) : c;
        return i === cells.length - 1 ? shown : shown + ' '.repeat(Math.max(0, widths[i]! - c.length));
      })
      .join('  ')
      .trimEnd() + '\n';
  const head = line(headers, false);
  return (opts.color ? `\x1b[1m${head.trimEnd()}\x1b[0m\n` : head) + rows.map((r) => line(r, true)).join('');
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
