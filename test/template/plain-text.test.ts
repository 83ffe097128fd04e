// Text without any nunjucks tag is rendered without loading nunjucks (engine.ts
// isPlainText): the result must be exactly what nunjucks gives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isPlainText, runTemplate } from '../../src/template/engine.js';
import { loadNunjucks } from '../../src/template/nunjucks.js';

const TEXTS = [
  'true',
  '#!/bin/bash\necho "$HOME" ${x} $((1 + 2)) } }} %}\n',
  'a\r\nb\n\n\n',
  '  leading and trailing spaces  \n   ',
  '{ x } { % } {\n{\n#',
  'unicode: é 日本 🙂\t\ttabs',
  '',
];

test('plain text is recognised, and nothing with a tag is', () => {
  for (const t of TEXTS) assert.ok(isPlainText(t), JSON.stringify(t));
  for (const t of ['{{ x }}', 'a {% if x %}b{% endif %}', '{# c #}', '${#arr[@]}', '{{-x-}}', 'a #} b']) assert.not.ok(isPlainText(t), t);
});

test('plain text renders as nunjucks renders it', async () => {
  const nj = await loadNunjucks();
  const env = new nj.Environment([], { autoescape: false, throwOnUndefined: true });
  for (const t of TEXTS) {
    const expected = new nj.Template(t, env, 'x', false).render({}) ?? '';
    assert.is(await runTemplate({ text: t, name: 'x' }, { a: 1 }), expected, JSON.stringify(t));
  }
});

test.run();
