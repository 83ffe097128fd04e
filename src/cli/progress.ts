// A one-line progress bar on stderr, only when stderr is a terminal (spec/sweeps.md
// §Progress); elsewhere it prints nothing, so logs and pipes get the results alone.
import type { Io } from './io.js';

export interface ProgressBar {
  update(label: string, done: number, total: number): void;
  /** Clears the line (call before printing results or an error). */
  done(): void;
}

const WIDTH = 30;
/** Redraws at most this often (a 1,000-point sweep would otherwise redraw 2,000 times). */
const MIN_INTERVAL_MS = 80;

export function progressBar(io: Io, now: () => number = () => performance.now()): ProgressBar {
  if (!io.stderrTTY) return { update() {}, done() {} };
  let drawn = false;
  let last = -Infinity;
  return {
    update(label, done, total) {
      const t = now();
      if (done < total && t - last < MIN_INTERVAL_MS) return;
      last = t;
      io.stderr(`\r${formatBar(label, done, total)}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) io.stderr('\r\x1b[K');
      drawn = false;
    },
  };
}

/** `submitting [###########.........] 40/100`: pure, for tests. */
export function formatBar(label: string, done: number, total: number): string {
  const frac = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const full = Math.round(frac * WIDTH);
  return `${label} [${'#'.repeat(full)}${'.'.repeat(WIDTH - full)}] ${done}/${total}`;
}
