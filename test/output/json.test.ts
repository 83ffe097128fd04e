// writeJsonTo (src/output/json.ts): status --json written in pieces must be the very bytes of
// JSON.stringify(doc, null, 2) + LF (spec/porcelain.md §--json), whatever the document.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeJsonTo } from '../../src/output/json.js';

function pieces(doc: Record<string, unknown>, map: Parameters<typeof writeJsonTo>[2] = {}, size?: number): string[] {
  const out: string[] = [];
  writeJsonTo((s) => out.push(s), doc, map, size);
  return out;
}

const whole = (doc: Record<string, unknown>) => JSON.stringify(doc, null, 2) + '\n';

test('the same text as JSON.stringify with two spaces, in pieces, for every shape of member', () => {
  const job = (i: number) => ({ job: `p/j${i}`, n: i, nested: { a: [1, { b: 'x\ny"' }], e: [], o: {} }, none: null, gone: undefined, when: new Date(Date.UTC(2026, 0, i + 1)) });
  const docs: Record<string, unknown>[] = [
    {},
    { version: 1 },
    { version: 1, jobs: [] },
    { version: 1, jobs: [job(0)] },
    { version: 1, jobs: Array.from({ length: 500 }, (_, i) => job(i)), sources: [{ scheduler: 'local', jobs: 500, problem: null }], problems: [{ subject: 's', code: 'c', message: 'm\u2028' }] },
    { version: 1, jobs: [undefined, null, 1, 'two', [3, [4]], () => 5], skipped: undefined, f: () => 1, d: new Date(0), empty: {}, str: 'a\nb' },
    { '2': 'integer-like keys first', a: [1], '1': [{}] },
  ];
  for (const doc of docs) {
    for (const size of [1, 100, 1 << 16]) {
      const got = pieces(doc, {}, size);
      assert.is(got.join(''), whole(doc), JSON.stringify(Object.keys(doc)));
      if (size === 1) assert.ok(got.length >= ((doc.jobs as unknown[] | undefined)?.length ?? 0), 'written element by element');
    }
  }
});

test('an array member is mapped element by element as it is written', () => {
  const seen: number[] = [];
  const written: string[] = [];
  writeJsonTo(
    (s) => written.push(`${seen.length}:${s}`),
    { version: 1, jobs: [1, 2, 3], empty: [] },
    { jobs: (n: number) => (seen.push(n), { n: n * 10 }), empty: (n: number) => n },
    1,
  );
  assert.equal(written[0], '1:{\n  "version": 1,\n  "jobs": [\n    {\n      "n": 10\n    }', 'nothing mapped ahead of the writing');
  assert.is(written.map((w) => w.slice(w.indexOf(':') + 1)).join(''), JSON.stringify({ version: 1, jobs: [{ n: 10 }, { n: 20 }, { n: 30 }], empty: [] }, null, 2) + '\n');
});

test.run();
