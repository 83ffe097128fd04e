// One render or syntax check of a template (spec/templates.md). Builds a fresh nunjucks
// environment per call (the search paths differ per project; nothing is cached), hands
// every compiled template the strict runtime, and turns whatever fails into one
// UsageError that names the template, line and column.
import type { UsageError } from '../errors.js';
import { TemplateAst, unclosedComment, type Position } from './ast.js';
import { cleanText, failureError, parseNunjucksMessage, type Failure } from './failure.js';
import { FILTERS } from './filters.js';
import { ContainedLoader } from './loader.js';
import { loadNunjucks, type Callback, type NjEnvironment, type NjTemplate, type Nunjucks, type RenderFunc } from './nunjucks.js';
import { strictRuntime, type TemplateUnit } from './strict-runtime.js';

export interface TemplateSource {
  text: string;
  /** shown in errors: a resource name or file path */
  name: string;
}

export interface RenderOptions {
  /** folders searched by {% include %}/{% import %}/{% extends %} (the project's resources dir); none → includes are errors */
  searchPaths?: string[];
}

class Run {
  failure: Failure | undefined;
  cause: unknown;
  readonly units: TemplateUnit[] = [];

  constructor(
    readonly nj: Nunjucks,
    readonly loader: ContainedLoader,
  ) {}

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

  /** The error for the whole run: the recorded failure, else whatever nunjucks said. */
  error(err: unknown, fallbackName: string): UsageError {
    if (this.failure) return failureError(this.failure, this.cause ?? err);
    const msg = parseNunjucksMessage(err instanceof Error ? err.message : String(err));
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
  const what =
    where === undefined
      ? `template "${name}" cannot be included: no include folder is available here`
      : at.kind === 'outside'
        ? `template "${name}" is outside the include folder ${where}`
        : `template "${name}" not found in ${where}`;
  return { code: 'template-error', template: parent?.name ?? parentName, at: parent?.ast().findTemplateRef(name), what };
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
        fn(env, context, frame, (rt ??= strictRuntime(base, unit, run.fail)), (err, res) => {
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
      }
      cb(err, t);
    };
    return getTemplate(...args);
  };
  return env;
}

/** Compiles (and, when `vars` is given, renders) one template. */
/**
 * Text with no nunjucks tag renders as itself (`-- true`, most commands). A lone "#}" is
 * an error to nunjucks ("unexpected end of comment"), so such text goes to it.
 */
export function isPlainText(text: string): boolean {
  return !text.includes('{{') && !text.includes('{%') && !text.includes('{#') && !text.includes('#}');
}

export async function runTemplate(src: TemplateSource, vars: Record<string, unknown> | undefined, opts: RenderOptions = {}): Promise<string> {
  // nunjucks (a fifth of node's start-up to load) is not needed to copy text.
  if (isPlainText(src.text)) return vars === undefined ? '' : src.text;
  const nj = await loadNunjucks();
  const run = new Run(nj, new ContainedLoader(opts.searchPaths ?? []));
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
  return new Promise<string>((resolve, reject) => {
    // nunjucks may call back twice after an error inside an include (a known quirk of its
    // compiled callbacks); the first answer is the one.
    let settled = false;
    const done: Callback = (err, res) => {
      if (settled) return;
      settled = true;
      if (err) reject(run.error(err, src.name));
      else resolve(res ?? '');
    };
    try {
      tmpl.render(vars, done);
    } catch (e) {
      done(e);
    }
  });
}
