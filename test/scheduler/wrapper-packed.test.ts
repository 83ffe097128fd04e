// Packed arrays (spec/scheduler-common.md §Packed arrays): the wrapper is rendered with
// RenderSpec.elements and really run by bash with the array index a scheduler would set;
// each element must leave exactly what a single job leaves, in its own run folder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../src/errors.js';
import { checkScriptSize, packedElements, packedRange } from '../../src/scheduler/packing.js';
import type { ElementSpec, RenderSpec } from '../../src/scheduler/types.js';
import { PBS_JOB_VARS, SLURM_JOB_VARS, renderWrapper, type JobVarMap } from '../../src/scheduler/wrapper.js';

const root = mkdtempSync(join(tmpdir(), 'qdo-packed-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function element(i: number, dir: string, over: Partial<ElementSpec> = {}): ElementSpec {
  return {
    index: i,
    jobName: `fit-lr${i}`,
    runDir: join(dir, 'runs', `fit-lr${i}`, '1-0123abcd'),
    script: 'echo "name=$QDO_JOB_NAME lr=$QDO_PARAM_LR shared=$SHARED task=$QDO_TASK_DIR run=$QDO_RUN_DIR index=[$QDO_ARRAY_INDEX]"\necho oops >&2\nexit "$QDO_PARAM_RC"\n',
    env: { QDO_PARAM_LR: `0.${i}`, QDO_PARAM_RC: '0' },
    tag: `m${i}`,
    ...over,
  };
}

function packedSpec(count: number, over: Partial<RenderSpec> = {}, el: (i: number, dir: string) => Partial<ElementSpec> = () => ({})): RenderSpec {
  const dir = join(root, `t${++n}`);
  return {
    jobName: 'fit',
    resources: {},
    script: 'never used\n',
    runDir: join(dir, 'array'),
    submitDir: root,
    env: { SHARED: 'a b' },
    elements: Array.from({ length: count }, (_, i) => element(i, dir, el(i, dir))),
    ...over,
  };
}

function run(s: RenderSpec, env: Record<string, string>, vars: JobVarMap = SLURM_JOB_VARS): { status: number | null; err: string } {
  const file = join(root, `script-${++n}.sh`);
  writeFileSync(file, `#!/bin/bash\n${renderWrapper(s, vars)}`);
  const r = spawnSync('bash', [file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SLURM_JOB_ID: '4242', ...env }, encoding: 'utf8', timeout: 20000 });
  return { status: r.status, err: r.stderr };
}

const read = (dir: string, f: string): string => readFileSync(join(dir, f), 'utf8');
const json = (dir: string, f: string): Record<string, unknown> => JSON.parse(read(dir, f)) as Record<string, unknown>;

test('array index i runs element i: its name, env, script, records and logs in its own run folder', () => {
  const s = packedSpec(3, {}, (i) => (i === 1 ? { env: { QDO_PARAM_LR: '0.1', QDO_PARAM_RC: '3' } } : {}));
  const e = s.elements!;
  for (const i of [2, 1]) {
    const r = run(s, { SLURM_ARRAY_TASK_ID: String(i) });
    assert.is(r.status, i === 1 ? 3 : 0, `element ${i}'s own exit status`);
  }
  const two = e[2]!.runDir;
  assert.is(read(two, 'stdout'), `name=fit-lr2 lr=0.2 shared=a b task=${two} run=${two} index=[]\n`);
  assert.is(read(two, 'stderr'), 'oops\n');
  assert.is(read(two, 'qdo-script'), e[2]!.script);
  const start = json(two, 'qdo-start.json');
  assert.equal(Object.keys(start), ['host', 'time', 'job_id', 'array_index', 'pid', 'attempt']);
  assert.is(start.job_id, '4242');
  assert.is(start.array_index, null, 'an element is a single job to core');
  assert.is(json(two, 'qdo-end.json').exit_code, 0);
  assert.is(json(e[1]!.runDir, 'qdo-end.json').exit_code, 3);
  assert.ok(!existsSync(e[0]!.runDir), 'element 0 did not run');
  // nothing under the array's own folder or runDir/<index>
  assert.ok(!existsSync(join(s.runDir, '2')));
  assert.equal(readdirSync(two).sort(), ['qdo-end.json', 'qdo-nodefile', 'qdo-script', 'qdo-start.json', 'stderr', 'stdout']);
});

test('an index with no element, or none at all, exits 2 on the scheduler stderr before any record', () => {
  const s = packedSpec(2);
  const r = run(s, { SLURM_ARRAY_TASK_ID: '2' });
  assert.is(r.status, 2);
  assert.match(r.err, 'qdo: this packed array job has no element for array index 2 (it has 0-1)');
  const none = run(s, {});
  assert.is(none.status, 2);
  assert.match(none.err, 'qdo: this is a packed array job but the scheduler gave no array index');
  for (const e of s.elements!) assert.ok(!existsSync(e.runDir), `${e.runDir} untouched`);
});

test('one element runs without an index (PBS Pro submits it as a plain job)', () => {
  const s = packedSpec(1);
  const r = run(s, {}, PBS_JOB_VARS);
  assert.is(r.status, 0);
  assert.match(read(s.elements![0]!.runDir, 'stdout'), /^name=fit-lr0 lr=0\.0 /);
});

test('a script with #! runs by its own interpreter, one without by bash; identical scripts are written once', () => {
  const s = packedSpec(4, {}, (i) => ({ script: i === 3 ? '#!/bin/sh\necho "sh: $QDO_PARAM_LR"\n' : 'echo "bash: $BASH_VERSION" | cut -c1-5\n' }));
  const text = renderWrapper(s, SLURM_JOB_VARS);
  assert.is(text.split(`>"$QDO_TASK_DIR/qdo-script"`).length - 1, 2, 'two distinct scripts, written once each');
  assert.is(run(s, { SLURM_ARRAY_TASK_ID: '3' }).status, 0);
  assert.is(read(s.elements![3]!.runDir, 'stdout'), 'sh: 0.3\n');
  assert.is(run(s, { SLURM_ARRAY_TASK_ID: '0' }).status, 0);
  assert.is(read(s.elements![0]!.runDir, 'stdout'), 'bash:\n');
});

test('a script containing the heredoc delimiter, quotes and $ survives byte for byte', () => {
  const tricky = "echo 'it''s' \"$QDO_PARAM_LR\" `echo x`\ncat <<'QDO_EOF'\ninner\nQDO_EOF\nprintf '%s\\n' done";
  const s = packedSpec(2, {}, () => ({ script: tricky }));
  assert.is(run(s, { SLURM_ARRAY_TASK_ID: '1' }).status, 0);
  const dir = s.elements![1]!.runDir;
  assert.is(read(dir, 'qdo-script'), `${tricky}\n`);
  assert.is(read(dir, 'stdout'), "its 0.1 x\ninner\ndone\n");
});

test('notify, prologue and epilogue are shared and run in each element', () => {
  const s = packedSpec(2, { prologue: 'export FROM_PROLOGUE=yes\n', epilogue: 'echo "epi $QDO_EXIT_CODE $QDO_JOB_NAME"\n', notify: 'echo "notified $QDO_JOB_NAME $QDO_STATE"' }, () => ({
    script: 'echo "pro=$FROM_PROLOGUE"\n',
  }));
  assert.is(run(s, { SLURM_ARRAY_TASK_ID: '1' }).status, 0);
  const dir = s.elements![1]!.runDir;
  assert.is(read(dir, 'stdout'), 'pro=yes\nepi 0 fit-lr1\n');
  assert.match(read(dir, 'stderr'), 'notified fit-lr1 completed');
  assert.is(json(dir, 'qdo-notified').state, 'completed');
});

test('render refuses what the wrapper cannot do', () => {
  const cases: [string, () => RenderSpec, string, RegExp][] = [
    ['resources.array set', () => packedSpec(2, { resources: { array: '0-1' } }), 'bad-packed-array', /resources\.array/],
    ['no elements', () => packedSpec(1, { elements: [] }), 'bad-packed-array', /at least one element/],
    ['a gap in the indices', () => packedSpec(3, {}, (i) => (i === 2 ? { index: 5 } : {})), 'bad-packed-array', /indices must be 0\.\.2.*\[0,1,5\]/],
    ['a duplicate index', () => packedSpec(2, {}, () => ({ index: 0 })), 'bad-packed-array', /indices must be 0\.\.1/],
    ['a relative run folder', () => packedSpec(2, {}, (i) => (i === 1 ? { runDir: 'runs/x' } : {})), 'bad-run-dir', /elements\[1\]\.runDir/],
    ['a variable qdo sets', () => packedSpec(2, {}, (i) => (i === 1 ? { env: { QDO_RUN_DIR: '/x' } } : {})), 'bad-env', /elements\[1\]\.env: QDO_RUN_DIR is set by qdo/],
    ['a bad variable name', () => packedSpec(2, {}, () => ({ env: { '1x': 'a' } })), 'bad-env', /elements\[0\]\.env/],
    ['a tag with a newline', () => packedSpec(2, {}, () => ({ tag: 'a\nb' })), 'bad-tag', /elements\[0\]\.tag/],
  ];
  for (const [what, make, code, msg] of cases) {
    try {
      renderWrapper(make(), SLURM_JOB_VARS);
      assert.unreachable(what);
    } catch (e) {
      assert.instance(e, UsageError, what);
      assert.is((e as UsageError).code, code, what);
      assert.match((e as UsageError).message, msg, what);
    }
  }
});

test('elements may come in any order; packedRange and the size check', () => {
  const s = packedSpec(3);
  s.elements!.reverse();
  assert.equal(
    packedElements(s)!.map((e) => e.index),
    [0, 1, 2],
  );
  assert.is(packedElements({ ...s, elements: undefined }), undefined);
  assert.is(packedRange(12), '0-11');
  checkScriptSize('x'.repeat(10), 10, 'Slurm');
  try {
    checkScriptSize('x'.repeat(11), 10, 'Slurm', 4);
    assert.unreachable();
  } catch (e) {
    assert.is((e as UsageError).code, 'script-too-large');
    assert.equal((e as UsageError).data, { bytes: 11, limit: 10, elements: 4 });
  }
});

test('1,000 elements: a script bash parses quickly, well under Slurm\'s 4 MiB', () => {
  const s = packedSpec(1000, {}, (i) => ({ script: `echo "point ${i}: lr=$QDO_PARAM_LR"\n# train.py --lr "$QDO_PARAM_LR" --seed ${i}\nexit ${i % 7}\n` }));
  const text = `#!/bin/bash\n${renderWrapper(s, SLURM_JOB_VARS)}`;
  const bytes = Buffer.byteLength(text);
  assert.ok(bytes < 600_000, `${bytes} bytes`);
  const file = join(root, 'big.sh');
  writeFileSync(file, text);
  const t0 = Date.now();
  const check = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
  assert.is(check.status, 0, check.stderr);
  assert.ok(Date.now() - t0 < 2000, 'bash -n under 2 s');
  assert.is(run(s, { SLURM_ARRAY_TASK_ID: '999' }).status, 999 % 7, 'element 999 ran its own script');
  assert.is(read(s.elements![999]!.runDir, 'stdout'), 'point 999: lr=0.999\n');
});

test.run();
