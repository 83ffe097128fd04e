// uvu with a time limit on every test and hook, so that a hang fails that test fast instead
// of stopping the whole run (ROUND rules: "each test has a timeout"). test/run.ts installs a
// module hook (uvu-hook.ts) that hands this module to every `import … from 'uvu'` under
// dist/test, so test files keep importing uvu as usual.
//
// Default limit: QDO_TEST_TIMEOUT_MS, else 120 s. A test that needs longer (a job on the real
// Slurm that runs into its time limit) says so: `test('…', timeLimit(300_000, async () => …))`.
// Work a timed-out test started goes on in the background; its suite's after hooks still run.
import * as uvu from 'uvu';

export const DEFAULT_TEST_TIMEOUT_MS = Number(process.env.QDO_TEST_TIMEOUT_MS) > 0 ? Number(process.env.QDO_TEST_TIMEOUT_MS) : 120_000;
const LIMIT = Symbol.for('qdo.test.timeLimit');

type Fn = (...args: never[]) => unknown;

/** Marks a test or hook as needing `ms` instead of the default limit. */
export function timeLimit<F extends Fn>(ms: number, fn: F): F {
  (fn as unknown as Record<symbol, number>)[LIMIT] = ms;
  return fn;
}

function limited(what: string, fn: unknown): unknown {
  if (typeof fn !== 'function') return fn;
  const ms = (fn as unknown as Record<symbol, number>)[LIMIT] ?? DEFAULT_TEST_TIMEOUT_MS;
  return async (...args: unknown[]) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const started = Date.now();
    try {
      return await Promise.race([
        (fn as (...a: unknown[]) => unknown)(...args),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            (globalThis as Record<string, unknown>).QDO_TESTS_TIMED_OUT = ((globalThis as Record<string, unknown>).QDO_TESTS_TIMED_OUT as number | undefined ?? 0) + 1;
            reject(new Error(`${what} did not finish within ${ms / 1000} s (per-test limit; timeLimit() in test/helpers/uvu-timed.ts raises it)`));
          }, ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      const slow = Number(process.env.QDO_TEST_SLOW_MS);
      if (slow > 0 && Date.now() - started > slow) process.stderr.write(`\n[slow] ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  };
}

type AnyTest = uvu.Test;

function timed(name: string, t: AnyTest): AnyTest {
  const raw = t as unknown as Record<string, unknown> & ((n: string, h: unknown) => void);
  const label = (n: string) => (name ? `${name} > ${n}` : n);
  const f = ((n: string, h: unknown) => raw(n, limited(`test "${label(n)}"`, h))) as unknown as Record<string, unknown>;
  f.only = (n: string, h: unknown) => (raw.only as (n: string, h: unknown) => void)(n, limited(`test "${label(n)}"`, h));
  f.skip = raw.skip;
  f.run = raw.run;
  for (const k of ['before', 'after'] as const) {
    const hook = raw[k] as ((h: unknown) => void) & { each: (h: unknown) => void };
    const w = ((h: unknown) => hook(limited(`${k} hook of ${name || 'the default suite'}`, h))) as unknown as Record<string, unknown>;
    w.each = (h: unknown) => hook.each(limited(`${k}.each hook of ${name || 'the default suite'}`, h));
    f[k] = w;
  }
  return f as unknown as AnyTest;
}

export function suite<T = uvu.Context>(name = '', state?: T): uvu.Test<T> {
  return timed(name, uvu.suite(name, state as never) as AnyTest) as unknown as uvu.Test<T>;
}

export const test: uvu.Test = timed('', uvu.test);
export const exec = uvu.exec;
