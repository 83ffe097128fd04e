// Two decisions of a pool as pure functions (spec/pools.md §Liveness, §Scaling): whether a
// worker is dead (so its runs are queued again), and how many pilot jobs to add, which
// waiting ones to cancel and which running ones to drain. Inputs are plain data read by
// core; outputs are plans core applies. No I/O, no clock.
import type { Heartbeat, WorkerInfo } from './pool-run.js';
import { isTerminal } from './states.js';

export interface LivenessInput {
  worker: WorkerInfo;
  heartbeat: Heartbeat | null;
  nowMs: number;
  /** Seconds without a heartbeat after which a worker on another host is presumed dead. */
  lease: number;
  /** The checking process's host, and the identity of a pid on it (null: no such process). */
  here: { host: string; identity(pid: number): string | null };
  /** The state of the worker's pilot job as qdo last learned it, if it is a pilot. */
  pilotState?: string | null;
  /** The worker said it exited (its `exited` mark). */
  exited: boolean;
}

export interface Liveness {
  dead: boolean;
  why: string;
}

/**
 * Dead means: its runs may be given to others. The order is the order of certainty: a
 * worker that says it exited; on this host, its process (pid and start time) is gone; its
 * pilot job ended; on another host, its heartbeat is older than the lease. A live process on
 * this host is alive however old its heartbeat (it may be stopped with ^Z).
 */
export function workerLiveness(i: LivenessInput): Liveness {
  const w = i.worker;
  if (i.exited) return { dead: true, why: `worker ${w.id} exited` };
  if (w.host === i.here.host) {
    const id = i.here.identity(w.pid);
    if (id === null) return { dead: true, why: `worker ${w.id} (pid ${w.pid} on ${w.host}) is gone` };
    if (w.identity !== null && id !== w.identity) return { dead: true, why: `worker ${w.id} is gone (pid ${w.pid} on ${w.host} is another process now)` };
    return { dead: false, why: `worker ${w.id} runs as pid ${w.pid} on this host` };
  }
  if (w.pilot && i.pilotState && isTerminal(i.pilotState)) {
    return { dead: true, why: `worker ${w.id} on ${w.host}: its pilot job ${w.pilot.sched_id ?? w.pilot.key} ended ${i.pilotState}` };
  }
  const last = i.heartbeat ? Date.parse(i.heartbeat.time) : Date.parse(w.started);
  const age = (i.nowMs - last) / 1000;
  if (age > i.lease) return { dead: true, why: `worker ${w.id} on ${w.host} sent no heartbeat for ${Math.round(age)} s (lease ${i.lease} s)` };
  return { dead: false, why: `worker ${w.id} on ${w.host}: heartbeat ${Math.max(0, Math.round(age))} s ago` };
}

export interface PilotView {
  key: string;
  /** submitting, a scheduler state, or a terminal state. */
  state: string;
  /** When the record was made (ms). */
  intentMs: number;
  /** Its worker, once it has registered and is alive. */
  worker: { id: string; used: number; mode: string; running: number } | null;
  /** Its job has started (the wrapper's start record): it is no longer waiting in the scheduler's queue. */
  started?: boolean;
}

export interface ScaleInput {
  min: number;
  max: number;
  slots: number;
  /** Seconds a waiting pilot stays before it may be cancelled as not needed. */
  idle: number;
  consolidate: boolean;
  pilots: PilotView[];
  /** Slot units of each queued run a pilot of this pool could run. */
  demand: number[];
  nowMs: number;
}

export interface ScalePlan {
  add: number;
  /** Waiting pilots (not started) no longer needed. */
  cancel: string[];
  /** Worker ids asked to take nothing more and exit when empty (consolidation). */
  drain: string[];
  /** One line: why. */
  why: string;
}

/**
 * Keeps min..max pilots: adds while queued runs need more slots than the live pilots have
 * free (waiting pilots count as free), cancels waiting pilots nobody needs once they have
 * waited `idle` seconds, and, with consolidate, drains the least busy of several pilots
 * when the others can hold all that runs. Running pilots end themselves when idle.
 */
export function planScale(s: ScaleInput): ScalePlan {
  const live = s.pilots.filter((p) => !isTerminal(p.state) && p.state !== 'not-submitted');
  const working = live.filter((p) => p.worker !== null);
  const waiting = live.filter((p) => p.worker === null);
  const takes = (p: PilotView) => p.worker !== null && (p.worker.mode === 'claiming' || p.worker.mode === 'paused');
  const freeRunning = working.filter(takes).reduce((n, p) => n + Math.max(0, s.slots - p.worker!.used), 0);
  const demand = s.demand.reduce((a, b) => a + b, 0);
  // Slots still wanted once the running pilots are full; each waiting pilot brings `slots`.
  const short = Math.max(0, demand - freeRunning);
  const neededWaiting = Math.ceil(short / s.slots);
  let add = Math.max(0, neededWaiting - waiting.length);
  add = Math.min(add, Math.max(0, s.max - live.length));
  if (live.length + add < s.min) add = s.min - live.length;
  const cancel: string[] = [];
  if (add === 0) {
    const spare = waiting
      .filter((p) => p.state !== 'submitting' && !p.started && s.nowMs - p.intentMs >= s.idle * 1000)
      .sort((a, b) => b.intentMs - a.intentMs); // the youngest first: older ones start sooner
    let keep = live.length;
    for (const p of spare) {
      if (waiting.length - cancel.length <= neededWaiting || keep <= s.min) break;
      cancel.push(p.key);
      keep--;
    }
  }
  const drain: string[] = [];
  if (s.consolidate && demand === 0 && add === 0) {
    const claiming = working.filter((p) => p.worker!.mode === 'claiming').sort((a, b) => a.worker!.used - b.worker!.used);
    const used = claiming.reduce((n, p) => n + p.worker!.used, 0);
    if (claiming.length >= 2 && claiming.length > s.min && used <= (claiming.length - 1) * s.slots) drain.push(claiming[0]!.worker!.id);
  }
  const parts = [`${live.length} live pilot(s) (${working.length} working, ${waiting.length} waiting)`, `${s.demand.length} queued run(s) wanting ${demand} slot(s), ${freeRunning} free`];
  if (add) parts.push(`add ${add}`);
  if (cancel.length) parts.push(`cancel ${cancel.length} waiting`);
  if (drain.length) parts.push(`drain ${drain.join(', ')}`);
  return { add, cancel, drain, why: parts.join('; ') };
}
