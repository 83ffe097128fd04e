// Questions answered from a template's syntax tree, asked only after something went wrong
// (so a successful render never parses twice): where a name is used, which names the
// template itself treats as optional, where an include is, where "${#" opened a comment.
import type { NjNode, Nunjucks } from './nunjucks.js';

export interface Position {
  line: number; // 1-based
  column?: number; // 1-based
}

/** Slots that bind or name things rather than look a variable up. */
const NOT_LOOKUPS: Record<string, readonly string[]> = {
  For: ['name'],
  AsyncEach: ['name'],
  AsyncAll: ['name'],
  Set: ['targets'],
  Macro: ['name', 'args'],
  Caller: ['name', 'args'],
  Import: ['target'],
  FromImport: ['names'],
  Filter: ['name'],
  FilterAsync: ['name'],
  Is: ['right'],
  Pair: ['key'],
};

function isNode(x: unknown): x is NjNode {
  return typeof x === 'object' && x !== null && typeof (x as NjNode).typename === 'string';
}

/** Every node in source order, with whether it sits where a name is bound, not read. */
function* walk(node: NjNode, binding = false): Generator<{ node: NjNode; binding: boolean }> {
  yield { node, binding };
  const skip = NOT_LOOKUPS[node.typename] ?? [];
  for (const f of node.fields) {
    const v = node[f];
    const b = binding || skip.includes(f);
    if (Array.isArray(v)) for (const c of v) if (isNode(c)) yield* walk(c, b);
    if (isNode(v)) yield* walk(v, b);
  }
}

/** "a", "a.b", "a.0" for a Symbol or a chain of constant member lookups, else undefined. */
export function dottedPath(node: unknown): string | undefined {
  if (!isNode(node)) return undefined;
  if (node.typename === 'Symbol') return String(node.value);
  if (node.typename === 'LookupVal') {
    const target = dottedPath(node['target']);
    const val = node['val'];
    if (target !== undefined && isNode(val) && val.typename === 'Literal') return `${target}.${String(val.value)}`;
  }
  return undefined;
}

function pos(n: NjNode): Position {
  return { line: n.lineno + 1, column: n.colno + 1 };
}

export class TemplateAst {
  private readonly root: NjNode | undefined;

  constructor(
    nj: Nunjucks,
    readonly source: string,
  ) {
    try {
      this.root = nj.parser.parse(source, [], {});
    } catch {
      this.root = undefined;
    }
  }

  private *nodes(): Generator<{ node: NjNode; binding: boolean }> {
    if (this.root) yield* walk(this.root);
  }

  /** First place the name is read as a variable. */
  findVariable(name: string): Position | undefined {
    for (const { node, binding } of this.nodes()) {
      if (!binding && node.typename === 'Symbol' && node.value === name) return pos(node);
    }
    return undefined;
  }

  /** First place member `key` is read, preferring a lookup on `objPath` if that is known. */
  findMember(key: string, objPath: string | undefined): Position | undefined {
    let any: Position | undefined;
    for (const { node, binding } of this.nodes()) {
      if (binding || node.typename !== 'LookupVal') continue;
      const val = node['val'];
      if (!isNode(val) || val.typename !== 'Literal' || String(val.value) !== key) continue;
      if (objPath === undefined || dottedPath(node['target']) === objPath) return pos(val);
      any ??= pos(val);
    }
    return any;
  }

  /** Where a filter of this name is applied. */
  findFilter(name: string): Position | undefined {
    for (const { node } of this.nodes()) {
      if ((node.typename === 'Filter' || node.typename === 'FilterAsync') && isNode(node['name']) && node['name'].value === name) {
        return pos(node['name']);
      }
    }
    return undefined;
  }

  /** Where {% include %} / {% import %} / {% extends %} names this template. */
  findTemplateRef(name: string): Position | undefined {
    for (const { node } of this.nodes()) {
      if (!['Include', 'Import', 'FromImport', 'Extends'].includes(node.typename)) continue;
      const t = node['template'];
      if (isNode(t) && t.typename === 'Literal' && t.value === name) return pos(node);
    }
    return undefined;
  }

  /**
   * Names and member paths the template tests with `is defined` / `is undefined` or gives a
   * `default`: spec/templates.md §Strictness makes exactly these optional. Prefixes count
   * too ("a.b is defined" may be asked when "a" is missing).
   */
  optionalPaths(): Set<string> {
    const out = new Set<string>();
    const add = (p: string | undefined): void => {
      if (p === undefined) return;
      const parts = p.split('.');
      for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('.'));
    };
    for (const { node } of this.nodes()) {
      if (node.typename === 'Is') {
        const test = node['right'];
        if (isNode(test) && (test.value === 'defined' || test.value === 'undefined')) add(dottedPath(node['left']));
      } else if (node.typename === 'Filter') {
        const name = node['name'];
        const args = node['args'];
        if (isNode(name) && (name.value === 'default' || name.value === 'd') && isNode(args)) {
          const first = (args['children'] as unknown[] | undefined)?.[0];
          add(dottedPath(first));
        }
      }
    }
    return out;
  }

  /**
   * A "{#" right after literal "$" — bash's "${#arr[@]}" — that nunjucks took as a comment
   * opener. If a "#}" follows somewhere, nunjucks silently drops everything in between;
   * qdo makes that an error instead (spec/templates.md §Bash and "{#").
   */
  findDollarComment(): Position | undefined {
    const starts = lineStarts(this.source);
    for (const { node } of this.nodes()) {
      if (node.typename !== 'TemplateData' || typeof node.value !== 'string' || !node.value.endsWith('$')) continue;
      const end = (starts[node.lineno] ?? 0) + node.colno + node.value.length;
      if (this.source.startsWith('{#', end)) return positionAt(this.source, end);
    }
    return undefined;
  }
}

function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') out.push(i + 1);
  return out;
}

export function positionAt(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

/** The "{#" nunjucks' lexer never saw closed: the first one with no "#}" after it. */
export function unclosedComment(text: string): Position | undefined {
  let i = 0;
  for (;;) {
    const open = text.indexOf('{#', i);
    if (open < 0) return undefined;
    const close = text.indexOf('#}', open + 2);
    if (close < 0) return positionAt(text, open);
    i = close + 2;
  }
}

/** "{{ x.y }}" as written at a position, for messages; undefined if not found. */
export function outputSnippet(text: string, at: Position): string | undefined {
  const starts = lineStarts(text);
  const off = (starts[at.line - 1] ?? 0) + (at.column ?? 1) - 1;
  if (!text.startsWith('{{', off)) return undefined;
  const end = text.indexOf('}}', off);
  if (end < 0) return undefined;
  const s = text.slice(off, end + 2);
  return s.includes('\n') || s.length > 80 ? undefined : s;
}
