// argv → exit code. The only place that turns errors into messages and exit codes
// (spec/exit-codes.md). No process.exit(): the caller sets process.exitCode.
//
// A command line that parses cleanly is parsed by fast-parse.ts and run at once; yargs is
// loaded only for the rest (help, --version among other flags, mistakes), so yargs stays
// the parser users see in every message while costing nothing on the common path.
import type { Argv } from 'yargs';
import type { Context } from '../context.js';
import { ExitCode, isQdoError, UsageError } from '../errors.js';
import { closest, editDistance } from '../util/closest.js';
import { version } from '../version.js';
import { errorJson } from '../output/json.js';
import type { Args, CommandDef } from './command.js';
import { COMMANDS } from './commands.js';
import { fastParse } from './fast-parse.js';
import type { Io } from './io.js';
import { commandSpec, GLOBAL_OPTIONS, type CommandSpec } from './spec.js';
import { storeErrorOf } from '../store/damage.js';
import { joinValueFlags } from './sched-arg-flag.js';

const specs = new Map<CommandDef, CommandSpec>();

/** The spec of a command (its builder run once against the recorder). */
export function specOfCommand(c: CommandDef): CommandSpec {
  let s = specs.get(c);
  if (!s) specs.set(c, (s = commandSpec(c)));
  return s;
}

function wordsOf(c: CommandDef): string[] {
  return (Array.isArray(c.command) ? c.command : [c.command]).map((s) => s.trim().split(/\s+/)[0]!);
}

/** The command a word runs (its name or an alias). */
export function commandFor(word: string, commands: readonly CommandDef[] = COMMANDS): CommandDef | undefined {
  return commands.find((c) => wordsOf(c).includes(word));
}

/** `--json` anywhere before `--`: errors are then reported as JSON too (spec/porcelain.md §Errors). */
export function wantsJson(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--json') return true;
  }
  return false;
}

export async function main(argvIn: string[], io: Io, ctx: Context): Promise<number> {
  // `--sched-arg --qos=debug`: the word after it is its value, whatever it looks like.
  const argv = joinValueFlags(argvIn);
  const debug = ctx.env.QDO_DEBUG === '1';
  const asJson = wantsJson(argv);
  try {
    if (argv.length === 1 && argv[0] === '--version') {
      io.stdout(version() + '\n');
      return ExitCode.ok;
    }
    // The shells' completion scripts ask this (complete.ts); it is no command of its own.
    if (argv[0] === '__complete') {
      const { completeMain } = await import('./complete.js');
      return await completeMain(argv.slice(1), io, ctx, COMMANDS, specOfCommand);
    }
    const fast = ctx.env.QDO_NO_FAST_PARSE === '1' ? null : fastParse(argv, (w) => {
      const c = commandFor(w);
      return c ? specOfCommand(c) : undefined;
    }, GLOBAL_OPTIONS);
    if (fast) {
      const r = await commandFor(fast.word)!.run(fast.args, { ctx, io });
      return typeof r === 'number' ? r : ExitCode.ok;
    }
    return await viaYargs(argv, io, ctx);
  } catch (e) {
    return report(e, io, debug, asJson);
  }
}

/**
 * yargs' "Unknown argument(s): a, b" → a hint naming the options meant, if any is close;
 * "Invalid values: Argument: x, Given: "v", Choices: …" → the choice meant.
 */
export function flagHint(msg: string, argv: readonly string[]): string | undefined {
  const inv = [...msg.matchAll(/Argument: ([^,\n]+), Given: "((?:[^"\\]|\\.)*)", Choices: (.*)/g)];
  if (inv.length > 0) {
    const hints: string[] = [];
    for (const [, arg, given, list] of inv) {
      const choices = [...list!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((c) => c[1]!);
      const near = closest(given!, choices);
      if (near.length === 0) continue;
      const best = Math.min(...near.map((n) => (n.startsWith(given!) ? 0 : editDistance(given!, n))));
      const shown = near.filter((n) => (n.startsWith(given!) ? 0 : editDistance(given!, n)) === best);
      hints.push(`${arg} "${given}": did you mean ${shown.join(', ')}?`);
    }
    return hints.length ? hints.join('; ') : undefined;
  }
  const m = /^Unknown arguments?: (.*)$/.exec(msg);
  if (!m) return undefined;
  const c = COMMANDS.find((x) => argv.some((a) => wordsOf(x).includes(a)));
  const spec = c ? specOfCommand(c) : { flags: new Map(GLOBAL_OPTIONS.map((g) => [g.name, g])) };
  const names = [...spec.flags.keys()].filter((n) => n.length > 1);
  const hints: string[] = [];
  for (const bad of m[1]!.split(', ')) {
    // Only what was typed as a flag: an extra positional is not a misspelt option.
    const typed = argv.find((a) => a === `--${bad}` || a.startsWith(`--${bad}=`) || a === `-${bad}`);
    if (!typed) continue;
    // The nearest only: "--tim" means --time, not --mem as well.
    const near = closest(bad, names);
    const best = Math.min(...near.map((n) => (n.startsWith(bad) ? 0 : editDistance(bad, n))));
    const shown = near.filter((n) => (n.startsWith(bad) ? 0 : editDistance(bad, n)) === best);
    if (shown.length) hints.push(`--${bad}: did you mean ${shown.map((n) => `--${n}`).join(', ')}?`);
  }
  return hints.length ? hints.join('; ') : undefined;
}

/**
 * qdo's yargs configuration, every command declared; `handler` gets the parsed arguments
 * of the command that runs. Exported for the test comparing it with fast-parse.ts.
 */
export function yargsParser(yargs: typeof import('yargs').default, argv: string[], columns: number | undefined, handler: (c: CommandDef, args: Args) => Promise<void>): Argv {
  const parser: Argv = yargs(argv)
    .scriptName('qdo')
    .parserConfiguration({ 'populate--': true, 'greedy-arrays': false })
    .version(version())
    .help()
    .alias('h', 'help')
    .option('json', { type: 'boolean', global: true, describe: GLOBAL_OPTIONS[0]!.describe })
    .strict()
    .demandCommand(1, 'give a command (qdo --help lists them)')
    .recommendCommands()
    .wrap(Math.min(100, columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg, { hint: flagHint(msg, argv) });
    });
  for (const c of COMMANDS) {
    parser.command({
      command: c.command,
      describe: c.describe,
      builder: (y) => (c.builder ? c.builder(y) : y),
      handler: (args) => handler(c, args as unknown as Args),
    });
  }
  return parser;
}

async function viaYargs(argv: string[], io: Io, ctx: Context): Promise<number> {
  const { default: yargs } = await import('yargs');
  let code: number = ExitCode.ok;
  const parser = yargsParser(yargs, argv, io.columns, async (c, args) => {
    const r = await c.run(args, { ctx, io });
    code = typeof r === 'number' ? r : ExitCode.ok;
  });
  let output = '';
  await parser.parseAsync(argv, {}, (err, _a, out) => {
    if (out) output = out;
    if (err) throw err;
  });
  if (output) io.stdout(output.endsWith('\n') ? output : output + '\n');
  return code;
}

export { errorJson };

function report(e: unknown, io: Io, debug: boolean, asJson: boolean): number {
  // A file-system error in a .qdo folder is damage to report, not a bug (store/damage.ts).
  e = storeErrorOf(e) ?? e;
  if (isQdoError(e)) {
    if (asJson) io.stderr(errorJson(e.code, e.message, e.hint));
    else {
      io.stderr(`qdo: ${e.message}\n`);
      if (e.hint) io.stderr(`hint: ${e.hint}\n`);
    }
    if (debug && e.stack) io.stderr(e.stack + '\n');
    return e.exitCode;
  }
  const err = e as Error;
  const message = `internal error: ${err?.message ?? String(e)}`;
  const hint = 'this is a bug in qdo; run with QDO_DEBUG=1 to see where';
  if (asJson) io.stderr(errorJson('internal', message, debug ? undefined : hint));
  else io.stderr(`qdo: ${message}\n`);
  if (debug && err?.stack) io.stderr(err.stack + '\n');
  else if (!asJson) io.stderr(`hint: ${hint}\n`);
  return ExitCode.internal;
}
