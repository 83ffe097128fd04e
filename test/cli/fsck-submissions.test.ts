// qdo fsck on submission records (spec/plumbing/fsck.md): each parses, is filed under its
// own id, and belongs to a stored manifest of the same version; strays and temp files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { qdo, removeDir, scrub, tempDir, type RunOptions } from '../helpers/cli.js';
import { assertGolden } from '../helpers/golden.js';
import { layoutOf } from '../../src/store/layout.js';
import { submissionPath } from '../../src/store/submissions.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-fsck-sub-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
});
test.after.each(() => removeDir(home));

async function submitHeld(job: string): Promise<string> {
  // Held: the record is written and nothing runs, so the test does not depend on timing.
  const r = await qdo(['submit', job, '--hold', '--json', '--', 'true'], opts);
  assert.is(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: string }).id;
}

async function cancelAll(): Promise<void> {
  await qdo(['sched', 'cancel', '1', '2'], opts);
}

test('records of submitted versions pass', async () => {
  try {
    await submitHeld('p/a');
    await submitHeld('p/a');
    const r = await qdo(['fsck'], opts);
    assert.is(r.stdout, '');
    assert.is(r.code, 0);
  } finally {
    await cancelAll();
  }
});

test('bad, misfiled, orphaned and stray records are reported, never repaired', async () => {
  let a = '';
  let b = '';
  try {
    a = await submitHeld('p/a');
    b = await submitHeld('p/b');
  } finally {
    await cancelAll();
  }
  const l = layoutOf(home);
  const recA = readFileSync(submissionPath(l, a), 'utf8');
  // b: a version that does not match its manifest.
  writeFileSync(submissionPath(l, b), readFileSync(submissionPath(l, b), 'utf8').replace('"version":1', '"version":4'));
  // An orphan: a valid record whose manifest is not stored.
  const ghost = 'f'.repeat(64);
  mkdirSync(dirname(submissionPath(l, ghost)), { recursive: true });
  writeFileSync(submissionPath(l, ghost), recA.replace(a, ghost));
  // Misfiled: a's record under another id.
  const other = 'e'.repeat(64);
  mkdirSync(dirname(submissionPath(l, other)), { recursive: true });
  writeFileSync(submissionPath(l, other), recA);
  // Not JSON; not a record name; not a shard; an old temp file.
  const broken = 'd'.repeat(64);
  mkdirSync(dirname(submissionPath(l, broken)), { recursive: true });
  writeFileSync(submissionPath(l, broken), '{"schema":"qdo.submission/v1"}\n');
  writeFileSync(join(dirname(submissionPath(l, a)), 'notes.txt'), 'x');
  mkdirSync(join(l.dir, 'submissions', 'zz'));
  const tmp = join(dirname(submissionPath(l, a)), `.${a.slice(2)}.json.tmp-0badf00d`);
  writeFileSync(tmp, 'half');
  utimesSync(tmp, new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00Z'));

  const r = await qdo(['fsck'], opts);
  assert.is(r.code, 1);
  // Ids depend on the manifest format; the findings should not.
  let out = scrub(scrub(r.stdout, home), a, '$A');
  out = scrub(out, `${b.slice(0, 2)}/${b.slice(2)}`, '$B0/$B1');
  out = scrub(out, `${a.slice(0, 2)}/`, '$A0/');
  out = scrub(out, a.slice(2), '$A1');
  assertGolden('fsck-submissions.txt', out);
  // --repair removes the temp file only.
  const fixed = await qdo(['fsck', '--repair'], opts);
  assert.match(fixed.stdout, /^fixed temp-file /m);
  assert.not.match(fixed.stdout, /^fixed (bad|orphan)-submission/m);
  assert.is((await qdo(['fsck'], opts)).stdout.split('\n').filter(Boolean).length, out.split('\n').filter(Boolean).length - 1);
});

test.run();
