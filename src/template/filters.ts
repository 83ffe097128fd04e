// qdo's own filters (spec/templates.md §Filters). Kept few: each one is a promise.

/**
 * `{{ value | shquote }}`: the value as one bash word. Plain words (letters, digits and
 * `_ - . , : / @ % + =`) are left as they are, so `--lr={{ lr | shquote }}` stays readable;
 * anything else is single-quoted with embedded quotes written `'\''`; empty becomes `''`.
 */
export function shquote(value: unknown): string {
  const s = value === undefined || value === null ? '' : String(value);
  if (s === '') return "''";
  if (/^[A-Za-z0-9_\-.,:/@%+=]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export const FILTERS: Record<string, (value: unknown) => string> = { shquote };
