// One render or syntax check of a template (spec/templates.md). Builds a fresh nunjucks
// environment per call (the search paths differ per project; nothing is cached), hands
// every compiled template the strict runtime, and turns whatever fails into one
// UsageError that names the template, line and column.
//
// Every render runs sandboxed and metered (spec/templates.md §Sandbox, §Limits): the
// strict runtime refuses what is not data (sandbox.ts), the meter bounds time, size and
// depth (meter.ts). A template without tags never loads nunjucks: it is its own output.
import type { UsageError } from '../errors.js';
import { TemplateAst, unclosedComment, type Position } from './ast.js';
import { cleanText, failureError, parseNunjucksMessage, type Failure } from './failure.js';
import { FILTERS } from './filters.js';
import { ContainedLoader } from './loader.js';
import { ForbiddenSyntax } from './harden.js';
import { DEFAULT_TEMPLATE_LIMITS, Meter, withMeter, type TemplateLimits } from './meter.js';
import { loadNunjucks, type NjEnvironment, type NjTemplate, type Nunjucks, type RenderFunc } from './nunjucks.js';
import { boundedFilter, boundedRange, REMOVED_FILTERS, trimFilter } from './sandbox.js';
import { strictRuntime, type TemplateUnit } from './strict-runtime.js';

export interface TemplateSource {
  text: string;
  /** shown in errors: a resource name or file path */
  name: string;
}

export interface RenderOptions {
  /**
   * Folders {% include %}/{% import %}/{% extends %} may read from (the project's resources
   * folder; later more roots, in search order). A file is read only if its real path, all
   * symlinks resolved, is inside the real path of one of them. None → includes are errors.
   */
  searchPaths?: string[];
  /** Bounds of one render (spec/config.md §Limits); missing ones take the defaults. */
  limits?: Partial<TemplateLimits>;
  /** Milliseconds from any fixed origin, for the time bound; without it only the other bounds hold. */
  clock?: () => number;
}

export type { TemplateLimits } from './meter.js';

class Run {
  failure: Failure | undefined;
  cause: unknown;
  readonly units: TemplateUnit[] = [];
  readonly meter: Meter;

  constructor(
    readonly nj: Nunjucks,
    readonly loader: ContainedLoader,
    readonly name: string,
    limits: TemplateLimits,
    clock: (() => number) | undefined,
  ) {
    this.meter = new Meter(limits, clock, (f) => this.fail({ code: f.code ?? 'template-limit', template: name, what: f.what, hint: f.hint }));
  }

  /** The first unit whose syntax tree `has` something (to place a failure seen outside any one unit). */
  place(find: (u: TemplateUnit) => Position | undefined): { template: string; at?: Position } {
    for (const u of this.units) {
      const at = find(u);
      if (at) return { template: u.name, at };
    }
    return { template: this.name };
  }

  /** Records the first failure (later ones are consequences) and gives an error to throw. */
  fail = (f: Failure, cause?: unknown): Error => {
    if (!this.failure) {
      this.failure = f;
      this.cause = cause;
    }
    return new Error(f.what);
  };

  unit(name: string, source: string): TemplateUnit {
    let ast: TemplateAst | undefined;
    const u = { name, source, ast: () => (ast ??= new TemplateAst(this.nj, source)) };
    this.units.push(u);
    return u;
  }

  /**
   * The error for the whole run: the recorded failure, else whatever nunjucks said. A
   * failure recorded without a place (a bound hit in a loop, say) takes the line nunjucks
   * was at when it unwound.
   */
  error(err: unknown, fallbackName: string): UsageError {
    const msg = parseNunjucksMessage(err instanceof Error ? err.message : String(err));
    if (this.failure) {
      const f = this.failure;
      if (f.at === undefined && msg.line !== undefined) return failureError({ ...f, template: msg.path ?? f.template, at: { line: msg.line } }, this.cause ?? err);
      return failureError(f, this.cause ?? err);
    }
    // What V8 itself refuses is a bound too, not a bug of the template or of qdo.
    if (/Invalid string length|Invalid array length/.test(msg.text)) {
      return failureError({ code: 'template-limit', template: msg.path ?? fallbackName, at: lineOf(msg), what: 'a value grew past what JavaScript can hold' }, err);
    }
    if (/Maximum call stack size exceeded/.test(msg.text)) {
      return failureError({ code: 'template-limit', template: msg.path ?? fallbackName, at: lineOf(msg), what: 'nested too deeply to render' }, err);
    }
    return failureError({ code: 'template-error', template: msg.path ?? fallbackName, at: lineOf(msg), what: msg.text }, err);
  }
}

function lineOf(m: { line?: number; column?: number }): Position | undefined {
  return m.line === undefined ? undefined : m.column === undefined ? { line: m.line } : { line: m.line, column: m.column };
}

function numberOr(x: unknown): number | undefined {
  return typeof x === 'number' && x > 0 ? x : undefined;
}

const COMMENT_HINT =
  '"{#" opens a template comment; for bash\'s ${#var} write {% raw %}${#var}{% endraw %} (spec/templates.md §Bash and "{#")';

/** A failure from nunjucks' parser or lexer, thrown while compiling `unit`. */
function syntaxFailure(unit: TemplateUnit, e: unknown): Failure {
  if (e instanceof ForbiddenSyntax) {
    return { code: 'template-forbidden', template: unit.name, at: { line: e.lineno, column: e.colno }, what: e.message, hint: 'templates reach data, not JavaScript (spec/templates.md §Sandbox)' };
  }
  const raw = e as { message?: unknown; lineno?: unknown; colno?: unknown };
  const what = cleanText(String(raw.message ?? e));
  const line = numberOr(raw.lineno);
  let at: Position | undefined = line === undefined ? undefined : { line, column: numberOr(raw.colno) };
  let hint: string | undefined;
  if (/end of comment/.test(what)) {
    at = unclosedComment(unit.source) ?? at;
    hint = COMMENT_HINT;
  } else if (at === undefined) {
    // nunjucks gives no position when it ran out of input: the problem is at the end.
    at = { line: unit.source.replace(/\n$/, '').split('\n').length };
    if (/end of file/.test(what)) hint = 'a block ({% if %}, {% for %}, {% raw %}, …) is missing its end tag';
  }
  return { code: 'template-syntax', template: unit.name, at, what, hint };
}

/** A failure nunjucks raised while rendering `unit` (not one of the strict lookups). */
function renderFailure(run: Run, unit: TemplateUnit, e: unknown): Failure {
  const raw = e as { message?: unknown; cause?: unknown };
  const what = cleanText(String(raw.message ?? e));
  const filter = /^filter not found: (.+)$/.exec(what);
  if (filter) {
    // nunjucks may report this against an included template (its error unwinds through
    // the include's callback); the template that applies the filter is the one to name.
    for (const u of [unit, ...run.units]) {
      const at = u.ast().findFilter(filter[1]!);
      if (at) return { code: 'template-error', template: u.name, at, what: `unknown filter "${filter[1]}"` };
    }
  }
  return { code: 'template-error', template: unit.name, what };
}

function includeFailure(run: Run, parent: TemplateUnit | undefined, parentName: string, name: string): Failure {
  const where = run.loader.bases.length ? run.loader.bases.join(', ') : undefined;
  const at = run.loader.locate(run.loader.resolve(parentName, name));
  const place = { template: parent?.name ?? parentName, at: parent?.ast().findTemplateRef(name) };
  if (where !== undefined && at.kind === 'outside' && at.real !== undefined) {
    // The name is inside, the file it leads to is not: a symlink out of the folder.
    return { code: 'template-forbidden', ...place, what: `template "${name}" leads outside the include folder ${where} (to ${at.real})`, hint: 'includes read files inside the resources folder only, symlinks resolved' };
  }
  if (at.kind === 'too-large') return { code: 'template-limit', ...place, what: `template "${name}" is ${at.size} bytes, more than ${run.meter.limits.bytes}` };
  const what =
    where === undefined
      ? `template "${name}" cannot be included: no include folder is available here`
      : at.kind === 'outside'
        ? `template "${name}" is outside the include folder ${where}`
        : `template "${name}" not found in ${where}`;
  return { code: 'template-error', ...place, what };
}

/**
 * Gives `tmpl` the strict runtime once nunjucks compiles it, and records syntax and render
 * failures against it. Blocks are wrapped too, so a child's block run by its parent still
 * reports against the child.
 */
function instrument(run: Run, tmpl: NjTemplate, unit: TemplateUnit): void {
  const compile = tmpl._compile;
  tmpl._compile = function (this: NjTemplate): void {
    try {
      compile.call(this);
    } catch (e) {
      throw run.fail(syntaxFailure(unit, e), e);
    }
    if (unit.source.includes('${#')) {
      const at = unit.ast().findDollarComment();
      if (at) {
        throw run.fail({ code: 'template-syntax', template: unit.name, at, what: '"${#" starts a template comment here, not bash\'s ${#…}', hint: COMMENT_HINT });
      }
    }
    let rt: ReturnType<typeof strictRuntime> | undefined;
    const wrap =
      (fn: RenderFunc): RenderFunc =>
      (env, context, frame, base, cb) =>
        fn(env, context, frame, (rt ??= strictRuntime(base, unit, run.fail, run.meter)), (err, res) => {
          if (err) run.fail(renderFailure(run, unit, err), err);
          cb(err, res);
        });
    this.rootRenderFunc = wrap(this.rootRenderFunc);
    for (const k of Object.keys(this.blocks)) this.blocks[k] = wrap(this.blocks[k]!);
  };
}

function environment(run: Run): NjEnvironment {
  const env = new run.nj.Environment([run.loader], {
    autoescape: false, // shell scripts, not HTML
    throwOnUndefined: true,
    trimBlocks: false, // byte-exact output: no whitespace is eaten unless the template says so ({%- -%})
    lstripBlocks: false,
  });
  for (const [name, fn] of Object.entries(FILTERS)) env.addFilter(name, fn);
  sandbox(run, env);
  const getTemplate = env.getTemplate.bind(env);
  // Every template nunjucks loads for {% include %}/{% import %}/{% extends %} passes here:
  // instrument it, and name the include when it is not found.
  env.getTemplate = (...args: unknown[]): unknown => {
    const name = String(args[0]);
    const parentName = typeof args[2] === 'string' ? args[2] : '';
    const i = args.findIndex((a) => typeof a === 'function');
    if (i < 0) throw new Error('qdo: synchronous getTemplate is not used');
    const cb = args[i] as (err: unknown, t?: NjTemplate) => void;
    args[i] = (err: unknown, t?: NjTemplate): void => {
      if (err) {
        const parent = run.units.find((u) => u.name === parentName);
        run.fail(includeFailure(run, parent, parentName, name), err);
      } else if (t && !(t as { qdoUnit?: boolean }).qdoUnit) {
        (t as { qdoUnit?: boolean }).qdoUnit = true;
        instrument(run, t, run.unit(t.path, t.tmplStr));
        // Compiled here, where a syntax error can be handed on at once: compiled later, in
        // its render(), nunjucks would report it on a later tick, outside this render.
        try {
          t.compile();
        } catch (e) {
          cb(e);
          return;
        }
      }
      cb(err, t);
    };
    return getTemplate(...args);
  };
  return env;
}

/**
 * Filters, tests and globals as the sandbox allows them (sandbox.ts): own entries only (so
 * `x | constructor` is an unknown filter, not Object), every filter bounded, `range` bounded,
 * nunjucks' backtracking HTML filters removed and its quadratic `trim` replaced.
 */
function sandbox(run: Run, env: NjEnvironment): void {
  const refuseIn =
    (name: string) =>
    (what: string, hint?: string): Error =>
      run.fail({ code: 'template-forbidden', ...run.place((u) => u.ast().findFilter(name)), what, hint });
  for (const name of REMOVED_FILTERS) delete env.filters[name];
  env.filters.trim = trimFilter;
  for (const [name, fn] of Object.entries(env.filters)) env.filters[name] = boundedFilter(run.meter, refuseIn(name), name, fn);
  const own = (table: Record<string, unknown>, kind: string) => (name: string) => {
    if (!Object.prototype.hasOwnProperty.call(table, name)) throw new Error(`${kind} not found: ${name}`);
    return table[name];
  };
  env.getFilter = own(env.filters, 'filter');
  env.getTest = own(env.tests, 'test');
  env.globals.range = boundedRange(run.meter, (what, hint) =>
    run.fail({ code: 'template-limit', ...run.place((u) => u.ast().findVariable('range')), what, hint }),
  );
}

/**
 * Text with no nunjucks tag renders as itself (`-- true`, most commands). A lone "#}" is
 * an error to nunjucks ("unexpected end of comment"), so such text goes to it.
 */
export function isPlainText(text: string): boolean {
  return !text.includes('{{') && !text.includes('{%') && !text.includes('{#') && !text.includes('#}');
}

/** Compiles (and, when `vars` is given, renders) one template. */
export async function runTemplate(src: TemplateSource, vars: Record<string, unknown> | undefined, opts: RenderOptions = {}): Promise<string> {
  const limits: TemplateLimits = { ...DEFAULT_TEMPLATE_LIMITS, ...(opts.limits ?? {}) };
  if (src.text.length > limits.bytes) {
    throw failureError({ code: 'template-limit', template: src.name, what: `the template is larger than ${limits.bytes} bytes`, hint: 'the bound is limits.template_bytes in .qdo/config.json' });
  }
  // nunjucks (a fifth of node's start-up to load) is not needed to copy text.
  if (isPlainText(src.text)) return vars === undefined ? '' : src.text;
  const nj = await loadNunjucks();
  const run = new Run(nj, new ContainedLoader(opts.searchPaths ?? [], limits.bytes), src.name, limits, opts.clock);
  const env = environment(run);
  const unit = run.unit(src.name, src.text);
  const tmpl = new nj.Template(src.text, env, src.name, false);
  instrument(run, tmpl, unit);
  try {
    tmpl.compile();
  } catch (e) {
    throw run.error(e, src.name);
  }
  if (vars === undefined) return '';
  // Rendered without a callback: nunjucks then runs the whole render inside this call
  // (qdo's loader is synchronous) and throws the first error, so the meter, active only
  // for the call, sees all of it.
  let out: string;
  try {
    out = withMeter(run.meter, () => tmpl.render(vars)) ?? '';
  } catch (e) {
    throw run.error(e, src.name);
  }
  // Checked before anything reads the characters: nunjucks builds the output by `+=`, so a
  // long one is still a cheap rope here; reading it would copy it whole.
  if (out.length > limits.bytes) throw run.error(run.meter.tooLarge('the output'), src.name);
  return out;
}
