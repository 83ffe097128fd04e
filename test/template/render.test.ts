// The template layer against real nunjucks (spec/templates.md): byte-exact output, strict
// names, every error kind with its code and position, includes confined to the resources
// folder, bash syntax, and job-name templates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { UsageError } from '../../src/errors.js';
import { checkTemplate, renderNameTemplate, renderTemplate, type RenderOptions } from '../../src/template/render.js';
import { REPO, removeDir, tempDir } from '../helpers/cli.js';

const VARS = {
  lr: '0.1',
  bs: '32',
  params: { lr: '0.1', bs: '32' },
  resources: { cpus: 4, mem: 1024, time: 3600, partition: 'gpu' },
  job: { name: 'train', version: 3, project: 'mnist' },
  project: { name: 'mnist', dir: '/alloc/mnist' },
  allocation: { root: '/alloc' },
};

const dir = tempDir('qdo-template-');
const RES = join(dir, 'resources');
mkdirSync(join(RES, 'lib'), { recursive: true });
mkdirSync(join(dir, 'resources-old'));
writeFileSync(join(RES, 'env.sh'), 'module load cuda\nexport OMP_NUM_THREADS={{ resources.cpus }}\n');
writeFileSync(join(RES, 'broken.sh'), 'echo ok\necho {{ missing }}\n');
writeFileSync(join(RES, 'bad-syntax.sh'), 'a {% if %}\n');
writeFileSync(join(RES, 'lib', 'next.sh'), '{% include "./env.sh" %}');
writeFileSync(join(RES, 'macros.sh'), '{% macro flag(n, v) %}--{{ n }}={{ v | shquote }}{% endmacro %}');
writeFileSync(join(RES, 'base.sh'), '#!/bin/bash\n{% block body %}default{% endblock %}\n');
writeFileSync(join(dir, 'resources-old', 'secret.sh'), 'secret\n');
const OPTS: RenderOptions = { searchPaths: [RES] };

async function render(text: string, vars: Record<string, unknown> = VARS, opts: RenderOptions = OPTS): Promise<string> {
  return renderTemplate({ text, name: 'resources/train.sh' }, vars, opts);
}

/** The UsageError a render (or check) fails with; asserts its code. */
async function failure(code: string, p: Promise<unknown>): Promise<UsageError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, UsageError, String(e));
    assert.is((e as UsageError).code, code, (e as UsageError).message);
    assert.is((e as UsageError).exitCode, 2);
    return e as UsageError;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}

test('text without tags renders to exactly its bytes', async () => {
  for (const text of ['no newline at end', 'trailing\n\n\n', 'crlf\r\nlines\r\n', '  indented\n\ttab\n', '', 'ünïcode ✓\n']) {
    assert.is(await render(text), text);
  }
});

test('tags keep the surrounding whitespace (no trimBlocks/lstripBlocks)', async () => {
  assert.is(await render('  {% if true %}\n  y\n  {% endif %}\n'), '  \n  y\n  \n');
  assert.is(await render('a {{- "b" }}\n'), 'ab\n', 'whitespace control is still the template\'s choice');
});

test('bash syntax passes through untouched', async () => {
  const text = 'echo ${HOME} ${x:-default} $((1+2)) $(date) "${arr[@]}" ${x%%.*} $#\n';
  assert.is(await render(text), text);
});

test('variables, members and top-level params', async () => {
  assert.is(await render('{{ lr }} {{ params.lr }} {{ params["bs"] }} {{ resources.cpus }} {{ resources.mem }}'), '0.1 0.1 32 4 1024');
  assert.is(await render('{{ job.name }}@{{ job.version }} {{ project.dir }} {{ allocation.root }}'), 'train@3 /alloc/mnist /alloc');
  assert.is(await render('#SBATCH --time={{ resources.time // 60 }}\n'), '#SBATCH --time=60\n');
});

test('loops and conditionals', async () => {
  const t = '{% for k, v in params %}--{{ k }}={{ v }} {% endfor %}\n{% if resources.partition == "gpu" %}nvidia-smi{% else %}true{% endif %}';
  assert.is(await render(t), '--lr=0.1 --bs=32 \nnvidia-smi');
  assert.is(await render('{% for x in [1, 2] %}{{ loop.index }}:{{ x }} {% endfor %}{% set n = 3 %}{{ n }}'), '1:1 2:2 3');
});

test('an undefined variable is an error naming it, with line:col and a hint', async () => {
  const e = await failure('template-undefined', render('#!/bin/bash\nset -e\n  echo {{ lrr }}\n'));
  assert.is(e.message, 'resources/train.sh:3:11: undefined variable "lrr"');
  assert.is(e.hint, 'did you mean "lr"?');
  assert.equal(e.data, { template: 'resources/train.sh', line: 3, column: 11 });
});

test('an undefined member names the whole path and the nearest members', async () => {
  const e = await failure('template-undefined', render('x\n  {{ resources.cpuz }}'));
  assert.is(e.message, 'resources/train.sh:2:16: undefined variable "resources.cpuz"');
  assert.is(e.hint, 'did you mean "resources.cpus"?');
});

test('undefined names fail in conditions and loops too, not only when printed', async () => {
  const e1 = await failure('template-undefined', render('{% if debug %}set -x{% endif %}'));
  assert.is(e1.message, 'resources/train.sh:1:7: undefined variable "debug"');
  const e2 = await failure('template-undefined', render('{% for x in params.seeds %}{{ x }}{% endfor %}'));
  assert.match(e2.message, /undefined variable "params\.seeds"/);
  await failure('template-undefined', render('{{ constructor }}'));
});

test('is defined / default make a name optional', async () => {
  const t = '{% if seed is defined %}--seed={{ seed }}{% endif %}|{{ params.seed | default(7) }}|{% if params.seed is defined %}S{% endif %}';
  assert.is(await render(t), '|7|');
  assert.is(await render(t, { ...VARS, seed: '5', params: { seed: '5' } }), '--seed=5|5|S');
  assert.is(await render('{% if "seed" in params %}S{% else %}none{% endif %}'), 'none', '"in" needs no optional rule');
  const e = await failure('template-undefined', render('{% if seed is defined %}x{% endif %}\n{{ seed }}'));
  assert.is(e.message, 'resources/train.sh:2:1: {{ seed }} is undefined', 'an optional name still cannot be printed bare');
});

test('a null value cannot be printed', async () => {
  const e = await failure('template-undefined', render('a\n{{ n }}', { n: null }));
  assert.is(e.message, 'resources/train.sh:2:1: {{ n }} is null');
});

test('a syntax error is template-syntax with its line', async () => {
  const e1 = await failure('template-syntax', render('a\n{{ x + }}'));
  assert.is(e1.message, 'resources/train.sh:2:8: unexpected token: }}');
  const e2 = await failure('template-syntax', render('a\nb\n{% if x %}\nno end'));
  assert.is(e2.message, 'resources/train.sh:4: expected elif, else, or endif, got end of file');
  assert.match(e2.hint ?? '', /end tag/);
});

test('checkTemplate checks syntax without rendering', async () => {
  await checkTemplate({ text: '{{ not_given_anywhere }}', name: 'x' });
  const e = await failure('template-syntax', checkTemplate({ text: 'ok\n{% for %}', name: 'resources/a.sh' }));
  assert.match(e.message, /^resources\/a\.sh:2:\d+: /);
});

test('"${#" in bash opens a template comment: with no "#}" after, a syntax error at the "{#"', async () => {
  const e = await failure('template-syntax', render('n=1\necho ${#arr[@]}\necho done\n'));
  assert.is(e.message, 'resources/train.sh:2:7: expected end of comment, got end of file');
  assert.match(e.hint ?? '', /\{% raw %\}/);
});

test('"${#" with a "#}" later is an error too (nunjucks alone would drop the text between)', async () => {
  const e = await failure('template-syntax', render('echo ${#arr[@]}\necho "#}"\n'));
  assert.is(e.message, 'resources/train.sh:1:7: "${#" starts a template comment here, not bash\'s ${#…}');
  await failure('template-syntax', checkTemplate({ text: 'echo ${#a}; x=1 #}', name: 't' }));
});

test('"${#" inside {% raw %} works; a plain {# comment #} is still a comment', async () => {
  assert.is(await render('echo {% raw %}${#arr[@]}{% endraw %}\n'), 'echo ${#arr[@]}\n');
  assert.is(await render('a{# note #}b'), 'ab');
});

test('an unknown filter is template-error naming it', async () => {
  const e = await failure('template-error', render('\n{{ lr | nosuch }}'));
  assert.is(e.message, 'resources/train.sh:2:9: unknown filter "nosuch"');
});

test('include, import and extends from the search path', async () => {
  assert.is(await render('{% include "env.sh" %}python train.py'), 'module load cuda\nexport OMP_NUM_THREADS=4\npython train.py');
  assert.is(await render('{% import "macros.sh" as m %}{{ m.flag("lr", "1 e") }}'), "--lr='1 e'");
  assert.is(await render('{% extends "base.sh" %}{% block body %}run {{ lr }}{% endblock %}'), '#!/bin/bash\nrun 0.1\n');
});

test('files are read afresh on every render (no cache)', async () => {
  writeFileSync(join(RES, 'changing.sh'), 'one');
  assert.is(await render('{% include "changing.sh" %}'), 'one');
  writeFileSync(join(RES, 'changing.sh'), 'two');
  assert.is(await render('{% include "changing.sh" %}'), 'two');
});

test('a missing include is template-error naming it and where it was asked for', async () => {
  const e = await failure('template-error', render('x\n {% include "nope.sh" %}'));
  assert.is(e.message, `resources/train.sh:2:5: template "nope.sh" not found in ${RES}`);
});

test('includes cannot leave the search path, by absolute path or by ".." to a sibling', async () => {
  const e1 = await failure('template-error', render('{% include "/etc/passwd" %}'));
  assert.match(e1.message, /template "\/etc\/passwd" is outside the include folder/);
  const e2 = await failure('template-error', render('{% include "../resources-old/secret.sh" %}'));
  assert.match(e2.message, /is outside the include folder/);
});

test('"./x" in an included file is relative to that file', async () => {
  const e = await failure('template-error', render('{% include "lib/next.sh" %}'));
  assert.is(e.message, `${join(RES, 'lib', 'next.sh')}:1:4: template "./env.sh" not found in ${RES}`);
  writeFileSync(join(RES, 'lib', 'env.sh'), 'lib env');
  assert.is(await render('{% include "lib/next.sh" %}'), 'lib env');
});

test('without search paths every include is an error', async () => {
  const e = await failure('template-error', render('{% include "env.sh" %}', VARS, {}));
  assert.match(e.message, /template "env\.sh" cannot be included: no include folder/);
});

test('errors inside an included file name that file', async () => {
  const e1 = await failure('template-undefined', render('\n\n{% include "broken.sh" %}'));
  assert.is(e1.message, `${join(RES, 'broken.sh')}:2:9: undefined variable "missing"`);
  const e2 = await failure('template-syntax', render('{% include "bad-syntax.sh" %}'));
  assert.is(e2.message, `${join(RES, 'bad-syntax.sh')}:1:9: unexpected token: %}`);
});

test('an error after an include names the including template', async () => {
  const e1 = await failure('template-undefined', render('{% include "env.sh" %}\n{{ nosuch }}'));
  assert.is(e1.message, 'resources/train.sh:2:4: undefined variable "nosuch"');
  const e2 = await failure('template-error', render('{% include "env.sh" %}\n{{ 1 | nosuch }}'));
  assert.is(e2.message, 'resources/train.sh:2:8: unknown filter "nosuch"');
});

test('shquote quotes for bash only when needed', async () => {
  assert.is(await render('{{ lr | shquote }} {{ "a b\'c" | shquote }} {{ "" | shquote }}'), "0.1 'a b'\\''c' ''");
});

test('name templates render strictly to valid job names', async () => {
  assert.is(await renderNameTemplate('train-lr{{lr}}-bs{{bs}}', { lr: '0.1', bs: '32' }, '--name'), 'train-lr0.1-bs32');
  const e1 = await failure('bad-name', renderNameTemplate('run/{{lr}}', { lr: '0.1' }, '--name'));
  assert.is(e1.message, '--name: template "run/{{lr}}" gives "run/0.1", not a valid job name: it may not contain "/"');
  assert.equal(e1.data, { template: 'run/{{lr}}', result: 'run/0.1' });
  const e2 = await failure('bad-name', renderNameTemplate('lr {{lr}}', { lr: '0.1' }, '--name'));
  assert.match(e2.message, /gives "lr 0\.1", not a valid job name: the character " "/);
  await failure('bad-name', renderNameTemplate('{{ e }}', { e: '' }, '--name'));
  const e3 = await failure('template-undefined', renderNameTemplate('x-{{ lx }}', { lr: '0.1' }, '--name'));
  assert.is(e3.message, '--name:1:6: undefined variable "lx"');
});

test('only src/template/nunjucks.ts loads nunjucks, and only lazily', () => {
  const files = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? files(join(d, n)) : n.endsWith('.ts') ? [join(d, n)] : []));
  const importers = files(join(REPO, 'src')).filter((f) => /(?:from\s+|import\s*\(\s*)['"]nunjucks['"]/.test(readFileSync(f, 'utf8')));
  assert.equal(importers.map((f) => relative(REPO, f)), ['src/template/nunjucks.ts']);
  assert.not.match(readFileSync(join(REPO, 'src/template/nunjucks.ts'), 'utf8'), /^import [^t][^\n]*['"]nunjucks['"]/m);
});

test('importing the template layer does not load nunjucks, nor rendering plain text; a tag does', () => {
  const mod = join(REPO, 'dist/src/template/render.js');
  const script = `
    import { createRequire } from 'node:module';
    const { renderTemplate } = await import(${JSON.stringify(mod)});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/nunjucks/'));
    const before = loaded();
    await renderTemplate({ text: 'x $y } %}', name: 't' }, {});
    const plain = loaded();
    await renderTemplate({ text: '{{ "x" }}', name: 't' }, {});
    console.log(JSON.stringify([before, plain, loaded()]));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), [false, false, true]);
});

test.after(() => removeDir(dir));
test.run();
