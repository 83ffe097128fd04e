// A sweep point derived from its group's first (prepareSibling) must be byte for byte what
// prepareSubmit makes for it (spec/sweeps.md §Each point is a job): manifest, id, script,
// render spec and objects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, testContext, type RunOptions } from '../helpers/cli.js';
import { prepareSubmit, type SubmitRequest } from '../../src/core/submit.js';
import { prepareSibling } from '../../src/core/sweep-prepare.js';
import { readManifest } from '../../src/store/manifests.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-sweep-prep-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
  mkdirSync(join(home, 'p/resources'), { recursive: true });
  writeFileSync(join(home, 'p/resources/t.sh'), '#!/bin/bash\n# {{ job.name }} v{{ job.version }} on {{ scheduler }}\necho i={{ i }} time={{ resources.time }}\n');
  writeFileSync(join(home, 'pro.sh'), 'echo prologue\n');
});
test.after.each(() => removeDir(home));

const req = (name: string, i: string, extra: Partial<SubmitRequest> = {}): SubmitRequest => ({
  job: `p/${name}`,
  params: { i, k: 'same' },
  flags: { time: '1h', cpus: '2' },
  env: { A: '1' },
  after: [],
  prologue: join(home, 'pro.sh'),
  notify: 'true',
  retryOn: 'node-fail:2',
  fields: { sweep: { id: 'e'.repeat(64), index: Number(i) } },
  ...extra,
});

async function same(kind: { script?: string; command?: string[] }, parentOf: string | null) {
  const ctx = testContext(opts);
  const first = await prepareSubmit(ctx, { ...req('a1', '1'), ...kind });
  const direct = await prepareSubmit(ctx, { ...req('a2', '2'), ...kind });
  const l = layoutOf(home);
  const parent = parentOf ? { id: parentOf, manifest: await readManifest(l, parentOf) } : null;
  const derived = await prepareSibling(ctx, first, { name: 'a2', params: { i: '2', k: 'same' }, parent, fields: { sweep: { id: 'e'.repeat(64), index: 2 } } });
  assert.equal(derived.manifest, direct.manifest);
  assert.is(derived.id, direct.id);
  assert.is(derived.script, direct.script);
  assert.equal(derived.spec, direct.spec);
  assert.equal([...derived.objects!.keys()].sort(), [...direct.objects!.keys()].sort());
  assert.is(derived.parent?.version ?? null, direct.parent?.version ?? null);
}

test('a resource template: same manifest, id, script, spec and objects as prepareSubmit', async () => {
  await same({ script: 't.sh' }, null);
});

test('a command, and a name that already has a version (parent and version follow it)', async () => {
  const r = await qdo(['submit', 'p/a2', '--json', '--', 'true'], opts);
  assert.is(r.code, 0, r.stderr);
  const parent = (await readRefs(layoutOf(home), 'p')).get('a2')!;
  await same({ command: ['echo', 'i={{ i }}', '{{ job.version }}'] }, parent);
  await same({ script: 't.sh' }, parent);
});

test.run();
