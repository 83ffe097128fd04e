// Patches to nunjucks 3.2.x applied once, when qdo loads it (spec/templates.md §Sandbox).
//
// nunjucks compiles a template to JavaScript source and runs it with `new Function`. Two
// places in its compiler put template text into that source with too little escaping, so a
// template could inject code that runs before any runtime check (found while building the
// sandbox; tests in test/template/sandbox.test.ts):
//   1. a name is any run of characters up to whitespace or one of ()[]{}%*-+~/#,:|.<>=! —
//      `"`, `\`, `;`, `&` and backquotes included — and is emitted inside "…" as written:
//      {{ a"&&Function`…```&&" }} calls Function;
//   2. a call's display name (for "Unable to call …" messages) embeds string literals with
//      only `"` escaped, so a literal ending in a backslash closes the string early:
//      {{ "\\\",[(globalThis.x=1)]…//".split() }} runs its payload.
// qdo therefore accepts only identifiers as names (letters, digits, `_`, not starting with a
// digit: what Jinja accepts), strips backslashes and line ends from display names, and
// refuses regular-expression literals (r/…/) outright: a backtracking pattern cannot be
// interrupted, and nothing a job script needs is a regular expression.
import { meterFrames } from './meter.js';
import type { Nunjucks } from './nunjucks.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Token {
  type: string;
  value: unknown;
  lineno: number;
  colno: number;
}

/** A syntax error at a token, as nunjucks' parser throws them (1-based line and column). */
export class ForbiddenSyntax extends Error {
  constructor(
    message: string,
    readonly lineno: number,
    readonly colno: number,
  ) {
    super(message);
  }
}

let done = false;

export function hardenNunjucks(nj: Nunjucks): void {
  if (done) return;
  done = true;
  meterFrames(nj);

  const tokenizer = Object.getPrototypeOf(nj.lexer.lex('')) as { nextToken(): Token | null };
  const next = tokenizer.nextToken;
  tokenizer.nextToken = function (this: unknown): Token | null {
    const tok = next.call(this);
    if (tok?.type === nj.lexer.TOKEN_SYMBOL && typeof tok.value === 'string' && !IDENTIFIER.test(tok.value)) {
      throw new ForbiddenSyntax(`"${tok.value.slice(0, 40)}" is not a name (names are letters, digits and "_", not starting with a digit)`, tok.lineno + 1, tok.colno + 1);
    }
    if (tok?.type === nj.lexer.TOKEN_REGEX) {
      throw new ForbiddenSyntax('regular expressions (r/…/) are not available in templates', tok.lineno + 1, tok.colno + 1);
    }
    return tok;
  };

  const compiler = nj.compiler.Compiler.prototype;
  const nodeName = compiler._getNodeName;
  compiler._getNodeName = function (this: unknown, node: unknown): string {
    // Only ever shown in messages; the caller escapes `"` and nothing else.
    // eslint-disable-next-line no-control-regex
    return String(nodeName.call(this, node)).replace(/[\\\x00-\x1f\x7f\u2028\u2029]/g, '?');
  };
}
