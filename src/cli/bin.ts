#!/usr/bin/env node
// The qdo executable: builds the Context and Io from the real process, runs main.
import { homedir, hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fdWriter } from './fd-writer.js';
import { main } from './main.js';
import { identityOf, liveness } from '../util/proc.js';
import type { Io } from './io.js';
import type { Context, ProcessIdentity, UserId } from '../context.js';

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
 * start-up) unless the descriptor is a character device: pipes, sockets and files are not,
 * nor on Linux the memory devices (major number 1: /dev/null, /dev/zero, /dev/full), where
 * scripts and cron send what they do not read.
 */
function isTerminal(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    if (!st.isCharacterDevice()) return false;
    if (process.platform === 'linux' && ((st.rdev >> 8) & 0xfff) === 1 && st.rdev < 2 ** 32) return false;
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

/**
 * Who runs qdo (spec/trust.md); a uid without a passwd entry is known by its number. The
 * name (a passwd lookup) is asked only by the private-group rule, for a group-writable file.
 */
function currentUser(): UserId {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name: string | undefined;
  return {
    uid,
    gid,
    get name() {
      if (name === undefined) {
        name = String(uid);
        try {
          name = userInfo().username;
        } catch {
          // no passwd entry (a container's arbitrary uid)
        }
      }
      return name;
    },
  };
}

const env = process.env;
const home = resolve(env.QDO_HOME && env.QDO_HOME !== '' ? env.QDO_HOME : homedir());
// This machine's name, this process as records and locks name it (host, pid and start
// time: util/proc.ts) and the invoking user are looked up when first asked: most commands
// never ask, and each is a few system calls (and node:os loaded) on every start.
let host: string | undefined;
let self: ProcessIdentity | undefined;
let user: UserId | undefined;
const hostName = (): string => (host ??= hostname());
const ctx: Context = {
  cwd: process.cwd(),
  env,
  home,
  now: () => new Date(),
  get host() {
    return hostName();
  },
  get self() {
    return (self ??= identityOf(hostName(), process.pid));
  },
  alive: (p) => liveness(p, hostName()),
  get user() {
    return (user ??= currentUser());
  },
  command: [process.execPath, process.argv[1]!],
};
// No top-level await: the bundle is a classic script (scripts/build.mjs).
void main(process.argv.slice(2), io, ctx).then((code) => {
  process.exitCode = code;
});
