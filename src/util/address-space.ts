// How much address space this process has left under a `ulimit -v`, for what reserves a lot
// of it at once. On 64-bit Linux V8 reserves ~10 GiB for each WebAssembly memory (guard
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

/** Bytes of address space left under the soft `ulimit -v` (Infinity without one). */
export function addressSpaceLeft(): number {
  if (unlimited) return Infinity;
  let limits: string;
  try {
    limits = readFileSync('/proc/self/limits', 'latin1');
  } catch {
    unlimited = true;
    return Infinity;
  }
  const soft = /^Max address space +(\S+)/m.exec(limits)?.[1];
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
