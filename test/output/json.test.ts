// jsonChunks (src/output/json.ts): status --json written in pieces must be the very bytes of
// JSON.stringify(doc, null, 2) + LF (spec/porcelain.md §--json), whatever the document.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { jsonChunks } from '../../src/output/json.js';

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
      const pieces = [...jsonChunks(doc, {}, size)];
      assert.is(pieces.join(''), whole(doc), JSON.stringify(Object.keys(doc)));
      if (size === 1) assert.ok(pieces.length >= ((doc.jobs as unknown[] | undefined)?.length ?? 0), 'written element by element');
    }
  }
});

test('an array member is mapped element by element as it is written', () => {
  const seen: number[] = [];
  const pieces = jsonChunks({ version: 1, jobs: [1, 2, 3], empty: [] }, { jobs: (n: number) => (seen.push(n), { n: n * 10 }), empty: (n: number) => n }, 1);
  assert.equal(pieces.next().value, '{\n  "version": 1,\n  "jobs": [\n    {\n      "n": 10\n    }');
  assert.equal(seen, [1], 'nothing mapped ahead of the writing');
  assert.is([...pieces].join(''), ',\n    {\n      "n": 20\n    },\n    {\n      "n": 30\n    }\n  ],\n  "empty": []\n}\n');
});

test.run();
