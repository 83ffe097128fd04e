// The one place qdo loads nunjucks (spec/templates.md). It is loaded lazily, on the first
// render or check, so commands that never touch a template do not pay for it. nunjucks is
// CommonJS: the namespace's `default` is the module under Node's ESM interop.
//
// qdo uses a few of nunjucks' undocumented internals (Template.rootRenderFunc, the runtime
// object compiled code calls, the parser's AST) to make undefined names errors that name
// the variable. The narrow types below say exactly which; nunjucks is pinned to 3.2.x.
import { hardenNunjucks } from './harden.js';

export type Callback = (err: unknown, res?: string) => void;

export interface NjFrame {
  variables: Record<string, unknown>;
  parent: NjFrame | null;
  lookup(name: string): unknown;
}

export interface NjContext {
  ctx: Record<string, unknown>;
  env: { globals: Record<string, unknown> };
}

/** The object compiled templates receive as `runtime` (nunjucks/src/runtime.js). */
export interface NjRuntime {
  contextOrFrameLookup(context: NjContext, frame: NjFrame, name: string): unknown;
  memberLookup(obj: unknown, key: unknown): unknown;
  ensureDefined(val: unknown, lineno: number, colno: number): unknown;
  callWrap(fn: unknown, name: string, context: unknown, args: unknown[]): unknown;
  suppressValue(val: unknown, autoescape: boolean): unknown;
  inOperator(key: unknown, val: unknown): boolean;
  Frame: { prototype: { set(name: string, val: unknown, resolveUp?: boolean): void } };
}

export type RenderFunc = (env: unknown, context: NjContext, frame: NjFrame, runtime: NjRuntime, cb: Callback) => void;

export interface NjTemplate {
  path: string;
  tmplStr: string;
  compiled: boolean;
  rootRenderFunc: RenderFunc;
  blocks: Record<string, RenderFunc>;
  _compile(): void;
  compile(): void;
  /** Without a callback: synchronous, returns the output or throws. */
  render(ctx: Record<string, unknown>): string | null;
}

export interface NjEnvironment {
  getTemplate(...args: unknown[]): unknown;
  addFilter(name: string, fn: (...args: never[]) => unknown): void;
  getFilter(name: string): unknown;
  getTest(name: string): unknown;
  filters: Record<string, (...args: unknown[]) => unknown>;
  tests: Record<string, (...args: unknown[]) => unknown>;
  globals: Record<string, unknown>;
}

/** A node of nunjucks' AST (nunjucks/src/nodes.js); `fields` names its child slots. */
export interface NjNode {
  typename: string;
  lineno: number;
  colno: number;
  fields: string[];
  value?: unknown;
  [field: string]: unknown;
}

export interface NjLoader {
  getSource(name: string): { src: string; path: string; noCache: boolean } | null;
  isRelative(name: string): boolean;
  resolve(from: string, to: string): string;
}

export interface Nunjucks {
  Environment: new (loaders: NjLoader[], opts: Record<string, unknown>) => NjEnvironment;
  Template: new (src: string, env: NjEnvironment, path: string, eagerCompile?: boolean) => NjTemplate;
  parser: { parse(src: string, extensions?: unknown[], opts?: Record<string, unknown>): NjNode };
  runtime: NjRuntime;
  lexer: { lex(src: string): object; TOKEN_SYMBOL: string; TOKEN_REGEX: string };
  compiler: { Compiler: { prototype: { _getNodeName(node: unknown): string } } };
}

let loading: Promise<Nunjucks> | undefined;


export function loadNunjucks(): Promise<Nunjucks> {
  loading ??= import('nunjucks').then((m) => {
    const nj = ((m as { default?: unknown }).default ?? m) as Nunjucks;
    hardenNunjucks(nj);
    return nj;
  });
  return loading;
}
