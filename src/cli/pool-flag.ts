// `--pool NAME` on submit, sweep and retry (spec/pools.md §Submitting): the same as
// `--scheduler pool:NAME`. After runs are queued in a pool, one scale pass starts pilots at
// once rather than at the next status.
import type { Args } from './command.js';
import { str } from './command.js';
import type { CliEnv } from './io.js';
import { UsageError } from '../errors.js';

export const POOL_OPTION = { type: 'string', describe: 'queue the runs in this pool (qdo pool add): the same as --scheduler pool:NAME' } as const;

/** --scheduler, or pool:<--pool>; both must agree when both are given. */
export function schedulerOption(args: Args): string | undefined {
  const s = str(args, 'scheduler');
  const pool = str(args, 'pool');
  if (pool === undefined) return s;
  const kind = `pool:${pool}`;
  if (s !== undefined && s !== kind) throw new UsageError(`--pool ${pool} and --scheduler ${s} disagree: give one`, { code: 'bad-flag' });
  return kind;
}

/** One scale pass for each pool among the schedulers that took runs; problems are warnings. */
export async function scaleAfterSubmit({ ctx, io }: CliEnv, kinds: Iterable<string>): Promise<void> {
  const pools = [...new Set([...kinds].filter((k) => k.startsWith('pool:')).map((k) => k.slice(5)))];
  if (pools.length === 0) return;
  const { findPool } = await import('../core/pool/find.js');
  const { scalePool } = await import('../core/pool/scale.js');
  for (const name of pools) {
    try {
      const r = await scalePool(ctx, await findPool(ctx, name), { now: true, self: ctx.command });
      for (const p of r.problems) io.stderr(`qdo: warning: pool ${name}: ${p}\n`);
    } catch (e) {
      io.stderr(`qdo: warning: pool ${name}: not scaled: ${(e as Error).message}\n`);
    }
  }
}
