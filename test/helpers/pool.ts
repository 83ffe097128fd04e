// Pool tests: a home with project "p" and a pool, workers run in this process (runWorker)
// or as processes of the built binary, and waiting on job states with a deadline.
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, qdo, testContext, type RunOptions } from './cli.js';
import { TERMINAL, type Json } from './jobs.js';
import { findPool } from '../../src/core/pool/find.js';
import { runWorker, type WorkerOptions, type WorkerSummary } from '../../src/core/pool/worker.js';
import type { Context } from '../../src/context.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs qdo in-process and asserts exit 0; returns stdout. */
export async function ok(opts: RunOptions, args: string[]): Promise<string> {
  const r = await qdo(args, opts);
  assert.is(r.code, 0, `qdo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Polls `probe` until it returns a value, or fails after `ms` naming `what`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 30_000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(every);
  }
}

/** `qdo status --refresh --json` of some jobs. */
export async function states(opts: RunOptions, ...jobs: string[]): Promise<Json[]> {
  return JSON.parse(await ok(opts, ['status', '--refresh', '--json', ...jobs])).jobs as Json[];
}

/** Waits for one job to reach a state matching `want` (default: any end). */
export async function waitState(opts: RunOptions, job: string, want: (s: string) => boolean = (s) => TERMINAL.includes(s), ms = 30_000): Promise<Json> {
  let last = '';
  return until(
    `${job} to reach the wanted state (last: ${last})`,
    async () => {
      const [j] = await states(opts, job);
      last = j?.state;
      return j && want(j.state) ? j : undefined;
    },
    ms,
  );
}

export interface InProcessWorker {
  stop(): void;
  done: Promise<WorkerSummary>;
  log: string[];
}

/** A worker in this process (its runs are real processes), with a clock and host of its own. */
export async function startWorker(opts: RunOptions, pool: string, over: Partial<WorkerOptions> = {}, ctxOver: Partial<Context> = {}): Promise<InProcessWorker> {
  const ctx = { ...testContext({ ...opts, now: 'real' }), ...ctxOver };
  const ref = await findPool(ctx, pool);
  const ctrl = new AbortController();
  const log: string[] = [];
  const done = runWorker(ctx, {
    pool: ref,
    slots: 2,
    capabilities: [],
    mem: null,
    gpus: 0,
    idleSec: null,
    pilot: null,
    timeLeftSec: null,
    env: ctx.env as Record<string, string>,
    signal: ctrl.signal,
    pollMs: 100,
    graceSec: 2,
    log: (l) => log.push(l),
    runOutput: 'ignore',
    ...over,
  });
  done.catch(() => undefined);
  return { stop: () => ctrl.abort(), done, log };
}

export interface WorkerProcess {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

/** `qdo pool worker NAME ARGS…` as a process of the built binary. */
export function spawnWorker(opts: RunOptions, pool: string, args: string[], env: Record<string, string> = {}): WorkerProcess {
  let out = '';
  const child = spawn(process.execPath, [BIN, 'pool', 'worker', pool, ...args], {
    cwd: opts.home,
    env: { PATH: process.env.PATH ?? '', QDO_HOME: opts.home, ...(opts.env ?? {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exited };
}

/** Stops worker processes the test started (TERM, then KILL), and waits for them. */
export async function stopWorkers(ws: WorkerProcess[]): Promise<void> {
  for (const w of ws) if (w.child.exitCode === null) w.child.kill('SIGTERM');
  await Promise.race([Promise.all(ws.map((w) => w.exited)), sleep(15_000)]);
  for (const w of ws) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
}

/** Lines of a side-effect file (each run appends one line when it really ran to its end). */
export function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** Every side-effect file in `dir` with its line count. */
export function counts(dir: string): Map<string, number> {
  const m = new Map<string, number>();
  if (!existsSync(dir)) return m;
  for (const f of readdirSync(dir)) m.set(f, lines(join(dir, f)).length);
  return m;
}
