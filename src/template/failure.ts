// What went wrong in a render or check, and the UsageError it becomes
// (spec/templates.md §Errors): "<name>:<line>:<col>: <what>", codes template-syntax,
// template-undefined, template-error, template-forbidden, template-limit, all exit 2.
import { UsageError } from '../errors.js';
import type { Position } from './ast.js';

export type FailureCode = 'template-syntax' | 'template-undefined' | 'template-error' | 'template-forbidden' | 'template-limit';

export interface Failure {
  code: FailureCode;
  /** The template's display name: the caller's name, or an included file's path. */
  template: string;
  at?: Position | undefined;
  what: string;
  hint?: string | undefined;
}

export function failureError(f: Failure, cause?: unknown): UsageError {
  const where = f.at ? `${f.template}:${f.at.line}${f.at.column !== undefined ? `:${f.at.column}` : ''}` : f.template;
  return new UsageError(`${where}: ${f.what}`, {
    code: f.code,
    hint: f.hint,
    data: { template: f.template, line: f.at?.line ?? null, column: f.at?.column ?? null },
    cause,
  });
}

export interface NunjucksMessage {
  /** The innermost named template (nunjucks says "unknown path" when it has none). */
  path?: string;
  line?: number;
  column?: number;
  /** The message with nunjucks' framing and "Error: " prefixes removed. */
  text: string;
}

const HEADER = /^\((.*?)\)(?: \[Line (\d+)(?:, Column (\d+))?\])?\n\s*/;

/**
 * Reads nunjucks' layered error text, e.g.
 *   "(unknown path)\n  Template render error: (/r/inc.sh) [Line 2, Column 6]\n  attempted to …"
 * Each layer is "(path) [Line L, Column C]" (position optional) and a nested error repeats
 * after "Template render error: ". The innermost path and position win.
 */
export function parseNunjucksMessage(message: string): NunjucksMessage {
  let rest = message;
  const out: NunjucksMessage = { text: '' };
  for (;;) {
    const m = HEADER.exec(rest);
    if (!m) break;
    if (m[1] !== 'unknown path') out.path = m[1];
    if (m[2] !== undefined) {
      out.line = Number(m[2]);
      if (m[3] !== undefined) out.column = Number(m[3]);
      else delete out.column;
    }
    rest = rest.slice(m[0].length);
    if (rest.startsWith('Template render error: (')) rest = rest.slice('Template render error: '.length);
    else break;
  }
  out.text = cleanText(rest);
  return out;
}

/** Drops "Error: " and nunjucks' internal function prefixes ("parseIf: ") from a message. */
export function cleanText(s: string): string {
  return s
    .trim()
    .replace(/^(?:Template render error|Error): /, '')
    .replace(/^(?:parse|compile)[A-Za-z]*: /, '');
}
