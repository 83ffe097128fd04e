// Where a pool is (spec/pools.md §Files): pool names are unique across the registered
// allocations, as project names are, so `pool:gpu` names one pool wherever qdo runs; its
// folder is `.qdo/pools/gpu` of the allocation that holds it.
import type { Context } from '../../context.js';
import { NotFoundError } from '../../errors.js';
import { checkPoolName, type PoolDefinition } from '../../model/pool.js';
import { openAllocation, type Layout } from '../../store/layout.js';
import { resolve } from 'node:path';
import { listPoolNames, poolPaths, readPoolDef, type PoolPaths } from '../../store/pool.js';
import { didYouMean } from '../../util/closest.js';
import { allAllocations, type Allocation } from '../world.js';

export interface PoolRef {
  layout: Layout;
  paths: PoolPaths;
  def: PoolDefinition;
}

/** Every pool of every reachable allocation, home first. */
export async function allPools(ctx: Context, allocs?: Allocation[]): Promise<PoolRef[]> {
  const out: PoolRef[] = [];
  const seen = new Set<string>();
  for (const a of allocs ?? (await allAllocations(ctx))) {
    if (!a.layout) continue;
    for (const name of await listPoolNames(a.layout)) {
      if (seen.has(name)) continue;
      const paths = poolPaths(a.layout, name);
      const def = await readPoolDef(paths);
      if (!def) continue;
      seen.add(name);
      out.push({ layout: a.layout, paths, def });
    }
  }
  return out;
}

/** The pool of this name, or NotFoundError `unknown-pool` with the names there are. */
export async function findPool(ctx: Context, name: string, allocs?: Allocation[], allocOpt?: string): Promise<PoolRef> {
  checkPoolName(name);
  if (allocOpt !== undefined) {
    // One allocation only: how a pilot finds its pool whatever the home it runs with.
    const l = await openAllocation(resolve(ctx.cwd, allocOpt));
    const paths = poolPaths(l, name);
    const def = await readPoolDef(paths);
    if (!def) throw new NotFoundError('unknown-pool', `no pool "${name}" in allocation ${l.root}`);
    return { layout: l, paths, def };
  }
  const list = allocs ?? (await allAllocations(ctx));
  for (const a of list) {
    if (!a.layout) continue;
    const paths = poolPaths(a.layout, name);
    const def = await readPoolDef(paths);
    if (def) return { layout: a.layout, paths, def };
  }
  const names = (await allPools(ctx, list)).map((p) => p.def.name);
  throw new NotFoundError('unknown-pool', `no pool "${name}" in any allocation`, {
    hint: didYouMean(name, names) ?? (names.length ? `pools: ${names.join(', ')}` : `define one with: qdo pool add ${name} [--scheduler slurm --nodes 0..4 --slots 4]`),
  });
}

/** The backend of scheduler kind `pool:<name>` (scheduler-choice.ts backendFor). */
export async function poolBackend(ctx: Context, kind: string): Promise<import('../../scheduler/types.js').Backend> {
  const { poolNameOf } = await import('../../model/pool.js');
  const { PoolBackend } = await import('./backend.js');
  const ref = await findPool(ctx, poolNameOf(kind) ?? '');
  return new PoolBackend(ctx, ref.paths, ref.def);
}
