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

/**
 * `JSON.stringify(doc, null, 2) + '\n'` — the same text — in pieces of about `size`
 * characters, for documents with long arrays (`status --json` over 10^5 jobs is 55 MB: as
 * one string, its bytes and every element's object held at once, ~150 MB of a peak of 400;
 * bench/README.md §Scale), handed to `write`. An array member is written element by
 * element, `map[key]` applied to each element only as it is written. (A callback, not a
 * generator: see writeTableTo in output/table.ts.)
 */
export function writeJsonTo(write: (piece: string) => void, doc: Record<string, unknown>, map: Record<string, (item: never) => unknown> = {}, size = 1 << 16): void {
  let out = '{';
  let first = true;
  for (const [key, value] of Object.entries(doc)) {
    const f = map[key] as ((item: unknown) => unknown) | undefined;
    if (Array.isArray(value) && value.length > 0 && (value as { toJSON?: unknown }).toJSON === undefined) {
      out += `${first ? '' : ','}\n  ${JSON.stringify(key)}: [`;
      for (let i = 0; i < value.length; i++) {
        const s = JSON.stringify(f ? f(value[i]) : value[i], null, 2) as string | undefined;
        out += `${i ? ',' : ''}\n    ${s === undefined ? 'null' : s.replace(/\n/g, '\n    ')}`;
        if (out.length >= size) {
          write(out);
          out = '';
        }
      }
      out += '\n  ]';
    } else {
      const s = JSON.stringify(Array.isArray(value) && f ? value.map(f) : value, null, 2) as string | undefined;
      if (s === undefined) continue; // as JSON.stringify: undefined and functions are left out
      out += `${first ? '' : ','}\n  ${JSON.stringify(key)}: ${s.replace(/\n/g, '\n  ')}`;
    }
    first = false;
  }
  write(out + (first ? '}\n' : '\n}\n'));
}
