// Child process for lock tests (src/store/locks.ts).
// argv: hold <target>            take the lock, print "held", then wait to be killed
//       enter <target> <n> <dir> n times: take the lock, create <dir>/inside exclusively
//                                (two holders at once would collide), wait a moment, remove
//                                it; print "done <n>" at the end
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock } from '../../src/store/locks.js';

const [mode, target, n, dir] = process.argv.slice(2) as [string, string, string?, string?];
if (mode === 'hold') {
  await withLock(target, async () => {
    process.stdout.write('held\n');
    await new Promise(() => setInterval(() => undefined, 60_000)); // stay alive until killed
  });
} else {
  let entered = 0;
  for (let i = 0; i < Number(n); i++) {
    await withLock(target, async () => {
      const marker = join(dir!, 'inside');
      const fh = await open(marker, 'wx'); // EEXIST: another holder is inside too
      await fh.close();
      await new Promise((r) => setTimeout(r, 1 + Math.random() * 3));
      await unlink(marker);
      entered++;
    });
  }
  process.stdout.write(`done ${entered}\n`);
}
