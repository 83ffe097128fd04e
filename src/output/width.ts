// How many terminal columns text takes (porcelain tables, qdo watch). Pure.
// ASCII is one column a character; beyond it, East Asian wide and fullwidth characters and
// most emoji take two, combining marks and zero-width characters none. Close to wcwidth(3)
// for what job names, paths and messages hold, without a table of every code point.

// eslint-disable-next-line no-control-regex
const PLAIN = /^[\x20-\x7e]*$/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
// Made on first use: a Unicode property class costs ICU work even to compile.
let zero: RegExp | undefined;
const isZero = (ch: string): boolean => (zero ??= new RegExp('^[\\p{Mn}\\p{Me}\\p{Cf}]$', 'u')).test(ch);

function wide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) || // Hangul Jamo
    (cp >= 0x2e80 && cp <= 0x303e) || // CJK radicals .. CJK symbols
    (cp >= 0x3041 && cp <= 0x33ff) || // Hiragana .. CJK compatibility
    (cp >= 0x3400 && cp <= 0x4dbf) || // CJK extension A
    (cp >= 0x4e00 && cp <= 0x9fff) || // CJK unified ideographs
    (cp >= 0xa000 && cp <= 0xa4cf) || // Yi
    (cp >= 0xac00 && cp <= 0xd7a3) || // Hangul syllables
    (cp >= 0xf900 && cp <= 0xfaff) || // CJK compatibility ideographs
    (cp >= 0xfe30 && cp <= 0xfe4f) || // CJK compatibility forms
    (cp >= 0xff00 && cp <= 0xff60) || // fullwidth forms
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) || // emoji
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd) // CJK extensions B..
  );
}

/** Columns `s` takes on a terminal; colour codes take none. */
export function displayWidth(s: string): number {
  if (PLAIN.test(s)) return s.length;
  let n = 0;
  for (const ch of s.replace(ANSI, '')) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || isZero(ch)) continue;
    n += wide(cp) ? 2 : 1;
  }
  return n;
}

/**
 * `s` cut to at most `width` columns, the cut marked with "…" (width >= 1). Colour codes
 * are kept whole and a colour left open is closed after the cut.
 */
export function truncate(s: string, width: number): string {
  if (displayWidth(s) <= width) return s;
  let out = '';
  let n = 0;
  let open = false;
  for (let i = 0; i < s.length; ) {
    // eslint-disable-next-line no-control-regex
    const esc = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(s.slice(i, i + 16));
    if (esc) {
      out += esc[0];
      open = esc[0] !== '\x1b[0m' && esc[0].endsWith('m');
      i += esc[0].length;
      continue;
    }
    const ch = String.fromCodePoint(s.codePointAt(i)!);
    const w = displayWidth(ch);
    if (n + w > width - 1) break;
    out += ch;
    n += w;
    i += ch.length;
  }
  return out + '…' + (open ? '\x1b[0m' : '');
}

/** Terminal rows `text` takes when each line wraps at `columns` (an empty line takes one). */
export function wrappedRows(text: string, columns: number): number {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let rows = 0;
  for (const l of lines) rows += Math.max(1, Math.ceil(displayWidth(l) / Math.max(1, columns)));
  return rows;
}
