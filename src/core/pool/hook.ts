// The one call refresh.ts makes for pools (spec/pools.md §Scaling): every refresh that saw
// runs of a pool runs a scale pass for that pool (rate-limited in scale.ts), so a status,
// wait or watch keeps the pilots going and queues again the runs of dead workers. Problems
// are reported on the pool's refresh group; they never fail the refresh.
import type { Context } from '../../context.js';
import { QdoError } from '../../errors.js';
import { poolNameOf } from '../../model/pool.js';
import type { Runner } from '../../scheduler/runner.js';
import type { JobVersion } from '../jobs.js';
import type { GroupReport } from '../refresh.js';
import { findPool } from './find.js';
import { scalePool } from './scale.js';

export async function afterRefresh(ctx: Context, jobs: JobVersion[], groups: GroupReport[], o: { force?: boolean; offline?: boolean; runner?: Runner }): Promise<void> {
  const names = new Set<string>();
  for (const j of jobs) {
    const name = j.sub ? poolNameOf(j.sub.scheduler) : null;
    if (name !== null) names.add(name);
  }
  for (const name of names) {
    const note = (msg: string) => {
      const g = groups.find((x) => x.scheduler === `pool:${name}`);
      if (g) g.problem = g.problem ? `${g.problem}; ${msg}` : msg;
    };
    try {
      const r = await scalePool(ctx, await findPool(ctx, name), { force: o.force, offline: o.offline, runner: o.runner, self: ctx.self });
      if (r.problems.length) note(`pool ${name}: ${r.problems.join('; ')}`);
    } catch (e) {
      if (!(e instanceof QdoError)) throw e;
      note(`pool ${name}: ${e.message}`);
    }
  }
}
