// Test harness: temp allocations, the CLI run in-process with an injected clock, env and
// streams, and the built binary / bundle run as real processes.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { Context, UserId } from '../../src/context.js';
import { identityOf, liveness } from '../../src/util/proc.js';

/** Repository root (the source tree, for fixtures and golden files). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(REPO, 'dist/src/cli/bin.js');
export const BUNDLE = join(REPO, 'dist/qdo.cjs');

export function tempDir(prefix = 'qdo-test-'): string {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

/** Removes a temp folder; jobs of the local backend may still be writing into it for a while. */
export function removeDir(dir: string): void {
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || Date.now() > end) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  home: string;
  cwd?: string;
  stdin?: string | Buffer;
  env?: Record<string, string>;
  /** Fixed clock (default 2026-11-21T09:30:00.000Z), or 'real' for the wall clock (e2e). */
  now?: Date | 'real';
  /** Who qdo runs as (default: this process's user), for the trust rules (spec/trust.md). */
  user?: UserId;
  /**
   * This machine's real host name and process liveness (as bin.ts gives them), instead of the
   * fixed "testhost" that sees every other host's processes as unknown: for tests that settle
   * what real qdo processes on this host left behind.
   */
  realHost?: boolean;
}

/** The process identity in-process runs record: this test process on host "testhost". */
export const TEST_SELF = { host: 'testhost', pid: process.pid, start: null };
/** This process's user, as bin.ts gives it to qdo. */
export const THIS_USER: UserId = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, name: userInfo().username };

export const FIXED_NOW = new Date('2026-11-21T09:30:00.000Z');

export function testContext(opts: RunOptions): Context {
  const fixed = opts.now ?? FIXED_NOW;
  const now = () => (fixed === 'real' ? new Date() : fixed);
  // PATH as a shell would have it: local jobs start with the command's environment.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', QDO_HOME: opts.home, ...(opts.env ?? {}) };
  if (opts.realHost) {
    const host = hostname();
    return { cwd: opts.cwd ?? opts.home, env, home: opts.home, now, host, self: identityOf(host, process.pid), alive: (p) => liveness(p, host), user: opts.user ?? THIS_USER };
  }
  return { cwd: opts.cwd ?? opts.home, env, home: opts.home, now, host: 'testhost', self: TEST_SELF, alive: (p) => (p.host !== 'testhost' ? 'unknown' : p.pid === process.pid ? 'alive' : 'dead'), user: opts.user ?? THIS_USER };
}

/** Runs qdo in this process. */
export async function qdo(args: string[], opts: RunOptions): Promise<RunResult> {
  const out: Buffer[] = [];
  let err = '';
  const code = await main(
    args,
    {
      stdout: (c) => void out.push(Buffer.from(c)),
      stderr: (c) => void (err += c),
      readStdin: async () => Buffer.from(opts.stdin ?? ''),
      isTTY: false,
      color: false,
    },
    testContext(opts),
  );
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: err };
}

let cacheHome: string | undefined;
/** XDG_CACHE_HOME of spawned qdo processes: the bundle's code caches stay out of ~/.cache. */
export function testCacheHome(): string {
  if (!cacheHome) {
    const dir = tempDir('qdo-test-cache-');
    cacheHome = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return cacheHome;
}

/** Runs the built binary (or the bundle) as a child process. */
export function qdoProcess(args: string[], opts: RunOptions & { bundle?: boolean }): RunResult {
  const r = spawnSync(process.execPath, [opts.bundle ? BUNDLE : BIN, ...args], {
    cwd: opts.cwd ?? opts.home,
    env: { PATH: process.env.PATH ?? '', QDO_HOME: opts.home, XDG_CACHE_HOME: testCacheHome(), ...(opts.env ?? {}) },
    input: opts.stdin ?? '',
    encoding: 'utf8',
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Replaces a temp folder path by a stable token so outputs can be compared to golden text. */
export function scrub(text: string, dir: string, token = '$HOME'): string {
  return text.split(dir).join(token);
}
