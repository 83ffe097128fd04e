// The thread pool libuv runs fsyncs in. Four threads by default, so at most four fsyncs are
// in flight to share one journal commit; a sweep fsyncs thousands of files in batches (spec/
// layout.md §Writes) and a 10^4-point sweep's answers took ~1.5x as long with four as with
// sixteen (bench/README.md). libuv reads UV_THREADPOOL_SIZE once, when the pool starts.
import { access } from 'node:fs';

let asked = false;

/**
 * Starts the pool with `size` threads unless it has started already or the user set
 * UV_THREADPOOL_SIZE. The variable is set only for that moment: jobs and scheduler commands
 * inherit qdo's environment, and it is not theirs.
 */
export function widenThreadPool(size = 16): void {
  if (asked) return;
  asked = true;
  if (process.env.UV_THREADPOOL_SIZE !== undefined) return;
  process.env.UV_THREADPOOL_SIZE = String(size);
  try {
    access('/', () => undefined); // queues work: the pool starts now, reading the variable
  } finally {
    delete process.env.UV_THREADPOOL_SIZE;
  }
}
