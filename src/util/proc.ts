// Who a process is, and whether it is still alive (spec/locking.md §Holders,
// spec/submissions.md §Recovery). A pid alone names a process only while it lives: pids are
// reused (pid_max is often 32768), so a record or lock that names its writer by pid would
// call a stranger its writer. A process is named instead by its host, its pid and its start:
// the kernel's boot id, the pid namespace and the start time in clock ticks since boot
// (/proc/<pid>/stat, field 22). A process with that pid and that start time on this boot is
// that process; none means it is gone.
import { readFileSync, readlinkSync } from 'node:fs';
import { errnoCode } from '../errors.js';

export interface ProcessIdentity {
  host: string;
  pid: number;
  /**
   * `<boot id>/<pid namespace>/<start ticks>` (e.g. `7ab6…6c/4026531836/109419`), or null
   * where the system has no /proc (then only the pid is known).
   */
  start: string | null;
}

/** alive, dead, or unknown (another host, another boot or pid namespace: cannot be looked at from here). */
export type Liveness = 'alive' | 'dead' | 'unknown';

const START_RE = /^([0-9a-f-]{1,64})\/(\d+)\/(\d+)$/;

/** True if `s` is a well-formed start string (records and lock files are checked with it). */
export function isProcessStart(s: unknown): s is string {
  return typeof s === 'string' && START_RE.test(s);
}

/** The start time in clock ticks of process `pid`, and whether it is a zombie; null if there is no such process. */
function statOf(pid: number): { ticks: string; zombie: boolean } | null | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (e) {
    const c = errnoCode(e);
    if (c === 'ENOENT' || c === 'ESRCH') return null;
    return undefined; // no /proc, or not allowed to look
  }
  // The command name (field 2) is in parentheses and may contain spaces and ")".
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  const ticks = rest[19];
  if (ticks === undefined || !/^\d+$/.test(ticks)) return undefined;
  return { ticks, zombie: rest[0] === 'Z' || rest[0] === 'X' };
}

function readOr(path: string, link = false): string | null {
  try {
    return (link ? readlinkSync(path) : readFileSync(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** This machine's boot id and this process's pid namespace (null without /proc). */
function here(): { boot: string; ns: string } | null {
  const boot = readOr('/proc/sys/kernel/random/boot_id');
  const ns = /^pid:\[(\d+)\]$/.exec(readOr('/proc/self/ns/pid', true) ?? '')?.[1];
  if (boot === null || ns === undefined || !/^[0-9a-f-]{1,64}$/.test(boot)) return null;
  return { boot, ns };
}

/** The identity of process `pid` on this host, as seen from here (start null if unknown). */
export function identityOf(host: string, pid: number): ProcessIdentity {
  const h = here();
  const st = h ? statOf(pid) : undefined;
  return { host, pid, start: h && st ? `${h.boot}/${h.ns}/${st.ticks}` : null };
}

/**
 * Whether the process named by `p` is alive, seen from host `host`. Another host, another
 * boot of this one (or a same-named machine), another pid namespace: unknown. A process
 * recorded without its start (old records; systems without /proc): the pid alone decides.
 */
export function liveness(p: ProcessIdentity, host: string): Liveness {
  if (p.host !== host) return 'unknown';
  if (!Number.isSafeInteger(p.pid) || p.pid <= 0) return 'unknown';
  const m = p.start === null ? null : START_RE.exec(p.start);
  const h = here();
  if (m && h) {
    if (m[1] !== h.boot || m[2] !== h.ns) return 'unknown';
    const st = statOf(p.pid);
    if (st === null) return 'dead';
    if (st === undefined) return 'unknown';
    return st.ticks === m[3] && !st.zombie ? 'alive' : 'dead';
  }
  if (p.start !== null && m === null) return 'unknown'; // a start we cannot read: do not guess
  // Only the pid is known: signal 0 probes it (ESRCH: gone; EPERM: alive, someone else's).
  try {
    process.kill(p.pid, 0);
  } catch (e) {
    if (errnoCode(e) === 'ESRCH') return 'dead';
    if (errnoCode(e) !== 'EPERM') return 'unknown';
  }
  const st = h ? statOf(p.pid) : undefined;
  return st?.zombie ? 'dead' : 'alive';
}
