// A scripted stand-in for runCommand (src/scheduler/runner.ts) for the PBS/TORQUE backend
// tests: each expected call names its argv and the reply (stdout, stderr, exit code) —
// in these tests always a captured real output. It follows the runner's contract:
// okExitCodes, transient patterns with `retries` extra attempts, scheduler-command-failed
// with {stdout, stderr, exitCode} in data, scheduler-timeout.
import * as assert from 'uvu/assert';
import { SchedulerError } from '../../src/errors.js';
import type { RunOptions, RunResult, Runner } from '../../src/scheduler/runner.js';

export type Reply = { stdout?: string; stderr?: string; exitCode?: number } | { timeout: true };
export interface Expect {
  argv: string[];
  reply: Reply;
}
export interface Call {
  argv: string[];
  opts: RunOptions;
}

export function fakeRunner(script: Expect[]): { run: Runner; calls: Call[]; left: () => number } {
  const queue = [...script];
  const calls: Call[] = [];
  const run = (async (argv: string[], opts: RunOptions = {}): Promise<RunResult> => {
    const retries = opts.retries ?? 3;
    const ok = opts.okExitCodes ?? [0];
    for (let attempt = 1; ; attempt++) {
      calls.push({ argv, opts });
      const next = queue.shift();
      if (next === undefined) assert.unreachable(`unexpected command ${JSON.stringify(argv)}`);
      assert.equal(argv, next!.argv, 'command line');
      const reply = next!.reply;
      if ('timeout' in reply) {
        throw new SchedulerError('scheduler-timeout', `\`${argv.join(' ')}\` did not finish within 30 s and was killed`, { data: { command: argv } });
      }
      const stdout = reply.stdout ?? '';
      const stderr = reply.stderr ?? '';
      const exitCode = reply.exitCode ?? 0;
      if (ok.includes(exitCode)) return { stdout, stderr, exitCode, attempts: attempt };
      const transient = (opts.transient ?? []).some((re) => re.test(stderr) || re.test(stdout));
      if (transient && attempt <= retries) continue;
      throw new SchedulerError('scheduler-command-failed', `\`${argv.join(' ')}\` exited with ${exitCode}: ${stderr.trim() || stdout.trim()}`, {
        data: { command: argv, exitCode, signal: null, stderr, stdout, attempts: attempt },
      });
    }
  }) as Runner;
  return { run, calls, left: () => queue.length };
}
