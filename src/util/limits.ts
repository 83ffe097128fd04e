// This process's resource limits, for what would hit them: the address space left under a
// `ulimit -v`, for what reserves a lot of it at once, and the files it may hold open under
// `ulimit -n`, for the writers of many files.
//
// Address space. On 64-bit Linux V8 reserves ~10 GiB for each WebAssembly memory (guard
// regions in place of bounds checks) and ~0.5-0.9 GiB for each worker thread's isolate (its
// code range and heap). Under a limit too low for that, as the login nodes of many clusters
// set, a WebAssembly memory fails only after V8 has retried it behind ~15 full garbage
// collections (~50 ms, where a whole command takes ~40), and a worker kills the process
// ("Fatal process OOM ... CodeRange"). So the limit is read first from /proc; where there is
// none (not Linux), it is taken as unlimited. The bundle's prologue does the same for its
// code-cache checksum (scripts/build.mjs).
import { readFileSync } from 'node:fs';

/** Address space one WebAssembly memory reserves, with a margin for the rest of the process. */
export const WASM_RESERVATION = 10.5 * 2 ** 30;
/** Address space one worker thread may take (measured: 0.86 GiB for the first, 0.53 after), with a margin. */
export const WORKER_RESERVATION = 1.5 * 2 ** 30;

let unlimited = false;
let limitsText: string | null | undefined;

/** /proc/self/limits, read once (null where there is none: not Linux). */
function limits(): string | null {
  if (limitsText === undefined) {
    try {
      limitsText = readFileSync('/proc/self/limits', 'latin1');
    } catch {
      limitsText = null;
    }
  }
  return limitsText;
}

/** Bytes of address space left under the soft `ulimit -v` (Infinity without one). */
export function addressSpaceLeft(): number {
  if (unlimited) return Infinity;
  const text = limits();
  if (text === null) {
    unlimited = true;
    return Infinity;
  }
  const soft = /^Max address space +(\S+)/m.exec(text)?.[1];
  if (soft === undefined || soft === 'unlimited') {
    unlimited = true;
    return Infinity;
  }
  // Limited: what is left now (each reservation made since took its share).
  try {
    const size = /^VmSize:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1];
    return size === undefined ? 0 : Number(soft) - Number(size) * 1024;
  } catch {
    return 0;
  }
}

export function wasmMemoryFits(): boolean {
  return addressSpaceLeft() >= WASM_RESERVATION;
}

// Open files. A sweep writes each point's record, manifest and objects to temp files that
// stay open until they are fsynced together (spec/layout.md §Writes, batches): 256 points a
// group, two groups at once, up to ~1,500 descriptors, where the soft `ulimit -n` is often
// 1,024 (EMFILE: a 2,000-point sweep failed). The writers size their groups from this.

/** Descriptors kept for everything else a command holds open (node's own, stdio, locks, the thread pool's files). */
export const OTHER_FILES = 96;

let fileBudget: number | undefined;

/** The soft `ulimit -n` (null where it cannot be read; Infinity when unlimited). */
export function openFileLimit(): number | null {
  const soft = /^Max open files +(\S+)/m.exec(limits() ?? '')?.[1];
  return soft === undefined ? null : soft === 'unlimited' ? Infinity : Number(soft);
}

/** How many files a writer of many may hold open at once: the soft `ulimit -n` less OTHER_FILES (at least 8). */
export function openFileBudget(): number {
  if (fileBudget === undefined) {
    const n = openFileLimit();
    fileBudget = n !== null && Number.isFinite(n) ? Math.max(8, n - OTHER_FILES) : 1 << 20;
  }
  return fileBudget;
}
