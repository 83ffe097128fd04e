// Assertions uvu lacks.
import * as assert from 'uvu/assert';

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
