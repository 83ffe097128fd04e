// Tables as porcelain prints them: coloured and fitted to the terminal when stdout is one,
// plain and whole when piped. Every command that prints a table goes through here.
import { formatTable, writeTableTo, type TableOptions } from '../output/table.js';
import type { Io } from './io.js';

export function tableText(io: Io, headers: string[], rows: string[][], opts: Omit<TableOptions, 'color' | 'width'> = {}): string {
  return formatTable(headers, rows, { ...opts, color: io.color, width: io.isTTY ? io.columns : undefined });
}

/** tableText in pieces, each written as it is made (status over 10^5 jobs: output/table.ts). */
export function writeTable(io: Io, headers: string[], rows: string[][], opts: Omit<TableOptions, 'color' | 'width'> = {}): void {
  writeTableTo(io.stdout, headers, rows, { ...opts, color: io.color, width: io.isTTY ? io.columns : undefined });
}
