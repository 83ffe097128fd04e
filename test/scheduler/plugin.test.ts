// Scheduler plugins named in .qdo/config.json (spec/scheduler-plugins.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, tempDir, removeDir, REPO } from '../helpers/cli.js';

let home = '';
test.before.each(() => {
  home = tempDir();
});
test.after.each(() => removeDir(home));

function config(obj: unknown): void {
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify(obj));
}

test('a plugin from config renders, submits and queries', async () => {
  await qdo(['alloc', 'list'], { home });
  config({ scheduler: 'echo', plugins: { echo: join(REPO, 'test/fixtures/plugins/echo-backend.mjs') } });
  assert.is((await qdo(['sched', 'detect'], { home })).stdout, 'echo - config\n');
  const r = await qdo(['sched', 'render', '--name', 'hi', '--', 'echo', 'hello world'], { home });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, `#!/bin/bash\n# echo job hi\nmkdir -p '${home}/qdo-runs/hi'\ncd '${home}'\n#!/bin/bash\necho 'hello world'\n`);
  const s = await qdo(['sched', 'submit', '--json', '--', 'sh', '-c', 'exit 3'], { home });
  assert.is(s.code, 0, s.stderr);
  const sub = JSON.parse(s.stdout);
  assert.equal([sub.version, sub.id, sub.scheduler], [1, 'echo.100', 'echo']);
  // A fresh process would forget the in-memory state; in-process, the plugin module is cached but the backend is new.
  const q = await qdo(['sched', 'query', 'echo.100'], { home });
  assert.is(q.stdout, 'echo.100 unknown none - -\n');
  // A plugin refusing a resource is bad input, reported as the plugin's, not as a qdo bug.
  const gpu = await qdo(['sched', 'render', '--gpus', '1', '--', 'true'], { home });
  assert.is(gpu.code, 2);
  assert.is(gpu.stderr, 'qdo: scheduler plugin "echo" cannot render this job: echo cannot give GPUs\n');
});

test('relative plugin paths are relative to the allocation; --scheduler overrides config', async () => {
  await qdo(['alloc', 'list'], { home });
  writeFileSync(join(home, 'p.mjs'), `export { createBackend } from ${JSON.stringify(join(REPO, 'test/fixtures/plugins/echo-backend.mjs'))};\n`);
  config({ scheduler: 'local', plugins: { mine: 'p.mjs' } });
  assert.is((await qdo(['sched', 'detect'], { home })).stdout, 'local - config\n');
  const r = await qdo(['sched', 'render', '--scheduler', 'mine', '--name', 'x', '--', 'true'], { home });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^#!\/bin\/bash\n# mine job x\n/);
  assert.is((await qdo(['sched', 'detect', '--for', 'mine'], { home })).stdout, 'mine - flag\n');
  assert.is((await qdo(['sched', 'detect'], { home, env: { QDO_SCHEDULER: 'mine' } })).stdout, 'mine - env\n');
});

test('bad plugins and bad config are reported, naming module or key', async () => {
  await qdo(['alloc', 'list'], { home });
  config({ plugins: { broken: join(REPO, 'test/fixtures/plugins/broken-backend.mjs'), gone: '/nonexistent/x.mjs' } });
  const b = await qdo(['sched', 'render', '--for', 'broken', '--', 'true'], { home });
  assert.is(b.code, 7);
  assert.match(b.stderr, /scheduler plugin "broken" \(.*broken-backend\.mjs\) lacks submit, query, cancel, hold, release/);
  const g = await qdo(['sched', 'render', '--for', 'gone', '--', 'true'], { home });
  assert.is(g.code, 7);
  assert.match(g.stderr, /cannot load scheduler plugin "gone" from \/nonexistent\/x\.mjs/);
  const u = await qdo(['sched', 'render', '--for', 'lsf', '--', 'true'], { home });
  assert.is(u.code, 2);
  assert.match(u.stderr, /unknown scheduler "lsf"\nhint: built-in: slurm, pbs, torque, local; plugins: broken, gone/);
  config({ scheduler: 'slurm', defualts: {} });
  const c = await qdo(['sched', 'detect'], { home });
  assert.is(c.code, 7);
  assert.match(c.stderr, /config\.json: "defualts": expected one of the known keys/);
  config({ defaults: { mem: 4 }, local_cpus: 0 });
  assert.match((await qdo(['sched', 'detect'], { home })).stderr, /"local_cpus": expected an integer >= 1, found 0/);
  writeFileSync(join(home, '.qdo/config.json'), '{"scheduler": ');
  assert.match((await qdo(['sched', 'detect'], { home })).stderr, /config\.json: not valid JSON/);
});

test.run();
