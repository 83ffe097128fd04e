// How a pool worker runs its runs on its own machine (spec/pools.md §Running a run): each
// run's script (the job wrapper) is started in a process group of its own, so that pause
// (SIGSTOP/SIGCONT), cancel and the time limit reach everything the run started; and a
// reaper process, fed the groups over a pipe, stops those groups the moment the worker dies
// in any way (its end of the pipe closes), so a dead worker leaves no run behind that
// could run a second time once its ticket is queued again.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { JobVarMap } from './job-vars.js';
import { identityOf, liveness } from '../util/proc.js';

/** What the wrapper knows of a run in a pool: its key and the cpus it asked for. */
export function poolJobVars(cpus: number): JobVarMap {
  return {
    jobId: '${QDO_POOL_RUN:-}',
    arrayIndex: '',
    nodeFile: '',
    ncpus: String(Math.max(1, Math.floor(cpus))),
    submitDir: '',
  };
}

export interface RunExit {
  /** The wrapper's exit status, or null if a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. its folder is gone). */
  error?: string;
}

export interface RunProcess {
  /** The wrapper's pid, which is also its process group id. */
  pid: number;
  exited: Promise<RunExit>;
}

/**
 * Starts `bash SCRIPT` in a new session (so its own process group), stdin from /dev/null,
 * its output (only what the wrapper prints before it opens the run's logs) to `stderr`.
 */
export function startRun(o: { script: string; cwd: string; env: Record<string, string | undefined>; stderr?: 'inherit' | 'ignore' }): RunProcess {
  let child: ChildProcess;
  const exited = new Promise<RunExit>((resolve) => {
    child = spawn('bash', [o.script], { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'ignore', o.stderr ?? 'inherit'] });
    child.once('error', (e) => resolve({ code: null, signal: null, error: e.message }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { pid: child!.pid ?? -1, exited };
}

/** Sends a signal to a whole process group; false if there is no such group any more. */
export function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  if (!(pgid > 1)) return false;
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Who a pid is, as a string for a worker's identity file: the start of its process identity
 * (util/proc.ts: `<boot id>/<pid namespace>/<start ticks>`), so a pid that was reused by
 * another process does not pass for the old one; `pid:<n>` where there is no /proc (kill -0
 * is all we can ask); null when there is no such process or it is a zombie.
 */
export function processIdentity(pid: number): string | null {
  if (!(pid > 0)) return null;
  const id = identityOf('', pid);
  if (id.start !== null) return liveness(id, '') === 'alive' ? id.start : null;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return `pid:${pid}`;
}

/** The command line of a pid (NUL-separated words joined by spaces), null where unknown. */
export function processCommandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

// The reaper: reads "+PGID" and "-PGID" lines; at end of input (the worker is gone, or
// closed the pipe) it sends TERM (and CONT, for paused runs) to each group still listed,
// then KILL after the grace time. Plain bash 3.2.
const REAPER = `
grace=$1
groups=' '
while IFS= read -r line; do
  case $line in
    +*) groups="$groups\${line#+} " ;;
    -*) groups="\${groups/ \${line#-} / }" ;;
  esac
done
[ "$groups" = ' ' ] && exit 0
for g in $groups; do kill -TERM -"$g" 2>/dev/null; kill -CONT -"$g" 2>/dev/null; done
sleep "$grace"
for g in $groups; do kill -KILL -"$g" 2>/dev/null; done
`;

export class Reaper {
  private child: ChildProcess | null = null;
  private readonly groups = new Set<number>();
  private closed = false;

  constructor(private readonly graceSec: number) {
    this.start();
  }

  private start(): void {
    // Its own session: a signal to the worker's process group (^C, kill -9 -PGID) leaves it be.
    const c = spawn('bash', ['-c', REAPER, 'qdo-pool-reaper', String(this.graceSec)], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    c.on('error', () => undefined);
    c.stdin!.on('error', () => undefined);
    c.unref();
    (c.stdin as unknown as { unref?: () => void }).unref?.();
    c.once('exit', () => {
      // Killed on its own: start another with what it knew, unless we are done.
      if (this.child === c && !this.closed) this.start();
    });
    this.child = c;
    for (const g of this.groups) c.stdin!.write(`+${g}\n`);
  }

  add(pgid: number): void {
    this.groups.add(pgid);
    this.child?.stdin?.write(`+${pgid}\n`);
  }

  remove(pgid: number): void {
    this.groups.delete(pgid);
    this.child?.stdin?.write(`-${pgid}\n`);
  }

  /** A clean stop: nothing listed any more, so the reaper exits without sending anything. */
  close(): void {
    this.closed = true;
    for (const g of [...this.groups]) this.remove(g);
    this.child?.stdin?.end();
  }
}
