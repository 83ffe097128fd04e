// Golden tests: whole outputs and exit codes of the plumbing commands (spec/plumbing/),
// run in-process against a temp home with a fixed clock. Paths are scrubbed to $HOME.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, appendFileSync, existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, tempDir, removeDir, scrub, FIXED_NOW, type RunResult } from '../helpers/cli.js';
import { assertGolden } from '../helpers/golden.js';
import { createAllocation, type Layout } from '../../src/store/layout.js';
import { writeManifest } from '../../src/store/manifests.js';
import { writeObject, objectPath } from '../../src/store/objects.js';
import { refsPaths } from '../../src/store/refs.js';
import { MANIFEST_SCHEMA, encodeManifest, type Manifest } from '../../src/model/manifest.js';

let home = '';
let layout: Layout;
test.before.each(async () => {
  home = tempDir();
  layout = (await createAllocation(home)).layout;
});
test.after.each(() => removeDir(home));

/** Compares a run against test/cli/golden/<name>.txt (exit code, stdout, stderr). */
function golden(name: string, r: RunResult): void {
  assertGolden(name + '.txt', `exit ${r.code}\n--- stdout\n${scrub(r.stdout, home)}--- stderr\n${scrub(r.stderr, home)}`);
}

async function job(project: string, name: string, n: number, parent: string | null, created: string): Promise<string> {
  const script = await writeObject(layout, Buffer.from(`#!/bin/bash\necho ${name} ${n}\n`));
  const m: Manifest = {
    schema: MANIFEST_SCHEMA, project, name, version: n, parent, script, resources: { cpus: 2, time: 600 }, scheduler: 'local',
    params: {}, env: {}, prologue: null, epilogue: null, created,
  };
  return writeManifest(layout, m);
}

async function setup(): Promise<{ t1: string; t2: string; e1: string }> {
  for (const p of ['paper', 'paper/run', 'other']) assert.is((await qdo(['project', 'add', p], { home })).code, 0);
  const t1 = await job('paper/run', 'train', 1, null, '2026-11-21T09:30:00.000Z');
  const t2 = await job('paper/run', 'train', 2, t1, '2026-11-21T10:30:00.000Z');
  const e1 = await job('paper', 'eval', 1, null, '2026-11-21T09:45:00.000Z');
  assert.is((await qdo(['update-ref', 'paper/run/train', t1, '0'.repeat(64)], { home })).code, 0);
  assert.is((await qdo(['update-ref', 'paper/run/train', t2, t1], { home })).code, 0);
  assert.is((await qdo(['update-ref', 'paper/eval', e1], { home })).code, 0);
  return { t1, t2, e1 };
}

test('hash-object', async () => {
  golden('hash-object-stdin', await qdo(['hash-object', '--stdin'], { home, stdin: 'hello\n' }));
  writeFileSync(join(home, 'f.txt'), 'hello\n');
  const w = await qdo(['hash-object', '-w', 'f.txt'], { home });
  golden('hash-object-write', w);
  assert.ok(existsSync(objectPath(layout, w.stdout.trim())));
  golden('hash-object-missing', await qdo(['hash-object', 'nope.txt'], { home }));
  golden('hash-object-usage', await qdo(['hash-object'], { home }));
});

test('cat-object', async () => {
  const { t1 } = await setup();
  golden('cat-object-raw', await qdo(['cat-object', t1], { home }));
  golden('cat-object-pretty', await qdo(['cat-object', '-p', t1.slice(0, 8)], { home }));
  golden('cat-object-unknown', await qdo(['cat-object', 'ffffffff'], { home }));
  golden('cat-object-bad-prefix', await qdo(['cat-object', 'xyz'], { home }));
});

test('rev-parse', async () => {
  await setup();
  golden('rev-parse', await qdo(['rev-parse', 'paper/run/train', 'paper/run/train@1', 'paper/run/train~1', 'paper/eval'], { home }));
  golden('rev-parse-bare-in-project', await qdo(['rev-parse', 'train', 'train@2'], { home, cwd: join(home, 'paper/run') }));
  golden('rev-parse-unknown-job', await qdo(['rev-parse', 'paper/run/trian'], { home }));
  golden('rev-parse-unknown-project', await qdo(['rev-parse', 'papr/run/train'], { home }));
  golden('rev-parse-no-version', await qdo(['rev-parse', 'paper/run/train@3'], { home }));
  golden('rev-parse-too-far-back', await qdo(['rev-parse', 'paper/run/train~2'], { home }));
  golden('rev-parse-bare-outside', await qdo(['rev-parse', 'train'], { home }));
  golden('rev-parse-bad', await qdo(['rev-parse', 'paper/run/train@x'], { home }));
});

test('rev-parse by id prefix, and ambiguity', async () => {
  const { t1 } = await setup();
  const r = await qdo(['rev-parse', t1.slice(0, 10)], { home });
  assert.is(r.stdout, t1 + '\n');
  // Two manifests whose ids share a 4-digit prefix (found by varying a parameter).
  const seen = new Map<string, Manifest>();
  let pair: [Manifest, Manifest] | null = null;
  const script = await writeObject(layout, Buffer.from('#!/bin/sh\n'));
  for (let i = 0; !pair; i++) {
    const m: Manifest = { schema: MANIFEST_SCHEMA, project: 'other', name: 'x', version: 1, parent: null, script, resources: {}, scheduler: 'local', params: { i: String(i) }, env: {}, prologue: null, epilogue: null, created: '2026-11-21T09:30:00.000Z' };
    const p = encodeManifest(m).id.slice(0, 4);
    const other = seen.get(p);
    if (other) pair = [other, m];
    else seen.set(p, m);
  }
  const ids = [await writeManifest(layout, pair[0]), await writeManifest(layout, pair[1])];
  const a = await qdo(['rev-parse', ids[0]!.slice(0, 4)], { home });
  assert.is(a.code, 2);
  assert.match(a.stderr, /id prefix "[0-9a-f]{4}" is ambiguous: 2 manifests/);
  assert.ok(a.stderr.includes(ids[0]!) && a.stderr.includes(ids[1]!), 'both candidates listed');
  assert.is((await qdo(['rev-parse', ids[1]!.slice(0, 12)], { home })).stdout, ids[1] + '\n');
});

test('update-ref: conflict, wrong manifest, delete', async () => {
  const { t1, t2, e1 } = await setup();
  golden('update-ref-conflict', await qdo(['update-ref', 'paper/run/train', t1, t1], { home }));
  golden('update-ref-wrong-manifest', await qdo(['update-ref', 'paper/run/train', e1], { home }));
  golden('update-ref-not-a-manifest', await qdo(['update-ref', 'paper/run/train', await writeObject(layout, Buffer.from('x'))], { home }));
  golden('update-ref-short-id', await qdo(['update-ref', 'paper/run/train', t1.slice(0, 10)], { home }));
  golden('update-ref-delete', await qdo(['update-ref', '-d', 'paper/run/train', t2], { home }));
  golden('show-ref-after-delete', await qdo(['show-ref'], { home }));
});

test('show-ref and patterns', async () => {
  await setup();
  golden('show-ref-all', await qdo(['show-ref'], { home }));
  golden('show-ref-prefix', await qdo(['show-ref', 'paper/run'], { home }));
  golden('show-ref-glob', await qdo(['show-ref', '*/eval'], { home }));
  golden('show-ref-globstar', await qdo(['show-ref', 'paper/**'], { home }));
  golden('show-ref-none', await qdo(['show-ref', 'zzz'], { home }));
});

test('fsck: clean, then damage of every kind, then repair', async () => {
  const { t1, t2 } = await setup();
  golden('fsck-clean', await qdo(['fsck'], { home }));
  // A conflicted journal after a git merge.
  const { journal } = refsPaths(layout, 'paper+run'.replace('+', '/'));
  appendFileSync(journal, '<<<<<<< HEAD\n');
  // A damaged object and a stray file.
  const junk = await writeObject(layout, Buffer.from('junk\n'));
  chmodSync(objectPath(layout, junk), 0o644);
  writeFileSync(objectPath(layout, junk), 'changed\n');
  // A stale lock and an old temp file (the test clock is far in the future for these).
  mkdirSync(join(layout.refs, 'paper.refs.lock'));
  writeFileSync(join(layout.refs, '.paper.refs.tmp-0badf00d'), 'partial');
  const hourAgo = new Date(FIXED_NOW.getTime() - 3600_000);
  utimesSync(join(layout.refs, 'paper.refs.lock'), hourAgo, hourAgo);
  utimesSync(join(layout.refs, '.paper.refs.tmp-0badf00d'), hourAgo, hourAgo);
  const later = FIXED_NOW;
  golden('fsck-damaged', await qdo(['fsck'], { home, now: later }));
  golden('fsck-repair', await qdo(['fsck', '--repair'], { home, now: later }));
  golden('fsck-after-repair', await qdo(['fsck'], { home, now: later }));
  assert.ok(readFileSync(refsPaths(layout, 'paper/run').packed, 'utf8').includes(`train ${t2}`));
  assert.not.ok(readFileSync(refsPaths(layout, 'paper/run').packed, 'utf8').includes(t1));
});

test('fsck: refs behind after an rsync, missing refs file', async () => {
  const { t1, t2 } = await setup();
  const { packed, journal } = refsPaths(layout, 'paper/run');
  writeFileSync(packed, `train ${t1}\n`);
  removeDir(journal);
  golden('fsck-ref-behind', await qdo(['fsck'], { home }));
  removeDir(packed);
  golden('fsck-missing-ref', await qdo(['fsck', '--repair'], { home }));
  assert.is((await qdo(['rev-parse', 'paper/run/train'], { home })).stdout, t2 + '\n');
});

test.run();
