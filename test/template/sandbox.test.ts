// The template sandbox and bounds (spec/templates.md §Sandbox, §Limits, §Includes): no path
// from a template to JavaScript, every blow-up stopped with a clear error naming the
// template (and line where it is known), includes confined after resolving symlinks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../../src/errors.js';
import { renderNameTemplate, renderTemplate, type RenderOptions } from '../../src/template/render.js';
import { REPO, removeDir, tempDir } from '../helpers/cli.js';

const VARS = {
  lr: '0.1',
  params: { lr: '0.1', bs: '32' },
  resources: { cpus: 4 },
  job: { name: 'train', version: 3, project: 'mnist' },
};

const dir = tempDir('qdo-sandbox-');
const RES = join(dir, 'resources');
const PWNED = join(dir, 'pwned');
mkdirSync(join(RES, 'lib'), { recursive: true });
mkdirSync(join(dir, 'outside'));
writeFileSync(join(dir, 'outside', 'secret.sh'), 'secret\n');
writeFileSync(join(RES, 'lib', 'ok.sh'), 'ok {{ lr }}\n');
writeFileSync(join(RES, 'macros.sh'), '{% macro flag(n) %}--{{ n }}{% endmacro %}');
symlinkSync('/etc/passwd', join(RES, 'passwd'));
symlinkSync(join(dir, 'outside'), join(RES, 'out'));
symlinkSync('lib/ok.sh', join(RES, 'inner-link.sh'));
execFileSync('mkfifo', [join(RES, 'fifo.sh')]);
const OPTS: RenderOptions = { searchPaths: [RES] };

async function render(text: string, opts: RenderOptions = OPTS): Promise<string> {
  return renderTemplate({ text, name: 'resources/train.sh' }, VARS, opts);
}

async function refused(text: string, code: string, re: RegExp, opts: RenderOptions = OPTS): Promise<UsageError> {
  try {
    await render(text, opts);
  } catch (e) {
    assert.instance(e, UsageError, `${text}: ${String(e)}`);
    const u = e as UsageError;
    assert.is(u.code, code, `${text}: ${u.message}`);
    assert.is(u.exitCode, 2);
    assert.match(u.message, re, text);
    return u;
  }
  assert.unreachable(`rendered: ${text}`);
  throw new Error('unreachable');
}

const write = `require("fs").writeFileSync(${JSON.stringify(PWNED)}, "x")`;

test('the escape from the report is refused, naming file:line:column, and runs nothing', async () => {
  const e = await refused(`echo\n{{ range.constructor("return process")() }}`, 'template-forbidden', /^resources\/train\.sh:2:10: "constructor" cannot be read in a template$/);
  assert.match(e.hint ?? '', /spec\/templates\.md §Sandbox/);
  await refused(`{{ range.constructor("${write.replace(/"/g, '\\"')}")() }}`, 'template-forbidden', /constructor/);
  assert.not.ok(existsSync(PWNED));
});

// Two code injections into the JavaScript nunjucks 3.2.4 compiles a template to (harden.ts).
const INJECTIONS = [
  // a call's display name embeds a string literal with only `"` escaped
  '{{ "\\\\\\",[(globalThis.QDO_PWNED=1)]),0,0)),1);//".split() }}',
  // a name is emitted inside "…" as written, and may contain `"`, `&`, backquotes
  '{{ a"&&Function`globalThis\\x2eQDO_PWNED\\x3d1```&&" }}',
  '{% set a"&&Function`globalThis\\x2eQDO_PWNED\\x3d1```&&" = 1 %}',
  '{{ x | a"&&Function`globalThis\\x2eQDO_PWNED\\x3d1```&&" }}',
];

test('the payloads are real: plain nunjucks runs them (in a process of its own: qdo patches nunjucks when it loads it)', () => {
  const script = `
    const nj = require('nunjucks');
    const env = new nj.Environment([], { throwOnUndefined: true, autoescape: false });
    const out = [];
    for (const t of JSON.parse(process.argv[1])) {
      delete globalThis.QDO_PWNED;
      try { env.renderString(t, { x: 1 }); } catch {}
      out.push(globalThis.QDO_PWNED ?? null);
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(INJECTIONS.slice(0, 2))], { cwd: REPO, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), [1, 1]);
});

test('code injected into the compiled template never runs: names are identifiers, display names are escaped', async () => {
  // The string literal is only a string here.
  assert.is(await render(INJECTIONS[0]!), '\\",[(globalThis.QDO_PWNED=1)]),0,0)),1);//');
  for (const text of INJECTIONS.slice(1)) await refused(text, 'template-forbidden', /^resources\/train\.sh:1:\d+: "a"&&Function`globalThis.*" is not a name \(names are letters, digits and "_"/);
  assert.is((globalThis as Record<string, unknown>).QDO_PWNED, undefined);
});

const ESCAPES: [string, string, RegExp][] = [
  // constructor / __proto__ / prototype on every kind of value, by dot and by index
  ['{{ cycler.constructor }}', 'template-forbidden', /"constructor" cannot be read/],
  ['{{ joiner.constructor("return 1")() }}', 'template-forbidden', /"constructor"/],
  ['{{ "".constructor.constructor("return process")() }}', 'template-forbidden', /"constructor"/],
  ['{{ lr.constructor }}', 'template-forbidden', /"constructor"/],
  ['{{ params.constructor }}', 'template-forbidden', /"constructor"/],
  ['{{ params["constructor"] }}', 'template-forbidden', /"constructor"/],
  ['{{ params["constr" ~ "uctor"] }}', 'template-forbidden', /"constructor"/],
  ['{{ [].constructor }}', 'template-forbidden', /"constructor"/],
  ['{{ (1).constructor }}', 'template-forbidden', /"constructor"/],
  ['{{ params.__proto__ }}', 'template-forbidden', /"__proto__"/],
  ['{{ params["__proto__"]["constructor"] }}', 'template-forbidden', /"__proto__"/],
  ['{{ range.prototype }}', 'template-forbidden', /"prototype"/],
  ['{{ "".__lookupGetter__ }}', 'template-forbidden', /"__lookupGetter__"/],
  ['{{ params.__defineGetter__ }}', 'template-forbidden', /"__defineGetter__"/],
  ['{{ params.valueOf() }}', 'template-forbidden', /"valueOf"/],
  // Function's own methods, on globals, macros and bound methods
  ['{{ range.call(null, 3) }}', 'template-forbidden', /"call"/],
  ['{{ range.apply }}', 'template-forbidden', /"apply"/],
  ['{{ range.bind }}', 'template-forbidden', /"bind"/],
  ['{{ range.name }}', 'template-forbidden', /a function has no members in a template \(reading "name"\)/],
  ['{{ range.length }}', 'template-forbidden', /a function has no members/],
  ['{% macro m() %}x{% endmacro %}{{ m.constructor }}', 'template-forbidden', /"constructor"/],
  ['{% macro m() %}x{% endmacro %}{{ m.caller }}', 'template-forbidden', /"caller"/],
  ['{{ "a".toUpperCase.constructor }}', 'template-forbidden', /"constructor"/],
  ['{{ "a".toUpperCase.call }}', 'template-forbidden', /"call"/],
  ['{{ cycler(1, 2).next.constructor }}', 'template-forbidden', /"constructor"/],
  ['{% import "macros.sh" as lib %}{{ lib.flag.constructor }}', 'template-forbidden', /"constructor"/],
  // methods off the list: regular expressions hidden in strings, callbacks, mutation
  ['{{ "a".match("a") }}', 'template-undefined', /undefined member "match"/],
  ['{{ "a".search("a") }}', 'template-undefined', /undefined member "search"/],
  ['{{ "a".sub() }}', 'template-undefined', /undefined member "sub"/],
  ['{{ [3, 1].sort() }}', 'template-undefined', /undefined member "sort"/],
  ['{{ [1].map(range) }}', 'template-undefined', /undefined member "map"/],
  ['{{ "a".replace("a", range) }}', 'template-forbidden', /\.replace\(\) cannot take a function/],
  ['{{ "a".replace(r/a/, "b") }}', 'template-forbidden', /^resources\/train\.sh:1:16: regular expressions \(r\/…\/\) are not available in templates$/],
  ['{{ "a" | replace(r/(a+)+$/, "b") }}', 'template-forbidden', /regular expressions/],
  ['{{ 1e5 }}', 'template-forbidden', /"1e5" is not a name/],
  ['{{ params.toString }}', 'template-undefined', /undefined variable "params\.toString"/],
  ['{{ params.hasOwnProperty("lr") }}', 'template-undefined', /params\.hasOwnProperty/],
  // filters and tests are the registered ones only
  ['{{ lr | constructor }}', 'template-error', /unknown filter "constructor"/],
  ['{{ lr | valueOf }}', 'template-error', /unknown filter "valueOf"/],
  ['{{ lr | __proto__ }}', 'template-error', /unknown filter "__proto__"/],
  ['{{ "<a>" | striptags }}', 'template-error', /unknown filter "striptags"/],
  ['{{ [1, 2] | random }}', 'template-error', /unknown filter "random"/],
  ['{% if lr is constructor %}x{% endif %}', 'template-error', /test not found: constructor/],
  // no JavaScript globals
  ['{{ process }}', 'template-undefined', /undefined variable "process"/],
  ['{{ globalThis }}', 'template-undefined', /undefined variable "globalThis"/],
  ['{{ require }}', 'template-undefined', /undefined variable "require"/],
  ['{{ constructor }}', 'template-undefined', /undefined variable "constructor"/],
  ['{{ this }}', 'template-undefined', /undefined variable "this"/],
  ['{{ Function }}', 'template-undefined', /undefined variable "Function"/],
  ['{{ toString }}', 'template-undefined', /undefined variable "toString"/],
  // a function is not printed (its source would be)
  ['{{ range }}', 'template-forbidden', /a function cannot be printed/],
];

for (const [text, code, re] of ESCAPES) {
  test(`refused: ${text}`, async () => {
    await refused(text, code, re);
  });
}

test('what templates are for still works: members, string and array methods, filters, loops, macros, cycler, in', async () => {
  const out = await render(
    [
      '{{ lr.split(".")[1] }} {{ "a-b".replace("-", "_") }} {{ lr | float * 2 }} {{ (3.14159).toFixed(2) }} {{ [1, 2, 3].join("-") }}',
      '{{ params.lr.length }} {{ "x".padStart(3, "0") }} {{ "ab".repeat(2) }} {{ job.name.toUpperCase() }} {{ lr.startsWith("0") }}',
      '{% for k, v in params %}{{ k }}={{ v }};{% endfor %} {% for i in range(3) %}{{ loop.index }}{% endfor %} {{ range(10, 0, -3) | join(",") }}',
      '{% set c = cycler("a", "b") %}{{ c.next() }}{{ c.next() }}{{ c.current }} {% set j = joiner("+") %}{{ j() }}x{{ j() }}y',
      '{{ "lr" in params }} {{ "toString" in params }} {{ "b" in "abc" }} {{ 2 in [1, 2] }}',
      '{% import "macros.sh" as lib %}{{ lib.flag("a") }} {% include "lib/ok.sh" %}{% include "inner-link.sh" %}',
      '{{ "  x  " | trim }}|{{ "ab" | replace("", "-") }}|{{ "a\nb" | indent(2) }}|{{ {"k": 1}.k }}',
    ].join('\n'),
  );
  assert.is(
    out,
    [
      '1 a_b 0.2 3.14 1-2-3',
      '3 00x abab TRAIN true',
      'lr=0.1;bs=32; 123 10,7,4,1',
      'abb x+y',
      'true false true true',
      '--a ok 0.1\nok 0.1\n',
      'x|-a-b-|a\n  b|1',
    ].join('\n'),
  );
});

test('range() longer than 1,000,000 numbers is refused at once (the report: range(0,1e7) took 40 s and 400 MB)', async () => {
  const t0 = performance.now();
  await refused('{% for i in range(0, 10000000) %}{{ i }}{% endfor %}', 'template-limit', /^resources\/train\.sh:1:\d+: range\(\) would give 10000000 numbers; at most 1000000 are allowed$/);
  await refused('{{ range(0, 1, 0.0000000000001) | length }}', 'template-limit', /range\(\) would give/);
  await refused('{{ range(0, 1/0) }}', 'template-limit', /expected finite numbers/);
  assert.ok(performance.now() - t0 < 2000);
  assert.is(await render('{{ range(1000000) | length }}'), '1000000');
});

test('a string doubled in a loop stops at the size bound when it is set, long before it is printed', async () => {
  const t0 = performance.now();
  const e = await refused('{% set s = "x" %}{% for i in range(60) %}{% set s = s ~ s %}{% endfor %}{{ s }}', 'template-limit', /a value would be larger than 8388608 bytes/);
  assert.match(e.hint ?? '', /limits\.template_bytes/);
  await refused('{% set a = [1] %}{% for i in range(60) %}{% set a = [a, a] %}{% endfor %}{{ a | length }}', 'template-limit', /larger than 8388608 bytes/);
  await refused('{% macro f(s, n) %}{% if n > 0 %}{{ f(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ f("x", 60) }}', 'template-limit', /larger than/);
  assert.ok(performance.now() - t0 < 3000, `${performance.now() - t0} ms`);
});

test('filters and methods that multiply a size are checked before they run', async () => {
  const t0 = performance.now();
  await refused('{{ "x" | center(1000000000000) }}', 'template-limit', /the filter "center" was given 1000000000000, more than the size bound of 8388608/);
  await refused('{{ "x".repeat(1000000000) }}', 'template-limit', /\.repeat\(\) was given 1000000000/);
  await refused('{{ "x".padStart(1000000000) }}', 'template-limit', /padStart/);
  await refused('{% set s = "y".repeat(4000000) %}{{ s | replace("", "yyyy") }}', 'template-limit', /the result of the filter "replace" would be larger/);
  await refused('{% set s = "\n".repeat(4000000) %}{{ s | indent(100) }}', 'template-limit', /the result of the filter "indent"/);
  // nunjucks' own trim is quadratic on a long run of spaces; qdo's is not.
  assert.is(await render('{% set s = "a" ~ " ".repeat(4000000) ~ "a" %}{{ (s | trim) | length }}'), '4000002');
  assert.ok(performance.now() - t0 < 5000, `${performance.now() - t0} ms`);
});

test('output past the bound is refused, whether printed values or literal text in a loop', async () => {
  await refused('{% for i in range(1000000) %}{{ "0123456789" }}{% endfor %}', 'template-limit', /the output would be larger than 8388608 bytes/);
  await refused(`{% for i in range(1000000) %}${'z'.repeat(100)}{% endfor %}`, 'template-limit', /the output would be larger than 8388608 bytes/);
});

test('macro recursion stops at the depth bound with a clear error', async () => {
  const e = await refused('{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}', 'template-limit', /^resources\/train\.sh(:\d+)?(:\d+)?: macro calls nested deeper than 100$/);
  assert.match(e.hint ?? '', /limits\.template_depth/);
  assert.is(await render('{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}done{% endif %}{% endmacro %}{{ f(90) }}'), 'done');
});

test('render time is bounded (limits.template_seconds)', async () => {
  const t0 = performance.now();
  const e = await refused('{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}', 'template-limit', /rendering took longer than 1 s/, {
    ...OPTS,
    limits: { seconds: 1 },
    clock: () => performance.now(),
  });
  assert.match(e.hint ?? '', /limits\.template_seconds/);
  const took = performance.now() - t0;
  assert.ok(took < 4000, `stopped after ${took} ms`);
});

test('the limits are configurable: bytes, depth; a template larger than the bound is not compiled', async () => {
  await refused('{% for i in range(20) %}ab{% endfor %}', 'template-limit', /the output would be larger than 39 bytes/, { ...OPTS, limits: { bytes: 39 } });
  await refused('{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}', 'template-limit', /deeper than 3/, { ...OPTS, limits: { depth: 3 } });
  await refused('{{ 1 }}' + 'x'.repeat(100), 'template-limit', /^resources\/train\.sh: the template is larger than 50 bytes$/, { ...OPTS, limits: { bytes: 50 } });
  assert.is(await render('a{{ 1 }}', { ...OPTS, limits: { bytes: 10 } }), 'a1');
  await refused('{{ lr.repeat(99) }}', 'template-limit', /^resources\/train\.sh(:\d+)*: \.repeat\(\) was given 99, more than the size bound of 20$/, { ...OPTS, limits: { bytes: 20 } });
});

test('includes: a symlink out of resources/ is refused after resolving it; one inside is fine; a FIFO does not hang', async () => {
  const e = await refused('{% include "passwd" %}', 'template-forbidden', /^resources\/train\.sh:1:4: template "passwd" leads outside the include folder .*\/resources \(to \/etc\/passwd\)$/);
  assert.match(e.hint ?? '', /symlinks resolved/);
  await refused('{% include "out/secret.sh" %}', 'template-forbidden', /template "out\/secret\.sh" leads outside the include folder/);
  await refused('{% import "passwd" as x %}', 'template-forbidden', /leads outside/);
  await refused('{% extends "passwd" %}', 'template-forbidden', /leads outside/);
  await refused('{% include "../outside/secret.sh" %}', 'template-error', /is outside the include folder/);
  await refused('{% include "/etc/passwd" %}', 'template-error', /is outside the include folder/);
  await refused('{% include "fifo.sh" %}', 'template-error', /template "fifo\.sh" not found/);
  assert.is(await render('{% include "inner-link.sh" %}'), 'ok 0.1\n');
});

test('includes: the roots are a list; a file found through any of them must stay inside one of them', async () => {
  const other = join(dir, 'shared');
  mkdirSync(other, { recursive: true });
  writeFileSync(join(other, 'common.sh'), 'common\n');
  symlinkSync(join(other, 'common.sh'), join(RES, 'to-shared.sh'));
  // Not allowed while only resources/ is a root …
  await refused('{% include "to-shared.sh" %}', 'template-forbidden', /leads outside/);
  // … allowed once the shared folder is one too, and found by name in the later root.
  const two = { searchPaths: [RES, other] };
  assert.is(await render('{% include "to-shared.sh" %}{% include "common.sh" %}', two), 'common\ncommon\n');
});

test('name templates are sandboxed and bounded too', async () => {
  try {
    await renderNameTemplate('x{{ range.constructor("return 1")() }}', { lr: '1' }, 'name template');
    assert.unreachable();
  } catch (e) {
    assert.is((e as UsageError).code, 'template-forbidden');
    assert.match((e as UsageError).message, /^name template:1:\d+: "constructor" cannot be read/);
  }
});

test.after(() => removeDir(dir));
test.run();
