// argv → exit code. The only place that turns errors into messages and exit codes
// (spec/exit-codes.md). No process.exit(): the caller sets process.exitCode.
import yargs from 'yargs';
import type { Context } from '../context.js';
import { ExitCode, isQdoError, UsageError } from '../errors.js';
import type { Args } from './command.js';
import { COMMANDS } from './commands.js';
import type { Io } from './io.js';
import { storeErrorOf } from '../store/damage.js';
import { joinValueFlags } from './sched-arg-flag.js';

export const VERSION = '0.1.0';

export async function main(argvIn: string[], io: Io, ctx: Context): Promise<number> {
  const argv = joinValueFlags(argvIn);
  let code: number = ExitCode.ok;
  const debug = ctx.env.QDO_DEBUG === '1';
  const parser = yargs(argv)
    .scriptName('qdo')
    .parserConfiguration({ 'populate--': true, 'greedy-arrays': false })
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .strict()
    .demandCommand(1, 'give a command (qdo --help lists them)')
    .recommendCommands()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg);
    });
  for (const c of COMMANDS) {
    parser.command({
      command: c.command,
      describe: c.describe,
      builder: (y) => (c.builder ? c.builder(y) : y),
      handler: async (args) => {
        const r = await c.run(args as unknown as Args, { ctx, io });
        code = typeof r === 'number' ? r : ExitCode.ok;
      },
    });
  }
  try {
    let output = '';
    await parser.parseAsync(argv, {}, (err, _a, out) => {
      if (out) output = out;
      if (err) throw err;
    });
    if (output) io.stdout(output.endsWith('\n') ? output : output + '\n');
    return code;
  } catch (e) {
    return report(e, io, debug);
  }
}

function report(e: unknown, io: Io, debug: boolean): number {
  // A file-system error in a .qdo folder is damage to report, not a bug (store/damage.ts).
  e = storeErrorOf(e) ?? e;
  if (isQdoError(e)) {
    io.stderr(`qdo: ${e.message}\n`);
    if (e.hint) io.stderr(`hint: ${e.hint}\n`);
    if (debug && e.stack) io.stderr(e.stack + '\n');
    return e.exitCode;
  }
  const err = e as Error;
  io.stderr(`qdo: internal error: ${err?.message ?? String(e)}\n`);
  io.stderr(debug && err?.stack ? err.stack + '\n' : 'hint: this is a bug in qdo; run with QDO_DEBUG=1 to see where\n');
  return ExitCode.internal;
}
