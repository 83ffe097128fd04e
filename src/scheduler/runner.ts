// The one place qdo runs a scheduler command (spec/scheduler-common.md §Runner).
// Every backend goes through runCommand, so timeouts, retries of transient controller
// failures and the error messages users see are the same for sbatch, qstat and friends.
// Commands run through node:child_process: execa (106 files, 2.3x `node -e 0` to load)
// bought nothing here that the few lines of runOnce below do not do (bench/README.md).
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { SchedulerError } from '../errors.js';

export interface RunOptions {
  /** Kill the command after this long (SIGTERM, then SIGKILL 2 s later). Default 30000; 0: never. */
  timeoutMs?: number;
  /** Extra attempts after a transient failure. Default 3. Use 0 for non-idempotent commands. */
  retries?: number;
  /** stderr/stdout patterns that mark a failure as transient (replaces the defaults). */
  transient?: RegExp[];
  cwd?: string;
  /** Text fed to stdin; without it stdin is closed (sbatch would otherwise wait for a script). */
  input?: string;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  /** Exit codes that count as success. Default [0]. */
  okExitCodes?: number[];
  /** Delay before retry number `attempt` (1-based). Default 200 ms doubling, at most 5 s. */
  backoffMs?: (attempt: number) => number;
}

export interface RunResult {
  /** Verbatim, including the final newline. */
  stdout: string;
  stderr: string;
  exitCode: number;
  /** How many times the command was started (1 = no retry). */
  attempts: number;
}

/** Messages scheduler clients print when the controller/server is briefly unreachable. */
export const DEFAULT_TRANSIENT: readonly RegExp[] = [
  /Socket timed out on send\/recv/,
  /Unable to contact slurm controller/,
  /cannot connect to server/i,
  /Connection refused/,
  /Premature end of message/,
];

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRIES = 3;

export function defaultBackoffMs(attempt: number): number {
  return Math.min(200 * 2 ** (attempt - 1), 5000);
}

/** The command line as a user could paste it into a shell (for messages only). */
export function showCommand(argv: readonly string[]): string {
  const text = argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  // A command with thousands of ids is shown by its start: a message is read, not pasted.
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}… (${text.length - MAX_SHOWN} more characters)` : text;
}

/** Characters of a command line shown in a message. */
const MAX_SHOWN = 300;

/** The argv kept in an error's data: long lists cut, with how much was cut. */
function argvForData(argv: readonly string[]): string[] {
  const out = argv.slice(0, 40).map((a) => (a.length > MAX_SHOWN ? `${a.slice(0, MAX_SHOWN)}… (${a.length - MAX_SHOWN} more characters)` : a));
  if (argv.length > 40) out.push(`… (${argv.length - 40} more arguments)`);
  return out;
}

function clip(s: string, max = 2000): string {
  const t = s.trim();
  return t.length > max ? `${t.slice(0, max)}...` : t;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs argv[0] with argv[1..] (no shell). Resolves when the exit code is in okExitCodes;
 * retries transient failures; otherwise throws a SchedulerError:
 * - scheduler-command-missing: argv[0] is not on PATH (or cwd does not exist)
 * - scheduler-timeout: killed after timeoutMs
 * - scheduler-command-failed: any other failure (data: exitCode, stderr, signal)
 */
export async function runCommand(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (argv.length === 0 || argv[0] === '') throw new Error('runCommand: empty argv');
  const [file, ...args] = argv as [string, ...string[]];
  const cmd = showCommand(argv);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retries = opts.retries ?? DEFAULT_RETRIES;
  const transient = opts.transient ?? DEFAULT_TRANSIENT;
  const ok = opts.okExitCodes ?? [0];
  const backoff = opts.backoffMs ?? defaultBackoffMs;

  for (let attempt = 1; ; attempt++) {
    const r = await runOnce(file, args, opts, timeoutMs);
    const { stdout, stderr } = r;

    if (r.timedOut) {
      throw new SchedulerError('scheduler-timeout', `\`${cmd}\` did not finish within ${timeoutMs / 1000} s and was killed`, {
        hint: 'the scheduler may be overloaded; try again later',
        data: { command: argvForData(argv), timeoutMs, stderr },
      });
    }
    if (r.spawnError) {
      // The process never started.
      const code = r.spawnError.code;
      if (code === 'ENOENT') {
        if (opts.cwd !== undefined && !(await stat(opts.cwd).then((s) => s.isDirectory(), () => false))) {
          throw new SchedulerError('scheduler-command-missing', `cannot run \`${cmd}\`: folder ${opts.cwd} does not exist`, {
            data: { command: argvForData(argv), cwd: opts.cwd },
          });
        }
        throw new SchedulerError('scheduler-command-missing', `scheduler command not found: ${file}`, {
          hint: `is ${file} installed and on PATH on this machine?`,
          data: { command: argvForData(argv) },
        });
      }
      throw new SchedulerError('scheduler-command-failed', `cannot run \`${cmd}\`: ${r.spawnError.message}`, {
        data: { command: argvForData(argv), exitCode: null, stderr, errno: code },
      });
    }
    if (r.exitCode !== null && ok.includes(r.exitCode)) return { stdout, stderr, exitCode: r.exitCode, attempts: attempt };

    const isTransient = transient.some((re) => re.test(stderr) || re.test(stdout));
    if (isTransient && attempt <= retries) {
      await sleep(backoff(attempt));
      continue;
    }
    const how = r.exitCode !== null ? `exited with ${r.exitCode}` : `was killed by ${r.signal}`;
    const said = clip(stderr) || clip(stdout);
    const tries = attempt > 1 ? ` (after ${attempt} attempts)` : '';
    throw new SchedulerError('scheduler-command-failed', `\`${cmd}\` ${how}${tries}${said ? `: ${said}` : ''}`, {
      data: { command: argvForData(argv), exitCode: r.exitCode, signal: r.signal, stderr, stdout, attempts: attempt },
    });
  }
}

interface Outcome {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Set when the process could not be started. */
  spawnError?: NodeJS.ErrnoException;
}

/** One run: output collected as UTF-8; killed (TERM, then KILL 2 s later) after timeoutMs. */
function runOnce(file: string, args: string[], opts: RunOptions, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    // As execa's extendEnv: the command gets qdo's environment plus opts.env.
    const env = opts.env ? { ...process.env, ...opts.env } : undefined;
    const child = spawn(file, args, { cwd: opts.cwd, env, stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    let killer: NodeJS.Timeout | undefined;
    // 0 (or Infinity): no time limit, as execa had it.
    const timer =
      timeoutMs > 0 && Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGTERM');
            killer = setTimeout(() => child.kill('SIGKILL'), 2000);
          }, timeoutMs)
        : undefined;
    const done = (o: Omit<Outcome, 'stdout' | 'stderr' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (killer) clearTimeout(killer);
      resolve({ stdout, stderr, timedOut, ...o });
    };
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', (e: NodeJS.ErrnoException) => done({ exitCode: null, signal: null, spawnError: e }));
    child.on('close', (code, signal) => done({ exitCode: code, signal: signal ?? null }));
    if (opts.input !== undefined) {
      // A command that exits without reading its input is not an error of ours.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
  });
}

/**
 * Starts argv detached from qdo (own session, no stdio, not waited for) and returns its
 * pid. For processes that must outlive qdo: the local backend's dispatcher. Failing to
 * start is not reported here; the caller sees it in the state the process would have
 * written.
 */
export function spawnDetached(argv: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): number | undefined {
  if (argv.length === 0 || argv[0] === '') throw new Error('spawnDetached: empty argv');
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
  return child.pid;
}

/** What backends take, so unit tests can pass a fake. */
export type Runner = typeof runCommand;
