// `qdo pool worker` (spec/pools.md §Workers): a long-running process that claims runs from
// its pool's queue and runs each through the job wrapper, in its own process group. On a
// scheduler it is the body of a pilot job; on a workstation a person starts it. It
//  - claims first come, first served, what fits its free slots, capabilities, memory, GPUs
//    and (in a pilot) the time it has left;
//  - writes a heartbeat every few seconds; stops its runs itself if it cannot (self-fence);
//  - obeys control.json (pause: SIGSTOP/SIGCONT of each run's group; drain) and cancel marks;
//  - enforces each run's time limit; records each end in done/;
//  - gives back the runs a stop interrupted (SIGTERM: scancel, a time limit, ^C) as their
//    next attempt, and queues again the runs of peers it finds dead;
//  - exits when idle for the pool's idle time (pilots), drained, or out of time.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Context } from '../../context.js';
import { isPaused, type PoolControl } from '../../model/pool.js';
import {
  UNDECLARED_RESERVE_SEC,
  WORKER_SCHEMA,
  couldRun,
  fitsNow,
  hasTimeFor,
  newWorkerId,
  type Capacity,
  type Heartbeat,
  type Ticket,
  type Usage,
  type WorkerInfo,
  type WorkerMode,
} from '../../model/pool-run.js';
import {
  claimTicket,
  dropTicket,
  listCancels,
  listClaimed,
  listQueued,
  listWorkerIds,
  markExited,
  moveTicket,
  readControl,
  readHeartbeat,
  readPoolDef,
  readWorker,
  registerWorker,
  removeWorker,
  requeueTicket,
  writeHeartbeat,
  writeNote,
  type PoolFs,
  type TicketFile,
} from '../../store/pool.js';
import { Reaper, processIdentity, signalGroup, startRun, type RunExit, type RunProcess } from '../../scheduler/pool-exec.js';
import type { PoolRef } from './find.js';
import { exists } from '../../util/fs.js';
import { recoverWorkers } from './recover.js';
import { TicketCache, finishRun, verdict } from './tickets.js';

/** Points where a test can make the worker die (SIGKILL) to prove nothing is lost or doubled. */
export type CrashPoint = 'after-claim' | 'before-start' | 'after-start' | 'before-end';

/**
 * How long the end of a run killed by a stop signal the worker did not send (TERM, INT, HUP,
 * KILL: 128+n or the signal itself) waits for the worker's own stop before it counts as failed.
 */
const STOP_SETTLE_MS = 5000;
const STOP_SIGNALS = new Set<string>(['SIGHUP', 'SIGINT', 'SIGKILL', 'SIGTERM']);
const STOP_CODES = new Set<number>([129, 130, 137, 143]);

function endedByStopSignal(e: RunExit): boolean {
  return e.signal !== null ? STOP_SIGNALS.has(e.signal) : e.code !== null && STOP_CODES.has(e.code);
}

/** Resolves when `signal` aborts or after `ms`, whichever comes first. */
function stopOrTimeout(signal: AbortSignal, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** How often a worker checks that the tickets it runs are still its own (fencing). */
const OWN_CHECK_MS = 2000;

export interface WorkerOptions {
  pool: PoolRef;
  slots: number;
  capabilities: string[];
  mem: number | null;
  gpus: number | null;
  /** Exit after this many seconds without a run (null: never, a workstation worker). */
  idleSec: number | null;
  /** The pilot job this worker is the body of. */
  pilot: { key: string; schedId: string | null } | null;
  /** Seconds its pilot job has left at start (null: no limit). */
  timeLeftSec: number | null;
  /** The environment runs start with. */
  env: Record<string, string | undefined>;
  /** A stop request (SIGTERM, SIGINT): runs are interrupted and queued again. */
  signal: AbortSignal;
  pollMs?: number;
  heartbeatSec?: number;
  /** Seconds between TERM and KILL (cancel, time limit, stop). */
  graceSec?: number;
  /** How long a run ended by a stop signal from outside waits for the worker's own stop (ms). */
  stopSettleMs?: number;
  log?: (line: string) => void;
  crash?: (point: CrashPoint) => void;
  fs?: PoolFs;
  /** Where the wrapper's few early lines go (before a run's logs are open). */
  runOutput?: 'inherit' | 'ignore';
}

export interface WorkerSummary {
  id: string;
  started: number;
  ended: number;
  requeued: number;
  why: string;
}

interface Running {
  t: TicketFile;
  ticket: Ticket;
  proc: RunProcess;
  started: string;
  /** When its time limit fires (ms), moved on while paused. */
  deadline: number | null;
  pausedAt: number | null;
  cancelled: boolean;
  timedOut: boolean;
  /** Stopped because the worker stops: queued again unless it completed. */
  interrupted: boolean;
  /** Its ticket was taken from this worker (presumed dead): nothing may be recorded. */
  fenced: boolean;
  killTimer: NodeJS.Timeout | null;
}

class Wake {
  private kicked = false;
  private resolve: (() => void) | null = null;
  kick(): void {
    this.kicked = true;
    this.resolve?.();
  }
  sleep(ms: number): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise((r) => {
      const h = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(h);
        self.resolve = null;
        self.kicked = false;
        r();
      }
      this.resolve = done;
    });
  }
}

export async function runWorker(ctx: Context, o: WorkerOptions): Promise<WorkerSummary> {
  const { paths: p, def } = o.pool;
  const log = o.log ?? (() => undefined);
  const pollMs = o.pollMs ?? 500;
  const hbMs = (o.heartbeatSec ?? 5) * 1000;
  const graceMs = (o.graceSec ?? 10) * 1000;
  const stopSettleMs = o.stopSettleMs ?? STOP_SETTLE_MS;
  const leaseMs = def.lease * 1000;
  const t0 = ctx.now().getTime();
  const endsAt = o.timeLeftSec === null ? null : t0 + o.timeLeftSec * 1000;
  const id = newWorkerId(ctx.host, ctx.self.pid, randomBytes(2).toString('hex'));
  const cap: Capacity = { slots: o.slots, capabilities: o.capabilities, mem: o.mem, gpus: o.gpus };
  const info: WorkerInfo = {
    schema: WORKER_SCHEMA,
    id,
    kind: 'worker',
    pool: def.name,
    host: ctx.host,
    pid: ctx.self.pid,
    identity: processIdentity(ctx.self.pid),
    started: new Date(t0).toISOString(),
    slots: o.slots,
    capabilities: o.capabilities,
    mem: o.mem,
    gpus: o.gpus,
    pilot: o.pilot ? { key: o.pilot.key, sched_id: o.pilot.schedId } : null,
    ends_at: endsAt === null ? null : new Date(endsAt).toISOString(),
  };
  const running = new Map<string, Running>();
  const used: Usage = { slots: 0, mem: 0, gpus: 0 };
  const exits: { r: Running; e: RunExit }[] = [];
  const cache = new TicketCache();
  const foreign = new Set<string>();
  const wake = new Wake();
  const reaper = new Reaper(Math.ceil(graceMs / 1000));
  let mode: WorkerMode = 'claiming';
  let stopWhy = '';
  let seq = 0;
  let ended = 0;
  let started = 0;
  let requeued = 0;
  let reported = 0;
  const recent: number[] = [];
  let idleSince: number | null = t0;
  let lastHb = 0;
  let lastHbOk = t0;
  let lastOwnCheck = t0;
  let lastRecover = 0;
  const now = () => ctx.now().getTime();
  // A function, not `mode === …` inline: callbacks change mode between awaits.
  const stopping = (): boolean => mode === 'stopping';
  const iso = (ms: number) => new Date(ms).toISOString();

  const heartbeat = async (): Promise<void> => {
    const n = now();
    while (recent.length && recent[0]! < n - 300_000) recent.shift();
    const hb: Heartbeat = { time: iso(n), seq: seq++, mode, used: used.slots, running: [...running.keys()], ended, ended_5m: recent.length, idle_since: idleSince === null ? null : iso(idleSince) };
    lastHb = n;
    try {
      await writeHeartbeat(p, id, hb);
      lastHbOk = n;
    } catch (e) {
      log(`heartbeat failed: ${(e as Error).message}`);
    }
  };

  const stopRun = (r: Running, why: string): void => {
    if (r.killTimer) return;
    log(`stopping ${r.t.key} (${why})`);
    signalGroup(r.proc.pid, 'SIGTERM');
    signalGroup(r.proc.pid, 'SIGCONT'); // a paused run must run to handle its TERM
    r.killTimer = setTimeout(() => signalGroup(r.proc.pid, 'SIGKILL'), graceMs);
  };

  const beginStop = (why: string, interrupt: boolean): void => {
    if (mode === 'stopping') return;
    mode = 'stopping';
    stopWhy = why;
    log(`stopping: ${why}`);
    if (interrupt) {
      for (const r of running.values()) {
        r.interrupted = true;
        stopRun(r, why);
      }
    }
    wake.kick();
  };
  const onAbort = () => beginStop(`worker ${id} on ${ctx.host} was told to stop`, true);
  if (o.signal.aborted) onAbort();
  o.signal.addEventListener('abort', onAbort);

  const start = async (t: TicketFile, ticket: Ticket): Promise<void> => {
    o.crash?.('before-start');
    const proc = startRun({
      script: ticket.script,
      cwd: ticket.cwd,
      env: { ...o.env, QDO_POOL: def.name, QDO_POOL_RUN: t.key, QDO_POOL_WORKER: id, QDO_POOL_ATTEMPT: String(t.attempt) },
      stderr: o.runOutput,
    });
    if (proc.pid > 0) reaper.add(proc.pid);
    const r: Running = {
      t,
      ticket,
      proc,
      started: iso(now()),
      deadline: ticket.time === null ? null : now() + ticket.time * 1000,
      pausedAt: null,
      cancelled: false,
      timedOut: false,
      interrupted: false,
      fenced: false,
      killTimer: null,
    };
    running.set(t.key, r);
    used.slots += ticket.slots;
    used.mem += ticket.mem ?? 0;
    used.gpus += ticket.gpus;
    started++;
    idleSince = null;
    log(`started ${t.key} ${ticket.name}${t.attempt > 1 ? ` (attempt ${t.attempt})` : ''} as pid ${proc.pid}`);
    o.crash?.('after-start');
    void proc.exited.then(async (e) => {
      // A stop signal from outside (scancel signals every process of the pilot, one by
      // one) can end the run before the worker's own TERM arrives: such an end waits a
      // moment for the worker's stop, so the run is given back, not recorded as failed.
      if (!r.interrupted && !r.killTimer && endedByStopSignal(e)) await stopOrTimeout(o.signal, stopSettleMs);
      exits.push({ r, e });
      wake.kick();
    });
  };

  const finish = async (r: Running, e: RunExit): Promise<void> => {
    if (r.killTimer) clearTimeout(r.killTimer);
    if (r.proc.pid > 0) reaper.remove(r.proc.pid);
    running.delete(r.t.key);
    used.slots -= r.ticket.slots;
    used.mem -= r.ticket.mem ?? 0;
    used.gpus -= r.ticket.gpus;
    const n = now();
    if (running.size === 0) idleSince = n;
    // Still ours? Recovery may have taken the ticket from a worker it presumed dead.
    if (!(await exists(r.t.path))) {
      log(`${r.t.key}: its ticket was taken from this worker; nothing recorded`);
      return;
    }
    if (r.fenced) {
      // Stopped by self-fencing and still ours: given back as its next attempt.
      if (await requeueTicket(p, r.t, o.fs).catch(() => false)) {
        requeued++;
        await writeNote(p, r.t.key, `${stopWhy} at ${iso(n)}`).catch(() => undefined);
      }
      log(`${r.t.key}: stopped (${stopWhy}), queued again`);
      return;
    }
    const completed = e.code === 0 && e.signal === null;
    if (r.interrupted && !r.cancelled && !completed) {
      if (await requeueTicket(p, r.t, o.fs)) {
        requeued++;
        await writeNote(p, r.t.key, `${stopWhy} at ${iso(n)}`);
      }
      log(`${r.t.key}: interrupted, queued again`);
      return;
    }
    o.crash?.('before-end');
    const state = r.cancelled ? 'CANCELLED' : r.timedOut ? 'TIMEOUT' : completed ? 'COMPLETED' : 'FAILED';
    const reason = e.error
      ? `the worker could not start it: ${e.error}`
      : r.cancelled
        ? 'cancelled with qdo cancel'
        : r.timedOut
          ? `reached its time limit of ${r.ticket.time} s`
          : e.signal
            ? `killed by ${e.signal}`
            : null;
    await finishRun(ctx, p, r.t, r.ticket, { state, exit_code: e.code, reason, worker: id, host: ctx.host, pilot: o.pilot?.schedId ?? null, started: r.started });
    ended++;
    recent.push(n);
    log(`ended ${r.t.key} ${state.toLowerCase()}${e.code !== null ? ` (exit ${e.code})` : ''}`);
  };

  /** Claims what fits, oldest first; returns true if time (not slots) kept it from a run it could do. */
  const claim = async (): Promise<boolean> => {
    let shortOfTime = false;
    if (used.slots >= cap.slots) return false;
    const files = await listQueued(p);
    cache.keepOnly(new Set([...files.map((f) => f.key), ...running.keys()]));
    const left = endsAt === null ? null : (endsAt - now()) / 1000;
    for (const f of files) {
      if ((mode !== 'claiming' && mode !== 'expiring') || used.slots >= cap.slots) break;
      if (running.has(f.key)) continue;
      const ticket = await cache.get(f).catch(() => null);
      if (!ticket || !couldRun(ticket, cap)) continue;
      if (!(await cache.queuedBy(f, ticket, ctx.user.uid))) {
        if (!foreign.has(f.key)) log(`not taking ${f.key}: queued by another user (spec/pools.md §Trust)`);
        foreign.add(f.key);
        continue;
      }
      if (!hasTimeFor(ticket, left)) {
        shortOfTime = true;
        continue;
      }
      // First come, first served: a run this worker could do but has no room for now
      // keeps later ones from overtaking it here.
      if (!fitsNow(ticket, cap, used)) break;
      if (ticket.after.length) {
        const v = await verdict(p, f, ticket, def.max_requeue);
        if (v !== 'ended' && v.kind === 'wait') continue;
      }
      if (!(await claimTicket(p, f, id, o.fs))) continue;
      const mine: TicketFile = { ...f, path: join(p.workerRuns(id), f.name) };
      o.crash?.('after-claim');
      const v = await verdict(p, mine, ticket, def.max_requeue);
      if (v === 'ended') {
        await dropTicket(mine);
        continue;
      }
      if (v.kind === 'end') {
        await finishRun(ctx, p, mine, ticket, { ...v.end, worker: id, host: ctx.host, pilot: o.pilot?.schedId ?? null });
        log(`settled ${f.key}: ${v.end.reason}`);
        continue;
      }
      if (v.kind === 'wait') {
        await moveTicket(mine.path, join(p.queue, f.name), o.fs);
        continue;
      }
      await start(mine, ticket);
    }
    return shortOfTime;
  };

  /** Other live pilots of this pool besides this one (an idle pilot keeps the pool's minimum). */
  const livePilots = async (): Promise<number> => {
    let n = 0;
    for (const w of await listWorkerIds(p)) {
      if (w === id) continue;
      const wi = await readWorker(p, w).catch(() => null);
      const hb = await readHeartbeat(p, w);
      if (wi?.kind === 'worker' && wi.pilot && hb && hb.mode !== 'stopping' && now() - Date.parse(hb.time) < leaseMs) n++;
    }
    return n;
  };

  await registerWorker(p, info, { time: iso(t0), seq: seq++, mode, used: 0, running: [], ended: 0, ended_5m: 0, idle_since: iso(t0) });
  lastHb = t0;
  log(`worker ${id} of pool ${def.name}: ${cap.slots} slot(s)${cap.capabilities.length ? `, offers ${cap.capabilities.join(',')}` : ''}${o.pilot ? `, pilot ${o.pilot.schedId ?? o.pilot.key}` : ''}`);
  const watchers: FSWatcher[] = [];
  for (const dir of [p.queue, p.cancel]) {
    try {
      const w = watch(dir, () => wake.kick());
      w.on('error', () => undefined);
      watchers.push(w);
    } catch {
      // no inotify (or NFS): polling alone
    }
  }
  let control: PoolControl | null = null;
  // Self-fencing on a timer of its own, not in the loop: a file system that hangs (an NFS
  // server gone, a hard mount) blocks the loop's writes, but not this check or the signals.
  const fence = setInterval(() => {
    const n = now();
    if (n - lastHbOk > leaseMs / 2 && !stopping()) {
      // Others will soon presume this worker dead and run its runs again: stop them first.
      for (const r of running.values()) r.fenced = true;
      beginStop(`worker ${id} could not write its heartbeat for ${Math.round((n - lastHbOk) / 1000)} s`, true);
    }
  }, 1000);
  fence.unref();
  try {
    for (;;) {
      while (exits.length) {
        const x = exits.shift()!;
        await finish(x.r, x.e);
      }
      const n = now();
      try {
        control = await readControl(p);
      } catch (e) {
        log(`cannot read control.json: ${(e as Error).message}`);
      }
      const paused = control !== null && isPaused(control, ctx.host, id);
      const draining = control !== null && control.drain.includes(id);
      for (const r of running.values()) {
        if (paused && r.pausedAt === null && !r.killTimer) {
          signalGroup(r.proc.pid, 'SIGSTOP');
          r.pausedAt = n;
          log(`paused ${r.t.key}`);
        } else if (!paused && r.pausedAt !== null) {
          signalGroup(r.proc.pid, 'SIGCONT');
          if (r.deadline !== null) r.deadline += n - r.pausedAt;
          r.pausedAt = null;
          log(`resumed ${r.t.key}`);
        }
        if (r.deadline !== null && r.pausedAt === null && n >= r.deadline && !r.timedOut && !r.killTimer) {
          r.timedOut = true;
          stopRun(r, `time limit of ${r.ticket.time} s`);
        }
      }
      if (running.size > 0) {
        for (const key of await listCancels(p)) {
          const r = running.get(key);
          if (r && !r.cancelled) {
            r.cancelled = true;
            stopRun(r, 'cancelled');
          }
        }
      }
      if (n - lastOwnCheck >= OWN_CHECK_MS) {
        lastOwnCheck = n;
        const mine = new Set((await listClaimed(p, id)).map((t) => t.key));
        for (const r of running.values()) {
          if (!mine.has(r.t.key) && !r.fenced) {
            r.fenced = true;
            stopRun(r, 'its ticket was taken from this worker');
          }
        }
      }
      if (!stopping()) {
        const timeLeft = endsAt === null ? null : (endsAt - n) / 1000;
        mode = paused ? 'paused' : draining ? 'draining' : timeLeft !== null && timeLeft < UNDECLARED_RESERVE_SEC ? 'expiring' : 'claiming';
        const shortOfTime = mode === 'claiming' || mode === 'expiring' ? await claimWhenAllowed() : false;
        if (running.size === 0) {
          if (draining) beginStop('drained', false);
          else if (shortOfTime || (timeLeft !== null && timeLeft <= 0)) beginStop('its pilot job has too little time left for the queued runs', false);
          else if (o.idleSec !== null && idleSince !== null && !paused && n - idleSince >= o.idleSec * 1000) {
            // The pool's minimum as it is now (qdo pool scale --nodes may have changed it).
            const min = (await readPoolDef(p).catch(() => null))?.pilots.min ?? def.pilots.min;
            if (!o.pilot || (await livePilots()) >= min) beginStop(`idle for ${o.idleSec} s`, false);
            else idleSince = n; // keeps the pool's minimum of pilots
          }
        }
      }
      // Every few seconds; sooner (once a second at most) after runs ended, for pool status.
      if (n - lastHb >= hbMs || stopping() || (reported !== ended && n - lastHb >= 1000)) {
        reported = ended;
        await heartbeat();
      }
      if (n - lastRecover >= Math.min(5000, leaseMs / 4)) {
        lastRecover = n;
        const rep = await recoverWorkers(ctx, p, def, { self: id, fs: o.fs }).catch((e: Error) => (log(`recovery failed: ${e.message}`), null));
        for (const d of rep?.dead ?? []) log(`found ${d.why}; its runs are queued again`);
      }
      if (stopping() && running.size === 0 && exits.length === 0) break;
      await wake.sleep(pollMs);
    }
  } finally {
    clearInterval(fence);
    o.signal.removeEventListener('abort', onAbort);
    for (const w of watchers) w.close();
    // Only after an unexpected error are runs still running here: they are killed (and
    // waited for) before their tickets go back, so none can run twice.
    const left = [...running.values()];
    for (const r of left) signalGroup(r.proc.pid, 'SIGKILL');
    await Promise.race([Promise.all(left.map((r) => r.proc.exited)), new Promise((r) => setTimeout(r, graceMs).unref())]);
    const startedKeys = new Set(left.map((r) => r.t.key));
    // Anything still held goes back: a run that started as its next attempt, one that never started as it was.
    for (const t of await listClaimed(p, id).catch(() => [] as TicketFile[])) {
      if (startedKeys.has(t.key)) await requeueTicket(p, t, o.fs).catch(() => false);
      else await moveTicket(t.path, join(p.queue, t.name), o.fs).catch(() => false);
    }
    await markExited(p, id, iso(now())).catch(() => undefined);
    reaper.close();
    await removeWorker(p, id).catch(() => false);
  }
  log(`worker ${id} exits: ${stopWhy}; ${ended} run(s) ended, ${requeued} queued again`);
  return { id, started, ended, requeued, why: stopWhy };

  async function claimWhenAllowed(): Promise<boolean> {
    try {
      return await claim();
    } catch (e) {
      log(`claiming failed: ${(e as Error).message}`);
      return false;
    }
  }
}
