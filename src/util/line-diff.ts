// Line diffs for `qdo diff` (spec/porcelain.md §qdo diff): Myers' O((N+M)·D) shortest edit
// script over lines, printed in the unified format of GNU diff -u / git diff, so a user can
// read it, and `patch` could apply it. Pure; no dependency.

/** One line of an edit script: kept (' '), removed from a ('-') or added from b ('+'). */
export interface Edit {
  op: ' ' | '-' | '+';
  /** The line, without its line break. */
  line: string;
  /** 0-based index in a (for ' ' and '-'), else -1. */
  ai: number;
  /** 0-based index in b (for ' ' and '+'), else -1. */
  bi: number;
}

/**
 * Above this many differences (after the common head and tail are set aside) the middle is
 * shown as removed-then-added instead of searched for a shortest script: the trace costs
 * O(D²) memory, and a diff that large is not read line by line anyway. Still a correct diff.
 */
const MAX_D = 2000;

/** The shortest edit script turning lines `a` into lines `b` (Myers 1986, with a trace). */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const out: Edit[] = [];
  for (let i = 0; i < head; i++) out.push({ op: ' ', line: a[i]!, ai: i, bi: i });
  const mid = middle(a, b, head, a.length - tail, head, b.length - tail);
  out.push(...mid);
  for (let t = tail; t > 0; t--) {
    const ai = a.length - t;
    const bi = b.length - t;
    out.push({ op: ' ', line: a[ai]!, ai, bi });
  }
  return out;
}

function middle(a: readonly string[], b: readonly string[], a0: number, a1: number, b0: number, b1: number): Edit[] {
  const n = a1 - a0;
  const m = b1 - b0;
  const removeAll = (): Edit[] => [
    ...Array.from({ length: n }, (_, i): Edit => ({ op: '-', line: a[a0 + i]!, ai: a0 + i, bi: -1 })),
    ...Array.from({ length: m }, (_, j): Edit => ({ op: '+', line: b[b0 + j]!, ai: -1, bi: b0 + j })),
  ];
  if (n === 0 || m === 0) return removeAll();
  const max = n + m;
  const off = max + 1;
  // v[k + off] = furthest x on diagonal k (y = x - k) reached with d differences.
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= Math.min(max, MAX_D); d++) {
    trace.push(v.slice(off - d - 1, off + d + 2)); // v as it was before step d, for k in [-d-1, d+1]
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[a0 + x] === b[b0 + y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) break;
  }
  if (found < 0) return removeAll();

  // Walk the trace back from (n, m) to (0, 0), collecting edits in reverse.
  const rev: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const before = trace[d]!; // v before step d, indexed k + d + 1
    const at = (k: number): number => before[k + d + 1]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1)); // came from k+1 by an insertion
    const pk = down ? k + 1 : k - 1;
    const px = at(pk);
    const py = px - pk;
    const sx = down ? px : px + 1; // where the snake of step d started
    while (x > sx) {
      x--;
      y--;
      rev.push({ op: ' ', line: a[a0 + x]!, ai: a0 + x, bi: b0 + y });
    }
    if (down) rev.push({ op: '+', line: b[b0 + py]!, ai: -1, bi: b0 + py });
    else rev.push({ op: '-', line: a[a0 + px]!, ai: a0 + px, bi: -1 });
    x = px;
    y = py;
  }
  while (x > 0) {
    x--;
    y--;
    rev.push({ op: ' ', line: a[a0 + x]!, ai: a0 + x, bi: b0 + y });
  }
  return rev.reverse();
}

/** Lines of a text, and whether its last line lacks a final newline. */
export function splitLines(text: string): { lines: string[]; noFinalNewline: boolean } {
  if (text === '') return { lines: [], noFinalNewline: false };
  const lines = text.split('\n');
  const noFinalNewline = lines[lines.length - 1] !== '';
  if (!noFinalNewline) lines.pop();
  return { lines, noFinalNewline };
}

export interface UnifiedOptions {
  /** Names on the `---` and `+++` lines. */
  labelA: string;
  labelB: string;
  /** Unchanged lines shown around each change (default 3, as diff -u). */
  context?: number;
}

/** `start,count` of a hunk range; GNU diff omits `,1`, and an empty range names the line before it. */
function range(start: number, count: number): string {
  if (count === 0) return `${start},0`;
  return count === 1 ? `${start + 1}` : `${start + 1},${count}`;
}

/**
 * The unified diff of two texts, or '' if they are equal. A last line without a newline
 * is marked `\ No newline at end of file`, as diff and git do.
 */
export function unifiedDiff(textA: string, textB: string, o: UnifiedOptions): string {
  if (textA === textB) return '';
  const A = splitLines(textA);
  const B = splitLines(textB);
  // A last line that differs only by its newline must count as changed: tag it with a
  // leading LF, which no real line can contain.
  const la = A.noFinalNewline ? [...A.lines.slice(0, -1), '\n' + A.lines[A.lines.length - 1]!] : A.lines;
  const lb = B.noFinalNewline ? [...B.lines.slice(0, -1), '\n' + B.lines[B.lines.length - 1]!] : B.lines;
  const edits = diffLines(la, lb);
  const ctx = o.context ?? 3;
  const out: string[] = [`--- ${o.labelA}\n`, `+++ ${o.labelB}\n`];
  let i = 0;
  while (i < edits.length) {
    // Find the next change, then extend the hunk while changes are within 2·ctx of each other.
    while (i < edits.length && edits[i]!.op === ' ') i++;
    if (i >= edits.length) break;
    const start = Math.max(0, i - ctx);
    let end = i; // exclusive end of the last change seen
    let j = i;
    while (j < edits.length) {
      if (edits[j]!.op !== ' ') {
        end = j + 1;
        j++;
        continue;
      }
      let k = j;
      while (k < edits.length && edits[k]!.op === ' ') k++;
      if (k >= edits.length || k - j > 2 * ctx) break;
      j = k;
    }
    const stop = Math.min(edits.length, end + ctx);
    const hunk = edits.slice(start, stop);
    // Positions: the a/b line numbers where the hunk starts.
    let aStart = 0;
    let bStart = 0;
    for (let t = 0; t < start; t++) {
      if (edits[t]!.op !== '+') aStart++;
      if (edits[t]!.op !== '-') bStart++;
    }
    const aCount = hunk.filter((e) => e.op !== '+').length;
    const bCount = hunk.filter((e) => e.op !== '-').length;
    out.push(`@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@\n`);
    for (const e of hunk) {
      const tagged = e.line.startsWith('\n');
      out.push(`${e.op}${tagged ? e.line.slice(1) : e.line}\n`);
      if (tagged) out.push('\\ No newline at end of file\n');
    }
    i = stop;
  }
  return out.join('');
}
