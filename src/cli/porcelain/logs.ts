// qdo logs REV [-f] [--err] [--task INDEX] (man/qdo-logs.1; src/core/logs.ts)
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';

export const logsCommand: CommandDef = {
  command: 'logs <rev>',
  describe: "Print or follow a job's output (stdout, or stderr with --err)",
  builder: (y) =>
    y
      .positional('rev', { type: 'string', describe: 'PROJECT/JOB, a revision like JOB@2, or an id prefix' })
      .option('follow', { type: 'boolean', alias: 'f', describe: 'keep printing what the job writes until it ends' })
      .option('err', { type: 'boolean', describe: 'the job\'s stderr instead of its stdout' })
      .option('task', { type: 'string', describe: 'one task of an array job (its index); default all, each under a header' })
      .option('attempt', { type: 'number', describe: 'one run of a job run more than once (requeued): 1 is the first; default the latest' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/logs.js');
    const stream = bool(args, 'err') ? 'stderr' : 'stdout';
    const follow = bool(args, 'follow');
    const task = str(args, 'task');
    // Array tasks are shown like tail(1) shows files: a header whenever the task changes.
    let current: string | null | undefined;
    let atLineStart = true;
    let started = false;
    const ac = new AbortController();
    const onInterrupt = (): void => ac.abort();
    if (follow) process.once('SIGINT', onInterrupt);
    try {
      await core.logs(ctx, String(args.rev), {
        stream,
        task,
        attempt: args.attempt === undefined ? undefined : Number(args.attempt),
        follow,
        signal: ac.signal,
        data(index, chunk) {
          if (index !== null && task === undefined && index !== current) {
            io.stdout(`${started ? (atLineStart ? '\n' : '\n\n') : ''}==> ${index} <==\n`);
            atLineStart = true;
          }
          current = index;
          started = true;
          io.stdout(chunk);
          if (chunk.length > 0) atLineStart = chunk[chunk.length - 1] === 0x0a;
        },
        event(e) {
          if (e.kind === 'no-output') {
            const verb = e.following ? 'waiting for output (Ctrl-C to stop)' : 'no output yet';
            if (isLive(e.state)) io.stderr(`qdo: ${e.name} is ${e.state}; ${verb}\n`);
            else io.stderr(`qdo: ${e.name} ended (${e.state}) with nothing on ${stream}\n`);
          } else if (e.kind === 'restarted') {
            io.stderr(`qdo: ${e.name}${e.index === null ? '' : ` task ${e.index}`}: its ${stream} starts again (the job was restarted)\n`);
          } else if (e.kind === 'ended') {
            if (!atLineStart) io.stdout('\n');
            atLineStart = true;
            if (isLive(e.state)) io.stderr(`qdo: ${e.name} has ended; how is not known yet (see qdo status --refresh)\n`);
            else io.stderr(`qdo: ${e.name} ${e.state}${e.exitCode === null ? '' : ` (exit ${e.exitCode})`}\n`);
          }
        },
      });
    } finally {
      if (follow) process.removeListener('SIGINT', onInterrupt);
    }
  },
};

function isLive(state: string): boolean {
  return ['pending', 'queued', 'held', 'running', 'suspended', 'submitting', 'unknown'].includes(state);
}
