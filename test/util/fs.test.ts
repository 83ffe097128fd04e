// Small-file reads (src/util/fs.ts): readSmallFileSync gives readFileSync's bytes and errors;
// removeTreeSync removes as rmSync recursive + force does, and counts the bytes it removed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/cli.js';
import { readSmallFileSync, removeTreeSync } from '../../src/util/fs.js';

test('readSmallFileSync: empty, small, exactly one buffer, and larger files read whole; errors as readFileSync', () => {
  const dir = tempDir('qdo-fs-');
  try {
    for (const size of [0, 17, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 300_001]) {
      const bytes = Buffer.alloc(size, 0);
      for (let i = 0; i < size; i++) bytes[i] = (i * 7 + size) & 0xff;
      const p = join(dir, `f${size}`);
      writeFileSync(p, bytes);
      assert.ok(readSmallFileSync(p).equals(bytes), `size ${size}`);
    }
    // Two reads do not share bytes (the reused buffer is copied out).
    writeFileSync(join(dir, 'a'), 'aaa');
    writeFileSync(join(dir, 'b'), 'bb');
    const a = readSmallFileSync(join(dir, 'a'));
    readSmallFileSync(join(dir, 'b'));
    assert.is(a.toString(), 'aaa');
    const code = (p: string) => {
      try {
        readSmallFileSync(p);
        return 'none';
      } catch (e) {
        return (e as NodeJS.ErrnoException).code;
      }
    };
    assert.is(code(join(dir, 'missing')), 'ENOENT');
    mkdirSync(join(dir, 'd'));
    assert.is(code(join(dir, 'd')), 'EISDIR');
  } finally {
    removeDir(dir);
  }
});

test.run();

test('removeTreeSync: a nested tree goes whole, its file bytes counted; a link is removed, not followed; what is gone is 0', () => {
  const dir = tempDir('qdo-fs-');
  try {
    const keep = join(dir, 'outside');
    mkdirSync(keep);
    writeFileSync(join(keep, 'precious'), 'x'.repeat(1000));
    const t = join(dir, 'run');
    mkdirSync(join(t, 'a', 'b'), { recursive: true });
    mkdirSync(join(t, 'empty'));
    writeFileSync(join(t, 'qdo-end.json'), '{"exit_code":0}\n');
    writeFileSync(join(t, 'a', 'stdout'), 'y'.repeat(300));
    writeFileSync(join(t, 'a', 'b', 'deep'), 'z'.repeat(7));
    symlinkSync(keep, join(t, 'a', 'link-to-outside'));
    assert.is(removeTreeSync(t), 16 + 300 + 7 + Buffer.byteLength(keep));
    assert.not.ok(existsSync(t));
    assert.ok(existsSync(join(keep, 'precious')), 'the link was not followed');
    assert.is(removeTreeSync(t), 0);
    writeFileSync(join(dir, 'f'), 'abc');
    assert.is(removeTreeSync(join(dir, 'f')), 3);
  } finally {
    removeDir(dir);
  }
});
