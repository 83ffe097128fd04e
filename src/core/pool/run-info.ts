// Which worker and host run (or ran) a run of a pool, for `qdo show` (spec/pools.md §States).
import type { Context } from '../../context.js';
import type { Submission } from '../../model/submission.js';
import { poolNameOf } from '../../model/pool.js';
import { isRunKey } from '../../model/pool-run.js';
import { readRunEnd, readWorker, snapshot } from '../../store/pool.js';
import { findPool } from './find.js';

export interface PoolRunInfo {
  pool: string;
  key: string;
  /** Where its ticket is now. */
  where: 'queued' | 'held' | 'running' | 'ended' | 'unknown';
  attempt: number | null;
  worker: string | null;
  host: string | null;
  /** The pilot job's scheduler id, when the worker is a pilot. */
  pilot: string | null;
}

export async function poolRunInfo(ctx: Context, sub: Submission | null): Promise<PoolRunInfo | null> {
  const name = sub ? poolNameOf(sub.scheduler) : null;
  if (!sub || name === null || sub.sched_id === null || !isRunKey(sub.sched_id)) return null;
  const key = sub.sched_id;
  const out: PoolRunInfo = { pool: name, key, where: 'unknown', attempt: null, worker: null, host: null, pilot: null };
  let ref;
  try {
    ref = await findPool(ctx, name);
  } catch {
    return out; // the pool is gone: nothing more to tell
  }
  const end = await readRunEnd(ref.paths, key);
  if (end) return { ...out, where: 'ended', attempt: end.attempt, worker: end.worker, host: end.host, pilot: end.pilot };
  const s = await snapshot(ref.paths);
  const q = s.queued.get(key) ?? s.held.get(key);
  if (q) return { ...out, where: s.queued.has(key) ? 'queued' : 'held', attempt: q.attempt };
  const c = s.claimed.get(key);
  if (c) {
    const w = await readWorker(ref.paths, c.worker).catch(() => null);
    return { ...out, where: 'running', attempt: c.attempt, worker: c.worker, host: w?.host ?? null, pilot: w?.pilot?.sched_id ?? null };
  }
  return out;
}
