// The one call refresh.ts makes for pools (spec/pools.md §Scaling): a refresh that is about
// to look at runs of a pool first runs a scale pass for that pool (rate-limited in
// scale.ts): the runs of dead workers go back to the queue, so the query that follows sees
// them queued, and the pilots are kept between min and max. Problems are noted on the
// pool's refresh group; they never fail the refresh.
import type { Context } from '../../context.js';
import { QdoError } from '../../errors.js';
import { poolNameOf } from '../../model/pool.js';
import type { Runner } from '../../scheduler/runner.js';
import type { JobVersion } from '../jobs.js';
import type { GroupReport } from '../refresh.js';
import { findPool } from './find.js';
import { scalePool } from './scale.js';

/** Scales the pools of `jobs`; returns what puts the problems on the refresh's groups. */
export async function beforeRefresh(ctx: Context, jobs: JobVersion[], o: { force?: boolean; offline?: boolean; runner?: Runner }): Promise<(groups: GroupReport[]) => void> {
  const names = new Set<string>();
  for (const j of jobs) {
    const name = j.sub ? poolNameOf(j.sub.scheduler) : null;
    if (name !== null) names.add(name);
  }
  const notes: { scheduler: string; message: string }[] = [];
  for (const name of names) {
    try {
      const r = await scalePool(ctx, await findPool(ctx, name), { force: o.force, offline: o.offline, runner: o.runner, self: ctx.command });
      if (r.problems.length) notes.push({ scheduler: `pool:${name}`, message: `pool ${name}: ${r.problems.join('; ')}` });
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      notes.push({ scheduler: `pool:${name}`, message: `pool ${name}: ${e.message}` });
    }
  }
  return (groups) => {
    for (const n of notes) {
      const g = groups.find((x) => x.scheduler === n.scheduler);
      if (g) g.problem = g.problem ? `${g.problem}; ${n.message}` : n.message;
    }
  };
}
