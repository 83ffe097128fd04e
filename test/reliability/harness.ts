// Shared pieces of the reliability suites (test/reliability/README.md): worker processes,
// what the scheduler holds (the local spool, Slurm's queue), and the checks every suite makes.
import { timeLimit } from '../helpers/uvu-timed.js';
import { BIN, testCacheHome } from '../helpers/cli.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LARGE = process.env.QDO_RELIABILITY === 'large';
/** A test's function with the limit of `npm run reliability` (QDO_RELIABILITY=large: far longer than the 120-s default); as it is otherwise. */
export const large = <F extends () => Promise<void>>(fn: F): F => (LARGE ? timeLimit(3_600_000, fn) : fn);
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface Outcome {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

export interface Worker {
  child: ChildProcess;
  outcomes: Outcome[];
  /** Resolves once the worker has started (loaded, about to run its first command). */
  ready: Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves after `n` outcomes (or at exit). */
  after(n: number): Promise<void>;
}

/**
 * Starts a worker. `procEnv` is added to the worker process's own environment: scheduler
 * commands are found on the process's PATH (the runner inherits it), so stand-in commands
 * go there.
 */
export function startWorker(home: string, plan: object, name: string, procEnv: Record<string, string> = {}): Worker {
  const file = join(home, `.plan-${name}.json`);
  writeFileSync(file, JSON.stringify(plan));
  const child = spawn(process.execPath, [WORKER, home, file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...procEnv } });
  const outcomes: Outcome[] = [];
  let buf = '';
  let stderr = '';
  let ready: () => void = () => undefined;
  const waiters: { n: number; r: () => void }[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) {
      if (outcomes.length >= w.n || child.exitCode !== null || child.signalCode !== null) w.r();
      else waiters.push(w);
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const v = JSON.parse(line) as Outcome | { ready: number };
      if ('ready' in v) ready();
      else outcomes.push(v);
    }
    wake();
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => {
      ready();
      for (const w of waiters.splice(0)) w.r();
      if (code !== 0 && signal === null && stderr) outcomes.push({ args: ['(worker)'], code: code ?? -1, stdout: '', stderr });
      r({ code, signal });
    }),
  );
  return {
    child,
    outcomes,
    ready: new Promise<void>((r) => (ready = r)),
    exit,
    after: (n) => new Promise<void>((r) => {
      waiters.push({ n, r });
      wake();
    }),
  };
}

/** Problems of one outcome: a stack trace, an internal error, an exit code the spec does not name. */
export function outcomeProblems(o: Outcome, allowed: number[]): string[] {
  const out: string[] = [];
  const what = `qdo ${o.args.join(' ')}`;
  if (o.code === 70 || /internal error/.test(o.stderr)) out.push(`${what}: internal error (exit ${o.code}): ${o.stderr.trim()}`);
  if (/\n\s+at .*\(.*:\d+:\d+\)/.test(o.stderr)) out.push(`${what}: stack trace: ${o.stderr.trim().slice(0, 400)}`);
  if (!allowed.includes(o.code)) out.push(`${what}: exit ${o.code} not expected here: ${o.stderr.trim().slice(0, 300)}`);
  // Exit 1 is a negative answer (fsck's findings, a job that did not complete): said on
  // stdout; `wait --timeout` running out is exit 5 with no error (spec/exit-codes.md).
  const silent = o.code === 1 || (o.code === 5 && o.args[0] === 'wait');
  // With --json the message is one JSON error object on stderr (spec/porcelain.md §--json).
  const said = /^qdo: /m.test(o.stderr) || (o.args.includes('--json') && /^\{"version":1,"error":\{"code":"[a-z-]+","message":"/m.test(o.stderr));
  if (o.code !== 0 && !silent && !said) out.push(`${what}: exit ${o.code} without a message`);
  return out;
}

/** A job the local backend took: its id and tag (the manifest id), if any task of it reached the queue. */
export interface SpoolJob {
  id: string;
  tag: string | null;
}

/** Every job in the local spool that was queued (a half-made job folder of a killed submit is not a job). */
export function localSpoolJobs(home: string): SpoolJob[] {
  const root = join(home, '.qdo/local');
  const jobs = join(root, 'jobs');
  if (!existsSync(jobs)) return [];
  const queued = new Set([...readdirOr(join(root, 'queue')), ...readdirOr(join(root, 'running'))].map((k) => String(Number(k.split('.')[0]))));
  const out: SpoolJob[] = [];
  for (const n of readdirSync(jobs).filter((x) => /^\d+$/.test(x))) {
    let info: { tag?: unknown };
    try {
      info = JSON.parse(readFileSync(join(jobs, n, 'job.json'), 'utf8'));
    } catch {
      continue;
    }
    const tasks = readdirOr(join(jobs, n, 'tasks'));
    const ran = tasks.some((t) => existsSync(join(jobs, n, 'tasks', t, 'result.json')));
    if (!(queued.has(n) || ran)) continue;
    const tag = typeof info.tag === 'string' ? info.tag : null;
    // An array job (a packed sweep chunk) is one entry per task, named as its elements are (7_3).
    if ((info as { array?: unknown }).array == null) out.push({ id: n, tag });
    else for (const t of tasks) out.push({ id: `${n}_${t}`, tag });
  }
  return out;
}

function readdirOr(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

/**
 * Runs `qdo ARGS…` as a process on the local backend in `home`, waits until `reached()` (looked
 * at every 2 ms; 120 s at most, then it is killed and this throws naming `what`) and a random
 * moment up to `jitterMs` more, and kills it with SIGKILL. Returns whether the kill ended it
 * (false: it had finished first).
 */
export async function killWhen(home: string, args: string[], what: string, reached: () => boolean, jitterMs: number): Promise<boolean> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: home,
    env: { PATH: process.env.PATH ?? '', QDO_HOME: home, QDO_SCHEDULER: 'local', XDG_CACHE_HOME: testCacheHome() },
    stdio: 'ignore',
  });
  const exit = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
  let ended = false;
  void exit.then(() => (ended = true));
  const deadline = Date.now() + 120_000;
  while (!ended && !reached()) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`not within 120 s: ${what}`);
    }
    await pause(2);
  }
  await pause(Math.random() * jitterMs);
  child.kill('SIGKILL');
  return (await exit) === 'SIGKILL';
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
