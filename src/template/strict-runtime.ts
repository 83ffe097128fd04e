// Strict name lookup for compiled templates (spec/templates.md §Strictness). nunjucks'
// throwOnUndefined only catches an undefined value at the moment it is printed, and says
// "attempted to output null or undefined value" without naming it; `{% if typo %}` or
// `{% for x in typo %}` pass silently. qdo hands each compiled template a runtime whose
// lookups fail at once, naming the variable and where it is used.
//
// The same runtime is where the sandbox (sandbox.ts) and the meter (meter.ts) stand: every
// member lookup, call, print and `in` of compiled template code passes through it.
import { closest } from '../util/closest.js';
import { outputSnippet, type TemplateAst } from './ast.js';
import type { Failure } from './failure.js';
import type { Meter } from './meter.js';
import type { NjContext, NjFrame, NjRuntime } from './nunjucks.js';
import { access, boundMethod, isPlainObject } from './sandbox.js';

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

export function strictRuntime(base: NjRuntime, unit: TemplateUnit, fail: Fail, meter: Meter): NjRuntime {
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
    meter.tick();
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
    const k = typeof key === 'symbol' ? '' : String(key);
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
    meter.tick();
    const objPath = typeof obj === 'object' || typeof obj === 'function' ? paths.get(obj as object) : undefined;
    const full = objPath === undefined ? undefined : `${objPath}.${k}`;
    const a = access(obj, k);
    if (a.kind === 'forbidden') {
      throw fail({ code: 'template-forbidden', template: unit.name, at: unit.ast().findMember(k, objPath), what: a.why, hint: 'templates reach data, not JavaScript (spec/templates.md §Sandbox)' });
    }
    if (a.kind === 'missing') {
      if (full !== undefined ? isOptional(full) : [...(optional ??= unit.ast().optionalPaths())].some((p) => p.endsWith(`.${k}`))) {
        return undefined;
      }
      const near = isPlainObject(obj) ? closest(k, Object.keys(obj)) : [];
      throw fail({
        code: 'template-undefined',
        template: unit.name,
        at: unit.ast().findMember(k, objPath),
        what: full !== undefined ? `undefined variable "${full}"` : `undefined member "${k}"`,
        hint: suggest(objPath !== undefined ? near.map((n) => `${objPath}.${n}`) : near),
      });
    }
    if (a.kind === 'method') {
      const refuse = (what: string, hint?: string): Error => fail({ code: 'template-forbidden', template: unit.name, at: unit.ast().findMember(k, objPath), what, hint });
      return boundMethod(meter, refuse, a.of, a.name);
    }
    const v = typeof a.value === 'function' && typeof obj === 'object' && obj !== null ? bindOwn(a.value as (...x: unknown[]) => unknown, obj) : a.value;
    return full === undefined ? v : remember(v, full);
  };

  // A call: a global (range, cycler, joiner), a macro, caller(), a bound method. Nested
  // calls are counted so a macro calling itself stops with a clear error (meter.ts).
  rt.callWrap = (fn: unknown, name: string, context: unknown, args: unknown[]): unknown => {
    meter.tick();
    meter.enter();
    try {
      return base.callWrap(fn, name, context, args);
    } finally {
      meter.leave();
    }
  };

  rt.suppressValue = (val: unknown, autoescape: boolean): unknown => {
    if (typeof val === 'function') {
      throw fail({ code: 'template-forbidden', template: unit.name, what: 'a function cannot be printed (call it, or print a value)' });
    }
    meter.print(val);
    return base.suppressValue(val, autoescape);
  };

  // `"k" in obj` asks about the object's own keys ("toString" in params is false).
  rt.inOperator = (key: unknown, val: unknown): boolean => {
    meter.tick();
    if (isPlainObject(val)) return Object.prototype.hasOwnProperty.call(val, String(key));
    return base.inOperator(key, val);
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

/** A function that is an own property of a plain object (cycler's next(), an imported macro), called on it. */
function bindOwn(fn: (...x: unknown[]) => unknown, obj: object): (...x: unknown[]) => unknown {
  return (...args: unknown[]) => fn.apply(obj, args);
}
