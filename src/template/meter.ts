// Bounds on one render (spec/templates.md §Limits): time, output size, value size, macro
// depth. nunjucks compiles a template to JavaScript that runs in this process, so the
// bounds are counted where that code must pass: every loop iteration and every `set` goes
// through Frame.set, every printed value through suppressValue, every call through
// callWrap, every filter and method through the sandbox's wrappers (sandbox.ts).
//
// Why in-process and not a worker thread with resourceLimits: a worker costs 66-115 ms to
// start and load nunjucks again (bench/README.md, Templates), paid by every submit; the
// meter costs 1.1-1.5x plain nunjucks per render (tens of µs), and a template without tags
// never reaches nunjucks at all. The price: no hard memory cap, so every way a value can
// grow is bounded where it passes (frames, prints, filters, methods, range).
import { DEFAULT_LIMITS } from '../model/config.js';
import type { Failure } from './failure.js';
import type { Nunjucks } from './nunjucks.js';

export interface TemplateLimits {
  /** Output of one render, and any one value built while rendering, in bytes (characters, then bytes at the end). */
  bytes: number;
  /** Wall time of one render, checked every few steps when a clock is given. */
  seconds: number;
  /** Macro calls nested inside each other. */
  depth: number;
}

export const DEFAULT_TEMPLATE_LIMITS: Readonly<TemplateLimits> = {
  bytes: DEFAULT_LIMITS.template_bytes,
  seconds: DEFAULT_LIMITS.template_seconds,
  depth: DEFAULT_LIMITS.template_depth,
};

/** `range()` gives at most this many numbers (fixed: spec/config.md §Limits). */
export const MAX_RANGE = 1_000_000;

/** The clock is read once every this many steps (a step is a few µs at most). */
const CLOCK_EVERY = 64;

export type LimitFail = (f: Pick<Failure, 'what' | 'hint'> & { code?: Failure['code'] }) => Error;

/**
 * One render's budget. `weigh` is what a value would cost printed: characters of its
 * strings plus one per element, memoised per object (templates cannot change an object
 * after making it), so `{% set a = [a, a] %}` in a loop is caught as it doubles instead of
 * when it is finally printed as 2^40 characters.
 */
export class Meter {
  steps = 0;
  printed = 0;
  depth = 0;
  private readonly weights = new WeakMap<object, number>();
  private readonly deadline: number | undefined;

  constructor(
    readonly limits: TemplateLimits,
    private readonly clock: (() => number) | undefined,
    readonly fail: LimitFail,
  ) {
    this.deadline = clock ? clock() + limits.seconds * 1000 : undefined;
  }

  tick(): void {
    if (++this.steps % CLOCK_EVERY === 0) this.checkTime();
  }

  checkTime(): void {
    if (this.deadline !== undefined && this.clock!() > this.deadline) {
      throw this.fail({ what: `rendering took longer than ${this.limits.seconds} s`, hint: 'a loop or macro recursion that never ends? The bound is limits.template_seconds in .qdo/config.json' });
    }
  }

  /** Throws if `v` would print to more than the byte limit; returns its weight. */
  check(v: unknown, what = 'a value'): number {
    const w = this.weigh(v);
    if (w > this.limits.bytes) throw this.tooLarge(what);
    return w;
  }

  /** Counts a printed value against the output limit. */
  print(v: unknown): void {
    this.printed += this.check(v, 'the output');
    if (this.printed > this.limits.bytes) throw this.tooLarge('the output');
  }

  tooLarge(what: string): Error {
    return this.fail({
      what: `${what} would be larger than ${this.limits.bytes} bytes`,
      hint: 'the bound is limits.template_bytes in .qdo/config.json (spec/config.md §Limits)',
    });
  }

  enter(): void {
    if (++this.depth > this.limits.depth) {
      throw this.fail({ what: `macro calls nested deeper than ${this.limits.depth}`, hint: 'a macro that calls itself without end? The bound is limits.template_depth in .qdo/config.json' });
    }
  }

  leave(): void {
    this.depth--;
  }

  weigh(v: unknown): number {
    if (typeof v === 'string') return v.length;
    if (typeof v !== 'object' || v === null) return 1;
    if (v instanceof String) return v.length;
    const known = this.weights.get(v);
    if (known !== undefined) return known;
    let w = 1;
    // Iterative over this object's own children; a child object is weighed (and memoised)
    // on its own, so a chain built one `set` at a time never recurses deeply.
    const children = Array.isArray(v) ? v : Object.entries(v as Record<string, unknown>).flat();
    for (const c of children) {
      w += this.weigh(c);
      if (w > this.limits.bytes) break; // enough to refuse; stop early on a huge shared tree
    }
    this.weights.set(v, w);
    return w;
  }
}

// The meter of the render now running. Renders are synchronous once started (qdo's loader
// is synchronous: engine.ts checks that the callback came before render() returned), so
// one slot is enough; it is set only for the duration of that call.
let active: Meter | null = null;

export function withMeter<T>(m: Meter, f: () => T): T {
  const outer = active;
  active = m;
  try {
    return f();
  } finally {
    active = outer;
  }
}

let patched = false;

/**
 * Counts every Frame.set of nunjucks against the active meter: loop iterations, `set`,
 * macro arguments. Patched on the class, not per frame, because nunjucks also makes frames
 * with its own `new Frame()` (an import without context), which a per-render subclass
 * would miss. Outside a render (no active meter) the patch does nothing.
 */
export function meterFrames(nj: Nunjucks): void {
  if (patched) return;
  patched = true;
  const proto = nj.runtime.Frame.prototype;
  const set = proto.set;
  proto.set = function (this: unknown, name: string, val: unknown, resolveUp?: boolean): void {
    if (active) {
      active.tick();
      active.check(val);
    }
    set.call(this, name, val, resolveUp);
  };
}
