#!/usr/bin/env node
// The qdo executable: builds the Context and Io from the real process, runs main.
import { homedir, hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { main } from './main.js';
import { identityOf, liveness } from '../util/proc.js';
import type { Io } from './io.js';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const io: Io = {
  stdout: (c) => void process.stdout.write(c),
  stderr: (c) => void process.stderr.write(c),
  readStdin,
  isTTY: process.stdout.isTTY === true,
  // no-color.org: only a non-empty NO_COLOR turns colour off.
  color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  stderrTTY: process.stderr.isTTY === true,
};

// `qdo logs big | head`: the reader went away; that is how pipelines end, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

/** Who runs qdo (spec/trust.md); a uid without a passwd entry is known by its number. */
function currentUser(): { uid: number; gid: number; name: string } {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let name = String(uid);
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (a container's arbitrary uid)
  }
  return { uid, gid, name };
}

const env = process.env;
const home = resolve(env.QDO_HOME && env.QDO_HOME !== '' ? env.QDO_HOME : homedir());
const host = hostname();
// This process as records and locks name it: host, pid and start time (util/proc.ts).
const self = identityOf(host, process.pid);
process.exitCode = await main(process.argv.slice(2), io, { cwd: process.cwd(), env, home, now: () => new Date(), host, self, alive: (p) => liveness(p, host), user: currentUser(), command: [process.execPath, process.argv[1]!] });
