// What may happen to a ticket before it runs, and how a run's end is recorded
// (spec/pools.md §Claim protocol, §States). Shared by workers (at claim time) and by the
// qdo commands that settle tickets no worker should run (cancelled, out of attempts, their
// dependency failed) as short-lived "agents".
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Context } from '../../context.js';
import { DONE_SCHEMA, WORKER_SCHEMA, newWorkerId, type RunEnd, type Ticket } from '../../model/pool-run.js';
import {
  claimTicket,
  clearCancel,
  dropTicket,
  hasCancel,
  listClaimed,
  moveTicket,
  readNote,
  readRunEnd,
  readTicket,
  registerWorker,
  removeWorker,
  writeRunEnd,
  type PoolFs,
  type PoolPaths,
  type TicketFile,
} from '../../store/pool.js';
import { processIdentity } from '../../scheduler/pool-exec.js';
import { ownerOf } from '../../store/trust.js';
import { readEndRecord, stateFromEndRecord } from '../refresh.js';

/** Tickets never change under one name, so each is read once per process. */
export class TicketCache {
  private readonly m = new Map<string, Ticket>();
  private readonly owners = new Map<string, boolean>();
  /**
   * Whether the ticket was queued by this user: the ticket file and the script it names are
   * owned by `uid` or root (spec/pools.md §Trust). A worker runs nothing else, so in an
   * allocation shared with a group no member can make another member's worker run a script.
   */
  async queuedBy(t: TicketFile, ticket: Ticket, uid: number): Promise<boolean> {
    let ok = this.owners.get(t.key);
    if (ok === undefined) {
      const ours = (o: number | null) => o === uid || o === 0;
      ok = ours(await ownerOf(t.path)) && ours(await ownerOf(ticket.script));
      this.owners.set(t.key, ok);
    }
    return ok;
  }
  async get(t: TicketFile): Promise<Ticket | null> {
    const hit = this.m.get(t.key);
    if (hit) return hit;
    const v = await readTicket(t.path);
    if (v) this.m.set(t.key, v);
    return v;
  }
  /** Forgets tickets no longer in sight (keeps memory flat in a long-running worker). */
  keepOnly(keys: Set<string>): void {
    for (const k of this.m.keys()) if (!keys.has(k)) this.m.delete(k);
    for (const k of this.owners.keys()) if (!keys.has(k)) this.owners.delete(k);
  }
}

export type Verdict = { kind: 'run' } | { kind: 'wait'; why: string } | { kind: 'end'; end: Omit<RunEnd, 'schema' | 'key' | 'tag' | 'attempt' | 'ended'> };

/**
 * Whether a ticket may run now, must wait (a dependency has not ended), or ends without
 * running: cancelled, out of attempts, a dependency that can no longer complete, or a run
 * that finished before its worker was lost (its end record says so: it does not run twice).
 */
export async function verdict(p: PoolPaths, t: TicketFile, ticket: Ticket, maxRequeue: number): Promise<Verdict | 'ended'> {
  if (await readRunEnd(p, t.key)) return 'ended';
  const none = { exit_code: null, worker: null, host: null, pilot: null, started: null } as const;
  if (await hasCancel(p, t.key)) return { kind: 'end', end: { ...none, state: 'CANCELLED', reason: 'cancelled while queued' } };
  if (t.attempt > maxRequeue + 1) {
    const note = await readNote(p, t.key);
    return { kind: 'end', end: { ...none, state: 'LOST', reason: `its worker was lost ${t.attempt - 1} time(s)${note ? ` (last: ${note})` : ''}; not queued again (max_requeue ${maxRequeue})` } };
  }
  if (t.attempt > 1) {
    // The previous attempt's end record: a run that exited 0 completed, even if a stop signal
    // reached it on its way out; one that ended by itself otherwise failed. Only a run a
    // signal ended (or none at all) is run again.
    const rec = await readEndRecord(dirname(ticket.script));
    const s = rec && (rec.exit_code === 0 ? { state: 'completed' as const, exitCode: 0 } : stateFromEndRecord(rec));
    if (s) return { kind: 'end', end: { ...none, state: s.state === 'completed' ? 'COMPLETED' : 'FAILED', exit_code: s.exitCode, reason: 'it had finished when its worker was lost' } };
  }
  for (const dep of ticket.after) {
    const d = await readRunEnd(p, dep);
    if (!d) return { kind: 'wait', why: `waits for ${dep}` };
    if (d.state !== 'COMPLETED') return { kind: 'end', end: { ...none, state: 'CANCELLED', reason: `DependencyNeverSatisfied: run ${dep} ended ${d.state.toLowerCase()}` } };
  }
  return { kind: 'run' };
}

/** Records a run's end, then lets go of its ticket and any cancel mark (in that order). */
export async function finishRun(ctx: Context, p: PoolPaths, t: TicketFile, ticket: Ticket | null, end: Omit<RunEnd, 'schema' | 'key' | 'tag' | 'attempt' | 'ended'>): Promise<void> {
  await writeRunEnd(p, { schema: DONE_SCHEMA, key: t.key, tag: ticket?.tag ?? null, attempt: t.attempt, ended: ctx.now().toISOString(), ...end });
  await dropTicket(t);
  await clearCancel(p, t.key);
}

/**
 * Runs `fn` as an agent: a worker folder of this process (kind agent) into which it takes
 * tickets by the same rename as a worker claims them. A ticket still there when fn ends
 * (it failed half-way) goes back to the queue; if this process dies instead, recovery
 * finds its folder like any dead worker's.
 */
export async function withAgent<T>(ctx: Context, p: PoolPaths, fn: (take: (t: TicketFile) => Promise<TicketFile | null>) => Promise<T>, fs?: PoolFs): Promise<T> {
  const id = newWorkerId(ctx.host, ctx.self.pid, randomBytes(2).toString('hex'));
  const now = ctx.now().toISOString();
  await registerWorker(
    p,
    { schema: WORKER_SCHEMA, id, kind: 'agent', pool: p.name, host: ctx.host, pid: ctx.self.pid, identity: processIdentity(ctx.self.pid), started: now, slots: 0, capabilities: [], mem: null, gpus: 0, pilot: null, ends_at: null },
    { time: now, seq: 0, mode: 'stopping', used: 0, running: [], ended: 0, ended_5m: 0, idle_since: null },
  );
  const take = async (t: TicketFile): Promise<TicketFile | null> => ((await claimTicket(p, t, id, fs)) ? { ...t, path: join(p.workerRuns(id), t.name) } : null);
  try {
    return await fn(take);
  } finally {
    for (const t of await listClaimed(p, id)) await moveTicket(t.path, join(p.queue, t.name), fs);
    await removeWorker(p, id);
  }
}
