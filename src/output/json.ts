// The --json forms (spec/porcelain.md §--json): pure functions, no I/O.

/** A --json document: one object with `"version": 1` first, two-space indent, final LF. */
export function jsonDocument(value: Record<string, unknown>): string {
  return JSON.stringify({ version: 1, ...value }, null, 2) + '\n';
}

/** The error object of `--json` (spec/porcelain.md §--json): one line, the last on stderr. */
export function errorJson(code: string, message: string, hint: string | undefined): string {
  return JSON.stringify({ version: 1, error: { code, message, hint: hint ?? null } }) + '\n';
}

/** One line of a JSON Lines stream (`watch --json`, `logs --follow --json`). */
export function jsonLine(value: Record<string, unknown>): string {
  return JSON.stringify({ version: 1, ...value }) + '\n';
}

/** Bytes as JSON: the text if they are UTF-8, else base64 (spec/porcelain.md §--json). */
export function bytesJson(b: Uint8Array): { encoding: 'utf8' | 'base64'; content: string } {
  try {
    return { encoding: 'utf8', content: new TextDecoder('utf-8', { fatal: true }).decode(b) };
  } catch {
    return { encoding: 'base64', content: Buffer.from(b).toString('base64') };
  }
}
