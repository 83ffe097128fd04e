// The one atomic writer (src/util/atomic-file.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/cli.js';
import { writeFileAtomic } from '../../src/util/atomic-file.js';

test('replace and create; create refuses an existing file; no temp file is left', async () => {
  const dir = tempDir('qdo-atomic-');
  try {
    const f = join(dir, 'a');
    await writeFileAtomic(f, 'one');
    await writeFileAtomic(f, 'two');
    assert.is(readFileSync(f, 'utf8'), 'two');
    const e = await writeFileAtomic(f, 'three', { how: 'create' }).catch((x: NodeJS.ErrnoException) => x.code);
    assert.is(e, 'EEXIST');
    await writeFileAtomic(join(dir, 'b'), 'new', { how: 'create' });
    assert.equal(readdirSync(dir).sort(), ['a', 'b']);
  } finally {
    removeDir(dir);
  }
});

test('mkdirs: a shard folder removed while empty (gc) just before the write is made again', async () => {
  const dir = tempDir('qdo-atomic-');
  const shard = join(dir, 'ab');
  // gc's removeEmptyShards in another process, as often as it can: rmdir succeeds only while the folder is empty.
  const remover = spawn('bash', ['-c', `while :; do rmdir '${shard}' 2>/dev/null; done`], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 300; i++) {
      const f = join(shard, `f${i}`);
      await writeFileAtomic(f, String(i), { mkdirs: true });
      assert.ok(existsSync(f));
      rmSync(f);
    }
  } finally {
    remover.kill('SIGKILL');
    await new Promise((r) => remover.once('exit', r));
    removeDir(dir);
  }
});

test.run();
