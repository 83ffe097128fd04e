// Small-file reads (src/util/fs.ts): readSmallFileSync gives readFileSync's bytes and errors;
// removeTreeSync removes as rmSync recursive + force does, and counts the bytes it removed;
// TreeRemover does the same for many trees in worker threads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, removeDir, tempDir } from '../helpers/cli.js';
import { readSmallFileSync, removeTreeSync, TreeRemover } from '../../src/util/fs.js';

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

/** The trees in lists of 300, each to the next of 4 workers, all at once: the answers in order. */
async function removeInWorkers(paths: string[]): Promise<(number | Error)[]> {
  const r = new TreeRemover(4);
  try {
    const lists = Array.from({ length: Math.ceil(paths.length / 300) }, (_, k) => paths.slice(k * 300, (k + 1) * 300));
    return (await Promise.all(lists.map((l) => r.remove(l)))).flat();
  } finally {
    await r.close();
  }
}

test('TreeRemover: many trees in workers give what removeTreeSync gives, tree by tree; links not followed; a tree that cannot go is its error, the others go', async () => {
  const dir = tempDir('qdo-fs-');
  try {
    const keep = join(dir, 'outside');
    mkdirSync(keep);
    writeFileSync(join(keep, 'precious'), 'x'.repeat(1000));
    // Two sets of the same 1,200 trees (enough for several workers): one removed by each way.
    const make = (root: string) =>
      Array.from({ length: 1200 }, (_, i) => {
        const t = join(root, `j${i}`, `${i % 3}-run`);
        mkdirSync(join(t, 'a'), { recursive: true });
        writeFileSync(join(t, 'qdo-end.json'), 'e'.repeat(i % 17));
        writeFileSync(join(t, 'a', 'stdout'), 'o'.repeat(i % 101));
        if (i % 50 === 0) symlinkSync(keep, join(t, 'a', 'link'));
        if (i % 7 === 0) return join(t, 'a', 'stdout'); // a file, not a folder
        return t;
      });
    const one = make(join(dir, 'one'));
    const two = make(join(dir, 'two'));
    one[5] = join(dir, 'one', 'missing'); // gone: 0
    two[5] = join(dir, 'two', 'missing');
    const sync = one.map((p) => removeTreeSync(p));
    const par = await removeInWorkers(two);
    assert.equal(par, sync);
    assert.ok(sync.filter((b) => b > 0).length > 1000);
    for (const p of two) assert.not.ok(existsSync(p), p);
    assert.ok(existsSync(join(keep, 'precious')), 'no link was followed');
    // A tree that cannot be removed (not as root, who may remove anything): its error,
    // once the others went.
    if (process.getuid?.() !== 0) {
      const three = make(join(dir, 'three'));
      const stuck = join(dir, 'three', 'j1', '1-run', 'a');
      chmodSync(stuck, 0o500);
      const answers = await removeInWorkers(three);
      chmodSync(stuck, 0o700);
      assert.is((answers[1] as NodeJS.ErrnoException).code, 'EACCES');
      assert.is(answers.filter((a) => typeof a !== 'number').length, 1);
      assert.not.ok(existsSync(three[1199]!), 'the others are removed');
    }
  } finally {
    removeDir(dir);
  }
});

test('TreeRemover: a worker that stops fails the list it held (no hang) and leaves the pool; the next list gets a new one', async () => {
  const dir = tempDir('qdo-fs-');
  const r = new TreeRemover(1, 0);
  try {
    const make = (name: string, n: number) =>
      Array.from({ length: n }, (_, i) => {
        const t = join(dir, name, `t${i}`);
        mkdirSync(t, { recursive: true });
        writeFileSync(join(t, 'f'), 'x');
        return t;
      });
    assert.equal(await r.remove(make('a', 3)), [1, 1, 1]);
    // The one worker is stopped while it holds a list (as if it died).
    const held = r.remove(make('b', 2000));
    await (r as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0]!.terminate();
    let err: unknown = null;
    await held.catch((e: unknown) => (err = e));
    // Either it finished before the stop, or its list failed; it never hangs.
    if (err !== null) assert.match(String(err), /a removal worker stopped/);
    assert.equal(await r.remove(make('c', 4)), [1, 1, 1, 1], 'a new worker takes the next list');
  } finally {
    await r.close();
    removeDir(dir);
  }
});

// A worker's isolate reserves ~1 GiB of address space: under a `ulimit -v` that leaves less,
// making one killed the whole process ("Fatal process OOM ... CodeRange"; qdo gc on a login
// node with such a limit). TreeRemover then removes in its own thread.
test('TreeRemover: under a ulimit -v with no room for a worker, the trees are removed in this thread (no fatal OOM)', () => {
  const dir = tempDir('qdo-fs-');
  try {
    const trees = Array.from({ length: 40 }, (_, i) => {
      const t = join(dir, `t${i}`);
      mkdirSync(join(t, 'a'), { recursive: true });
      writeFileSync(join(t, 'a', 'f'), 'x'.repeat(i));
      return t;
    });
    const mod = pathToFileURL(join(REPO, 'dist/src/util/fs.js')).href;
    const code = `import(${JSON.stringify(mod)}).then(async (m) => { const r = new m.TreeRemover(4, 16); const out = await r.remove(${JSON.stringify(trees)}); await r.close(); console.log(JSON.stringify(out)); })`;
    // 1.2 GB: room for node (~0.75 GB), none for a worker besides (~0.86 GB).
    const r = spawnSync('bash', ['-c', 'ulimit -v 1200000 && exec "$0" -e "$1"', process.execPath, code], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr.slice(0, 500));
    assert.equal(JSON.parse(r.stdout), trees.map((_, i) => i));
    for (const t of trees) assert.not.ok(existsSync(t));
  } finally {
    removeDir(dir);
  }
});

test.run();
