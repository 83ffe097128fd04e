// Assertions uvu lacks.
import * as assert from 'uvu/assert';
import { SchedulerError, UsageError } from '../../src/errors.js';

/** Asserts that `fn` rejects, and that the error matches `check` (regex on message, or predicate). */
export async function rejects(fn: () => Promise<unknown>, check: RegExp | ((e: unknown) => boolean), msg?: string): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    const ok = check instanceof RegExp ? check.test((e as Error)?.message ?? String(e)) : check(e);
    assert.ok(ok, `${msg ?? 'rejection'} did not match: ${(e as Error)?.message ?? String(e)}`);
    return e;
  }
  assert.unreachable(`${msg ?? 'promise'} should have rejected`);
}

/** Asserts that `f` throws a UsageError whose message names `field`. */
export function throwsUsage(f: () => unknown, field: string): UsageError {
  try {
    f();
  } catch (e) {
    assert.instance(e, UsageError);
    assert.ok((e as UsageError).message.includes(field), (e as UsageError).message);
    return e as UsageError;
  }
  assert.unreachable(`expected a UsageError naming ${field}`);
  throw new Error('unreachable');
}

/** Asserts that `p` rejects with a SchedulerError of this code. */
export async function rejectsScheduler(p: Promise<unknown>, code: string): Promise<SchedulerError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, SchedulerError);
    assert.is((e as SchedulerError).code, code, (e as Error).message);
    return e as SchedulerError;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}
