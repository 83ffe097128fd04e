// Whether this process can make a WebAssembly memory without a long failure. On 64-bit
// Linux V8 reserves ~10 GiB of address space for each one (guard regions in place of bounds
// checks). Under a `ulimit -v` too low for that, as the login nodes of many clusters set, the
// reservation fails, and only after V8 has retried it behind full garbage collections: ~15
// of them, ~50 ms, where the whole command takes ~40 (bench/README.md, stop 25). So the
// limit is read first from /proc; where there is none (not Linux), it is tried. The bundle's
// prologue does the same for its code-cache checksum (scripts/build.mjs).
import { readFileSync } from 'node:fs';

/** Address space one WebAssembly memory reserves, with a margin for the rest of the process. */
export const WASM_RESERVATION = 10.5 * 2 ** 30;

let unlimited = false;

export function wasmMemoryFits(): boolean {
  if (unlimited) return true;
  let limits: string;
  try {
    limits = readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return (unlimited = true);
  }
  const soft = /^Max address space +(\S+)/m.exec(limits)?.[1];
  if (soft === undefined || soft === 'unlimited') return (unlimited = true);
  // Limited: what is left now (each memory made since took its share).
  try {
    const size = /^VmSize:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1];
    return size !== undefined && Number(soft) - Number(size) * 1024 >= WASM_RESERVATION;
  } catch {
    return false;
  }
}
