// What a pool's pilots offer, and whether a run could ever run on one (spec/pools.md
// §Resources). Pure.
import type { PoolDefinition } from './pool.js';
import { couldRun, gpusOf, type Capacity, type Ticket } from './pool-run.js';
import { formatMemory, formatSlurmTime } from './resource-units.js';
import type { Resources } from './resources.js';

/** Resources a run may carry that mean nothing inside a pool (listed on a comment line). */
export const UNUSED_IN_POOL = ['partition', 'account', 'qos', 'job_name', 'stdout', 'stderr', 'mail', 'extra'] as const satisfies readonly (keyof Resources)[];

/** What one pilot's worker offers. */
export function pilotCapacity(def: PoolDefinition): Capacity {
  return { slots: def.slots, capabilities: def.capabilities, mem: def.resources.mem ?? null, gpus: gpusOf(def.resources.gpus, def.capabilities) };
}

/**
 * Why no pilot of this pool could ever run the job (null if one could). A pool without a
 * scheduler has no pilots: its workers come and go, so nothing is refused.
 */
export function couldRunInPool(t: Pick<Ticket, 'slots' | 'needs' | 'mem' | 'gpus' | 'time'>, def: PoolDefinition): string | null {
  if (def.scheduler === null) return null;
  const c = pilotCapacity(def);
  if (couldRun(t, c) && (t.time === null || def.resources.time === undefined || t.time <= def.resources.time)) return null;
  const why: string[] = [];
  if (t.slots > c.slots) why.push(`it needs ${t.slots} slot(s) (cpus x tasks), a pilot has ${c.slots}`);
  const missing = t.needs.filter((w) => !c.capabilities.includes(w));
  if (missing.length) why.push(`it needs ${missing.join(', ')}, the pilots offer ${c.capabilities.length ? c.capabilities.join(', ') : 'no capabilities'}`);
  if (t.gpus > 0 && c.gpus !== null && t.gpus > c.gpus) why.push(`it needs ${t.gpus} GPU(s), a pilot has ${c.gpus}`);
  if (t.mem !== null && c.mem !== null && t.mem > c.mem) why.push(`it needs ${formatMemory(t.mem)} of memory, a pilot has ${formatMemory(c.mem)}`);
  if (t.time !== null && def.resources.time !== undefined && t.time > def.resources.time) {
    why.push(`its time limit ${formatSlurmTime(t.time)} is longer than a pilot's ${formatSlurmTime(def.resources.time)}`);
  }
  return why.join('; ');
}
