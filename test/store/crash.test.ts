// A writer killed at random moments leaves no partial object and a readable refs file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, removeDir, FIXED_NOW, TEST_SELF, THIS_USER } from '../helpers/cli.js';
import { createAllocation } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { objectId } from '../../src/model/object-id.js';
import { isTempName } from '../../src/store/atomic.js';
import { fsck } from '../../src/core/fsck.js';

const WORKER = fileURLToPath(new URL('../helpers/writer-worker.js', import.meta.url));

/**
 * Starts a writer, lets it complete `updates` ref updates (so the test does not depend on
 * the machine's speed), then kills it `ms` later, wherever it is.
 */
function runAndKill(root: string, updates: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, root, 'p'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let seen = 0;
    let armed = false;
    child.stdout.on('data', (d: Buffer) => {
      seen += (d.toString().match(/^updated /gm) ?? []).length;
      if (!armed && seen >= updates) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), ms);
      }
    });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`worker ended without being killed (${signal})`))));
  });
}

test('kill -9 during writes: objects are whole, refs readable, fsck --repair cleans up', async () => {
  const dir = tempDir();
  try {
    const { layout } = await createAllocation(dir);
    for (const [updates, ms] of [[1, 0], [2, 3], [1, 7], [3, 1], [2, 13], [1, 29], [4, 2], [1, 50]] as const) await runAndKill(dir, updates, ms);
    let objects = 0;
    let temps = 0;
    for (const shard of readdirSync(layout.objects)) {
      for (const name of readdirSync(join(layout.objects, shard))) {
        const p = join(layout.objects, shard, name);
        if (isTempName(name)) {
          temps++;
          continue;
        }
        objects++;
        assert.is(objectId(readFileSync(p)), shard + name, `object ${p} is whole`);
      }
    }
    assert.ok(objects > 0, 'the worker wrote something');
    // A worker killed while taking or letting go of the refs lock leaves its folder under a temp name there.
    for (const name of readdirSync(layout.refs)) if (isTempName(name)) temps++;
    const refs = await readRefs(layout, 'p');
    assert.ok(refs.size > 0, 'refs readable and non-empty');
    for (const id of refs.values()) assert.ok(readdirSync(join(layout.objects, id.slice(0, 2))).includes(id.slice(2)), 'every ref points at a stored object');
    // Temp files are only reported once older than the grace period: look from the future.
    const ctx = { cwd: dir, env: {}, home: dir, now: () => new Date(Date.now() + 3600_000), host: 'testhost', self: TEST_SELF, alive: () => 'alive' as const, user: THIS_USER };
    const r = await fsck(ctx, { repair: true });
    const temp = r.findings.filter((f) => f.code === 'temp-file');
    assert.is(temp.length, temps, 'every leftover temp file is found');
    assert.ok(temp.every((f) => f.fixed));
    const again = await fsck({ ...ctx, now: () => FIXED_NOW }, { repair: false });
    assert.equal(again.findings.filter((f) => f.code === 'temp-file'), []);
  } finally {
    removeDir(dir);
  }
});

test.run();
