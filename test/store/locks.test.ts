// Locks (spec/locking.md): a dead holder's lock is taken over at once, race-free; damaged
// lock folders are typed errors; a living holder is waited for.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostname } from 'node:os';
import { removeDir, tempDir } from '../helpers/cli.js';
import { HOLDER_FILE, lockPathFor, parseHolder, withLock } from '../../src/store/locks.js';
import { QdoError } from '../../src/errors.js';
import { identityOf } from '../../src/util/proc.js';

const WORKER = fileURLToPath(new URL('../helpers/lock-worker.js', import.meta.url));

let dir = '';
test.before.each(() => {
  dir = tempDir('qdo-locks-');
});
test.after.each(() => removeDir(dir));

function worker(args: string[]): { child: ChildProcess; line: (re: RegExp) => Promise<string>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const line = async (re: RegExp) => {
    for (;;) {
      const m = re.exec(out);
      if (m) return m[0];
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`worker ended: ${err}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        child.once('exit', () => r());
      });
    }
  };
  return { child, line, exit };
}

/** A lock folder as a holder that is gone would have left it (a pid that exited). */
async function deadHolderLock(target: string): Promise<void> {
  const c = spawn('true');
  await new Promise((r) => c.on('exit', r));
  const id = identityOf(hostname(), c.pid!);
  mkdirSync(lockPathFor(target));
  writeFileSync(join(lockPathFor(target), HOLDER_FILE), JSON.stringify({ ...id, nonce: 'deadbeef' }) + '\n');
}

test('the lock folder names its holder: host, pid, start', async () => {
  const t = join(dir, 'x');
  await withLock(t, async () => {
    const h = parseHolder(readFileSync(join(lockPathFor(t), HOLDER_FILE), 'utf8'))!;
    assert.is(h.pid, process.pid);
    assert.is(h.host, hostname());
    assert.equal(h.start, identityOf(hostname(), process.pid).start);
  });
  assert.not.ok(existsSync(lockPathFor(t)), 'released: the folder and its holder file are gone');
});

test('a holder killed with SIGKILL: the next taker gets the lock at once (not after the 10-s staleness)', async () => {
  const t = join(dir, 'x');
  const w = worker(['hold', t]);
  await w.line(/held/);
  w.child.kill('SIGKILL');
  await w.exit;
  assert.ok(existsSync(lockPathFor(t)), 'SIGKILL left the lock behind');
  // Within 1 s or fail "busy".
  assert.is(await withLock(t, async () => 'mine', { waitMs: 1000 }), 'mine');
});

test('a lock folder is never seen without its holder, and a holder SIGKILLed at any moment is taken over within 1 s', async () => {
  const t = join(dir, 'x');
  const lock = lockPathFor(t);
  // Seen without a holder: the folder is there, its holder file is not, and the very same
  // folder (inode) is still there after the look (not one going away or being replaced).
  const holderless = (): boolean => {
    let a;
    try {
      a = statSync(lock);
    } catch {
      return false;
    }
    if (existsSync(join(lock, HOLDER_FILE))) return false;
    try {
      return statSync(lock).ino === a.ino && !existsSync(join(lock, HOLDER_FILE));
    } catch {
      return false;
    }
  };
  let seen = 0;
  for (let round = 0; round < 12; round++) {
    const w = worker(['enter', t, '100000', dir]);
    const until = Date.now() + 40 + Math.random() * 120;
    while (Date.now() < until) {
      if (holderless()) seen++;
      await new Promise((r) => setImmediate(r));
    }
    w.child.kill('SIGKILL');
    await w.exit;
    rmSync(join(dir, 'inside'), { force: true });
    if (holderless()) seen++;
    // Whatever the kill left, the next taker has the lock within 1 s.
    assert.is(await withLock(t, async () => 'mine', { waitMs: 1000 }), 'mine', `round ${round}`);
  }
  assert.is(seen, 0, 'lock folders seen without their holder file');
});

test('a living holder is waited for, and the busy error names it', async () => {
  const t = join(dir, 'x');
  const w = worker(['hold', t]);
  try {
    await w.line(/held/);
    const e = await withLock(t, async () => 'mine', { waitMs: 300 }).catch((x: unknown) => x);
    assert.instance(e, QdoError);
    assert.is((e as QdoError).code, 'locked');
    assert.match((e as QdoError).message, new RegExp(`pid ${w.child.pid} on `));
  } finally {
    w.child.kill('SIGKILL');
    await w.exit;
  }
});

test('a stale lock with foreign files inside is taken over, not an internal error', async () => {
  const t = join(dir, 'x');
  mkdirSync(lockPathFor(t));
  writeFileSync(join(lockPathFor(t), 'junk'), 'x');
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockPathFor(t), old, old);
  assert.is(await withLock(t, async () => 1, { waitMs: 1000 }), 1);
  assert.not.ok(existsSync(lockPathFor(t)));
});

test('a lock of a holder on another host is judged by its refresh time only', async () => {
  const t = join(dir, 'x');
  mkdirSync(lockPathFor(t));
  writeFileSync(join(lockPathFor(t), HOLDER_FILE), JSON.stringify({ host: 'elsewhere', pid: 1, start: null, nonce: 'aaaaaaaa' }) + '\n');
  const e = await withLock(t, async () => 1, { waitMs: 300 }).catch((x: unknown) => x);
  assert.is((e as QdoError).code, 'locked');
  // Not refreshed for 60 s (folder and holder file): over 40 s old, stale at first sight.
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockPathFor(t), old, old);
  utimesSync(join(lockPathFor(t), HOLDER_FILE), old, old);
  assert.is(await withLock(t, async () => 2, { waitMs: 1000 }), 2);
});

test('a holder elsewhere whose clock is 20 s behind, refreshing: never stale; once it stops, stale after 10 s of watching (spec/locking.md §Stale)', async () => {
  const t = join(dir, 'x');
  const lock = lockPathFor(t);
  mkdirSync(lock);
  const holder = join(lock, HOLDER_FILE);
  writeFileSync(holder, JSON.stringify({ host: 'elsewhere', pid: 1, start: null, nonce: 'aaaaaaaa' }) + '\n');
  // The folder's own mtime a minute old (as an NFS client's attribute cache may show it); the
  // holder file refreshed every 500 ms with the holder's clock, 20 s behind this one.
  const minute = new Date(Date.now() - 60_000);
  utimesSync(lock, minute, minute);
  const refresh = () => {
    const behind = new Date(Date.now() - 20_000);
    utimesSync(holder, behind, behind);
  };
  refresh();
  const timer = setInterval(refresh, 500);
  try {
    const e = await withLock(t, async () => 1, { waitMs: 11_500 }).catch((x: unknown) => x);
    assert.instance(e, QdoError, 'a live lock, watched for 11.5 s, is not taken over');
    assert.is((e as QdoError).code, 'locked');
  } finally {
    clearInterval(timer);
  }
  // The holder stops refreshing: its last refresh looks 20 s old here (under 40 s), so the
  // waiter takes it over only after seeing it unchanged for 10 s.
  const started = performance.now();
  assert.is(await withLock(t, async () => 2, { waitMs: 15_000 }), 2);
  assert.ok(performance.now() - started >= 10_000, `taken after ${Math.round(performance.now() - started)} ms`);
});

test('a holder refreshes its holder file with its folder', async () => {
  const t = join(dir, 'x');
  await withLock(t, async () => {
    const holder = join(lockPathFor(t), HOLDER_FILE);
    const first = statSync(holder).mtimeMs;
    const until = Date.now() + 8_000;
    while (statSync(holder).mtimeMs === first && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.ok(statSync(holder).mtimeMs > first, 'refreshed within 8 s (every 2 s)');
    assert.is(statSync(holder).mtimeMs, statSync(lockPathFor(t)).mtimeMs, 'to the time the folder got');
  });
});

test('a file where the lock folder belongs, or a missing folder: typed errors (exit 7)', async () => {
  const t = join(dir, 'x');
  writeFileSync(lockPathFor(t), 'not a folder');
  const e = await withLock(t, async () => 1, { waitMs: 300 }).catch((x: unknown) => x);
  assert.instance(e, QdoError);
  assert.equal([(e as QdoError).code, (e as QdoError).exitCode], ['bad-lock', 7]);
  writeFileSync(join(dir, 'file'), '');
  const f = await withLock(join(dir, 'file', 'y'), async () => 1).catch((x: unknown) => x);
  assert.equal([(f as QdoError).code, (f as QdoError).exitCode], ['missing-folder', 7]);
  const g = await withLock(join(dir, 'nope', 'y'), async () => 1).catch((x: unknown) => x);
  assert.equal([(g as QdoError).code, (g as QdoError).exitCode], ['missing-folder', 7]);
});

test('many processes racing to take over a dead holder\'s lock: never two inside at once', async () => {
  const t = join(dir, 'x');
  for (let round = 0; round < 3; round++) {
    await deadHolderLock(t);
    const ws = Array.from({ length: 6 }, () => worker(['enter', t, '15', dir]));
    const codes = await Promise.all(ws.map((w) => w.exit));
    assert.equal(codes, [0, 0, 0, 0, 0, 0], 'every worker entered its 15 times without meeting another inside');
    assert.not.ok(existsSync(lockPathFor(t)));
  }
});

test('twenty takers judging a dead holder\'s lock at the same moment: one at a time inside', async () => {
  const t = join(dir, 'x');
  for (let round = 0; round < 5; round++) {
    await deadHolderLock(t);
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withLock(t, async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 2));
          inside--;
        }),
      ),
    );
    assert.is(most, 1);
  }
});

test.run();
