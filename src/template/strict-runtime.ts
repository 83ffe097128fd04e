// Strict name lookup for compiled templates (spec/templates.md §Strictness). nunjucks'
// throwOnUndefined only catches an undefined value at the moment it is printed, and says
// "attempted to output null or undefined value" without naming it; `{% if typo %}` or
// `{% for x in typo %}` pass silently. qdo hands each compiled template a runtime whose
// lookups fail at once, naming the variable and where it is used.
import { closest } from '../util/closest.js';
import { outputSnippet, type TemplateAst } from './ast.js';
import type { Failure } from './failure.js';
import type { NjContext, NjFrame, NjRuntime } from './nunjucks.js';

/** One template taking part in a render: the top-level one or an included file. */
export interface TemplateUnit {
  /** Display name used in messages. */
  name: string;
  source: string;
  ast(): TemplateAst;
}

/** Records the first failure of a render and returns the error to throw. */
export type Fail = (f: Failure) => Error;

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function declaredInFrames(frame: NjFrame | null, name: string): boolean {
  for (let f = frame; f; f = f.parent) if (name in f.variables) return true;
  return false;
}

function frameNames(frame: NjFrame | null): string[] {
  const out: string[] = [];
  for (let f = frame; f; f = f.parent) out.push(...Object.keys(f.variables));
  return out;
}

function suggest(names: string[]): string | undefined {
  return names.length ? `did you mean ${names.map((x) => `"${x}"`).join(', ')}?` : undefined;
}

export function strictRuntime(base: NjRuntime, unit: TemplateUnit, fail: Fail): NjRuntime {
  // Which variable path an object was reached by, so a missing member can be named
  // "resources.cpuz" rather than just "cpuz".
  const paths = new WeakMap<object, string>();
  let optional: Set<string> | undefined;
  const isOptional = (p: string): boolean => (optional ??= unit.ast().optionalPaths()).has(p);
  const remember = (v: unknown, p: string): unknown => {
    if ((typeof v === 'object' && v !== null) || typeof v === 'function') paths.set(v, p);
    return v;
  };

  const rt: NjRuntime = Object.create(base) as NjRuntime;

  rt.contextOrFrameLookup = (context: NjContext, frame: NjFrame, name: string): unknown => {
    const known = declaredInFrames(frame, name) || hasOwn(context.ctx, name) || hasOwn(context.env.globals, name);
    if (!known) {
      if (isOptional(name)) return undefined;
      const names = [...Object.keys(context.ctx), ...frameNames(frame)];
      throw fail({
        code: 'template-undefined',
        template: unit.name,
        at: unit.ast().findVariable(name),
        what: `undefined variable "${name}"`,
        hint: suggest(closest(name, names)),
      });
    }
    return remember(base.contextOrFrameLookup(context, frame, name), name);
  };

  rt.memberLookup = (obj: unknown, key: unknown): unknown => {
    const k = String(key);
    if (obj === undefined || obj === null) {
      // Only reachable through a name the template made optional, or a null value.
      if ([...(optional ??= unit.ast().optionalPaths())].some((p) => p.endsWith(`.${k}`))) return undefined;
      throw fail({
        code: 'template-undefined',
        template: unit.name,
        at: unit.ast().findMember(k, undefined),
        what: `cannot read member "${k}" of ${obj === null ? 'null' : 'undefined'}`,
      });
    }
    const objPath = typeof obj === 'object' || typeof obj === 'function' ? paths.get(obj as object) : undefined;
    const full = objPath === undefined ? undefined : `${objPath}.${k}`;
    if (!(k in Object(obj))) {
      if (full !== undefined ? isOptional(full) : [...(optional ??= unit.ast().optionalPaths())].some((p) => p.endsWith(`.${k}`))) {
        return undefined;
      }
      const near = typeof obj === 'object' ? closest(k, Object.keys(obj as object)) : [];
      throw fail({
        code: 'template-undefined',
        template: unit.name,
        at: unit.ast().findMember(k, objPath),
        what: full !== undefined ? `undefined variable "${full}"` : `undefined member "${k}"`,
        hint: suggest(objPath !== undefined ? near.map((n) => `${objPath}.${n}`) : near),
      });
    }
    const v = base.memberLookup(obj, key);
    return full === undefined ? v : remember(v, full);
  };

  rt.ensureDefined = (val: unknown, lineno: number, colno: number): unknown => {
    if (val !== undefined && val !== null) return val;
    const at = { line: lineno + 1, column: colno + 1 };
    const snippet = outputSnippet(unit.source, at);
    const is = val === null ? 'null' : 'undefined';
    throw fail({
      code: 'template-undefined',
      template: unit.name,
      at,
      what: snippet ? `${snippet} is ${is}` : `a value to output is ${is}`,
      hint: val === undefined ? 'give an optional value a default: {{ name | default("") }}' : undefined,
    });
  };

  return rt;
}
