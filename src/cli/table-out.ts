// Tables as porcelain prints them: coloured and fitted to the terminal when stdout is one,
// plain and whole when piped. Every command that prints a table goes through here.
import { formatTable, type TableOptions } from '../output/table.js';
import type { Io } from './io.js';

export function tableText(io: Io, headers: string[], rows: string[][], opts: Omit<TableOptions, 'color' | 'width'> = {}): string {
  return formatTable(headers, rows, { ...opts, color: io.color, width: io.isTTY ? io.columns : undefined });
}
