// stdout and stderr written with writeSync on the file descriptor: creating
// process.stdout costs a stream module and ~1% of node's start-up on every command
// (bench/README.md §Start-up), and synchronous writes are what a CLI wants anyway (all
// output is out when the process ends). A non-blocking descriptor that fills (EAGAIN)
// hands the rest, and everything after it, to Node's stream, which queues.
import { writeSync } from 'node:fs';
import { errnoCode } from '../errors.js';

export function fdWriter(fd: number, stream: () => NodeJS.WriteStream, onEpipe: () => void): (chunk: string | Uint8Array) => void {
  let queued = false;
  return (chunk) => {
    if (queued) {
      stream().write(chunk);
      return;
    }
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(fd, buf, off);
      } catch (e) {
        const code = errnoCode(e);
        if (code === 'EAGAIN') {
          queued = true;
          stream().write(buf.subarray(off));
          return;
        }
        // `qdo logs big | head`: the reader went away; that is how pipelines end, not an error.
        if (code === 'EPIPE') return onEpipe();
        throw e;
      }
    }
  };
}
