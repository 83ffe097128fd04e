// qdo logs REV [-f] [--err] [--task INDEX] [--attempt N] (man/qdo-logs.1; src/core/logs.ts)
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import type { LogEvent } from '../../core/logs.js';
import { TextDecoder } from 'node:util';
import { bytesJson, jsonDocument, jsonLine } from '../../output/json.js';

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
    const attempt = args.attempt === undefined ? undefined : Number(args.attempt);
    // Array tasks are shown like tail(1) shows files: a header whenever the task changes.
    let current: string | null | undefined;
    let atLineStart = true;
    let started = false;
    const ac = new AbortController();
    const onInterrupt = (): void => ac.abort();
    if (follow) process.once('SIGINT', onInterrupt);
    if (bool(args, 'json')) {
      // spec/porcelain.md §qdo logs: one document, or with --follow one JSON line per chunk and event.
      const chunks = new Map<string | null, Buffer[]>();
      const decoders = new Map<string | null, TextDecoder>();
      const eventJson = (e: LogEvent) => ({ event: e.kind, ...e, kind: undefined });
      try {
        const r = await core.logs(ctx, String(args.rev), {
          stream,
          task,
          attempt,
          follow,
          signal: ac.signal,
          data(index, chunk) {
            if (!follow) return void chunks.set(index, [...(chunks.get(index) ?? []), Buffer.from(chunk)]);
            let d = decoders.get(index);
            if (!d) decoders.set(index, (d = new TextDecoder('utf-8')));
            io.stdout(jsonLine({ event: 'output', task: index, text: d.decode(chunk, { stream: true }) }));
          },
          event(e) {
            if (follow) io.stdout(jsonLine(eventJson(e)));
          },
        });
        if (!follow) {
          const j = r.job;
          io.stdout(jsonDocument({ job: `${j.project}/${j.name}`, id: j.id, job_version: j.version, stream, attempt: attempt ?? null, state: j.sub?.state ?? 'unsubmitted', tasks: [...chunks].map(([index, c]) => ({ task: index, ...bytesJson(Buffer.concat(c)) })) }));
        }
      } finally {
        if (follow) process.removeListener('SIGINT', onInterrupt);
      }
      return;
    }
    try {
      await core.logs(ctx, String(args.rev), {
        stream,
        task,
        attempt,
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
