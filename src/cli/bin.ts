#!/usr/bin/env node
// The qdo executable: builds the Context and Io from the real process, runs main.
import { homedir, hostname } from 'node:os';
import { resolve } from 'node:path';
import { fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fdWriter } from './fd-writer.js';
import { main } from './main.js';
import type { Io } from './io.js';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// `qdo logs big | head`: the reader went away; that is how pipelines end, not an error.
function readerGone(): void {
  process.exit(0);
}
function stream(s: NodeJS.WriteStream): NodeJS.WriteStream {
  if (s.listenerCount('error') === 0) s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? readerGone() : undefined));
  return s;
}

/**
 * isatty without loading node:tty (and with it net and every stream module, ~5% of node's
 * start-up) unless the descriptor is a character device: pipes, sockets and files are not.
 */
function isTerminal(fd: number): boolean {
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
}

// process.stdout is touched only on a terminal (its size) or when a write would block.
const tty = isTerminal(1);
const io: Io = {
  stdout: fdWriter(1, () => stream(process.stdout), readerGone),
  stderr: fdWriter(2, () => stream(process.stderr), readerGone),
  readStdin,
  isTTY: tty,
  // no-color.org: only a non-empty NO_COLOR turns colour off.
  color: tty && !process.env.NO_COLOR,
  stderrTTY: isTerminal(2),
  columns: tty ? process.stdout.columns : undefined,
  rows: tty ? process.stdout.rows : undefined,
  size: tty ? () => ({ columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 }) : undefined,
};
/** Signal 0 probes a pid: ESRCH means gone; EPERM means alive but someone else's. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const env = process.env;
const home = resolve(env.QDO_HOME && env.QDO_HOME !== '' ? env.QDO_HOME : homedir());
// No top-level await: the bundle is a classic script (scripts/build.mjs).
void main(process.argv.slice(2), io, { cwd: process.cwd(), env, home, now: () => new Date(), host: hostname(), pid: process.pid, alive: pidAlive }).then((code) => {
  process.exitCode = code;
});
