// Runs whose worker died go back to the queue (spec/pools.md §Liveness, §Recovery), and
// queued runs no worker should start are settled (cancelled, out of attempts, a dependency
// failed). Any process may do this at any time — workers do it for their peers, every
// refresh and `qdo pool scale` do it — because every step is one rename that only one
// process can win.
import type { Context } from '../../context.js';
import type { PoolDefinition } from '../../model/pool.js';
import { workerLiveness } from '../../model/pool-scale.js';
import { join } from 'node:path';
import {
  clearCancel,
  dropTicket,
  hasExited,
  listClaimed,
  listCancels,
  listHeld,
  listQueued,
  listWorkerIds,
  moveTicket,
  readHeartbeat,
  readRunEnd,
  readTicket,
  readWorker,
  removeWorker,
  requeueTicket,
  writeNote,
  type PoolFs,
  type PoolPaths,
  type TicketFile,
} from '../../store/pool.js';
import { processCommandLine, processIdentity, signalGroup } from '../../scheduler/pool-exec.js';
import { statOrNull } from '../../util/fs.js';
import { finishRun, verdict, withAgent, type TicketCache } from './tickets.js';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface RecoverReport {
  /** Workers found dead, with why. */
  dead: { worker: string; why: string }[];
  /** Tickets given back to the queue. */
  requeued: string[];
  /** Tickets settled without running (cancelled, lost, dependency failed). */
  settled: string[];
}

export interface RecoverOptions {
  /** What qdo last learned of each pilot job (pilot key → state), from the scale pass. */
  pilotStates?: Map<string, string>;
  /** The worker doing this, which must not judge itself. */
  self?: string;
  fs?: PoolFs;
}

/** The wrapper pid of a run that may still be alive on this host, if its script is what it runs. */
async function liveRunPid(script: string): Promise<number | null> {
  try {
    const start = JSON.parse(await readFile(join(dirname(script), 'qdo-start.json'), 'utf8')) as { pid?: unknown };
    const pid = typeof start.pid === 'number' ? start.pid : NaN;
    if (!(pid > 1) || processIdentity(pid) === null) return null;
    return processCommandLine(pid)?.includes(script) ? pid : null;
  } catch {
    return null;
  }
}

/** Requeues the tickets of dead workers and removes their folders. */
export async function recoverWorkers(ctx: Context, p: PoolPaths, def: PoolDefinition, o: RecoverOptions = {}): Promise<RecoverReport> {
  const report: RecoverReport = { dead: [], requeued: [], settled: [] };
  const nowMs = ctx.now().getTime();
  const here = { host: ctx.host, identity: processIdentity };
  for (const id of await listWorkerIds(p)) {
    if (id === o.self) continue;
    const w = await readWorker(p, id).catch(() => null);
    if (!w) {
      // A folder without worker.json is being registered, or its registration died: wait a lease.
      const st = await statOrNull(p.worker(id));
      if (st && nowMs - st.mtimeMs > def.lease * 1000 && (await listClaimed(p, id)).length === 0) await removeWorker(p, id);
      continue;
    }
    const live = workerLiveness({
      worker: w,
      heartbeat: await readHeartbeat(p, id),
      nowMs,
      lease: def.lease,
      here,
      pilotState: w.pilot ? o.pilotStates?.get(w.pilot.key) : undefined,
      exited: await hasExited(p, id),
    });
    if (!live.dead) continue;
    report.dead.push({ worker: id, why: live.why });
    let left = 0;
    for (const t of await listClaimed(p, id)) {
      const ticket = await readTicket(t.path).catch(() => null);
      if (ticket && w.host === ctx.host) {
        // Belt and braces: the worker's reaper should have stopped the run; if it did not
        // (both were killed at once), stop it now and queue it again on the next pass.
        const pid = await liveRunPid(ticket.script);
        if (pid !== null) {
          signalGroup(pid, 'SIGKILL');
          left++;
          continue;
        }
      }
      if (await readRunEnd(p, t.key)) {
        await dropTicket(t); // ended; its worker died before letting go
        continue;
      }
      const moved = w.kind === 'agent' ? await moveTicket(t.path, join(p.queue, t.name), o.fs) : await requeueTicket(p, t, o.fs);
      if (moved) {
        report.requeued.push(t.key);
        if (w.kind !== 'agent') await writeNote(p, t.key, `${live.why} at ${ctx.now().toISOString()}`);
      }
    }
    if (left === 0) await removeWorker(p, id);
  }
  return report;
}

/**
 * Settles queued or held runs no worker should start: a cancel mark, more attempts than
 * max_requeue allows, a dependency that ended badly. Runs as an agent, so two processes
 * settling the same ticket cannot both record it.
 */
export async function settleQueued(ctx: Context, p: PoolPaths, def: PoolDefinition, cache: TicketCache, o: { fs?: PoolFs } = {}): Promise<string[]> {
  const marks = new Set(await listCancels(p));
  const candidates: TicketFile[] = [];
  for (const t of [...(await listQueued(p)), ...(await listHeld(p))]) {
    if (marks.has(t.key) || t.attempt > def.max_requeue + 1) candidates.push(t);
    else if ((await cache.get(t))?.after.length) candidates.push(t);
  }
  const settled: string[] = [];
  const todo: TicketFile[] = [];
  for (const t of candidates) {
    const ticket = await cache.get(t);
    if (!ticket) continue;
    const v = await verdict(p, t, ticket, def.max_requeue);
    if (v === 'ended' || v.kind === 'end') todo.push(t);
  }
  // Marks of runs that ended anyway (e.g. they finished just before the cancel).
  for (const k of marks) if (await readRunEnd(p, k)) await clearCancel(p, k);
  if (todo.length === 0) return settled;
  await withAgent(
    ctx,
    p,
    async (take) => {
      for (const t of todo) {
        const mine = await take(t);
        if (!mine) continue;
        const ticket = await readTicket(mine.path);
        const v = ticket ? await verdict(p, mine, ticket, def.max_requeue) : 'ended';
        if (v === 'ended') await dropTicket(mine);
        else if (v.kind === 'end') await finishRun(ctx, p, mine, ticket, v.end);
        else continue; // no longer to settle: withAgent puts it back
        settled.push(t.key);
      }
    },
    o.fs,
  );
  return settled;
}
