// Reading nunjucks' layered error text (the fallback when qdo recorded no failure of its
// own). The messages are nunjucks 3.2.4's own, captured from real renders.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { failureError, parseNunjucksMessage } from '../../src/template/failure.js';

test('one layer with line and column', () => {
  assert.equal(parseNunjucksMessage('(unknown path) [Line 2, Column 8]\n  unexpected token: }}'), {
    text: 'unexpected token: }}',
    line: 2,
    column: 8,
  });
});

test('no position, "Error: " and parser prefixes dropped', () => {
  assert.equal(parseNunjucksMessage('(unknown path)\n  Error: filter not found: nosuch'), { text: 'filter not found: nosuch' });
  assert.equal(parseNunjucksMessage('(resources/t.sh)\n  parseIf: expected elif, else, or endif, got end of file'), {
    path: 'resources/t.sh',
    text: 'expected elif, else, or endif, got end of file',
  });
});

test('nested layers: the innermost named template and position win', () => {
  const m =
    '(unknown path)\n  Template render error: (unknown path)\n  Template render error: (/tmp/nj/res/inc.sh) [Line 2, Column 6]\n  attempted to output null or undefined value';
  assert.equal(parseNunjucksMessage(m), { path: '/tmp/nj/res/inc.sh', line: 2, column: 6, text: 'attempted to output null or undefined value' });
  assert.equal(parseNunjucksMessage('(unknown path)\n  Template render error: (unknown path)\n  Error: template not found: nope.sh'), {
    text: 'template not found: nope.sh',
  });
});

test('a path with parentheses, a line without column, and text that is not nunjucks framing', () => {
  assert.equal(parseNunjucksMessage('(/x/my (1).sh) [Line 4]\n  boom'), { path: '/x/my (1).sh', line: 4, text: 'boom' });
  assert.equal(parseNunjucksMessage('plain failure'), { text: 'plain failure' });
});

test('failureError formats name:line:col and carries the code', () => {
  const e = failureError({ code: 'template-syntax', template: 'resources/a.sh', at: { line: 3, column: 2 }, what: 'bad', hint: 'h' });
  assert.instance(e, UsageError);
  assert.is(e.message, 'resources/a.sh:3:2: bad');
  assert.is(e.code, 'template-syntax');
  assert.is(e.hint, 'h');
  assert.is(failureError({ code: 'template-error', template: 't', at: { line: 3 }, what: 'x' }).message, 't:3: x');
  assert.is(failureError({ code: 'template-error', template: 't', what: 'x' }).message, 't: x');
});

test.run();
