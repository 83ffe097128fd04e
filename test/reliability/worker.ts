// A qdo process for the reliability suites (test/reliability/README.md): runs qdo commands
// one after another through the CLI's main() with a real Context (this process's clock, pid
// and start time), as the qdo binary would, and reports each outcome as one JSON line on
// stdout. Several of these run at once; the SIGKILL suite kills them anywhere.
// argv: <QDO_HOME> <plan JSON file> — the plan: { cwd, env, commands: string[][] } or
//       { cwd, env, random: { seed, ops } } (random: endless mix of submit, sweep, gc,
//       cancel + retry, status; for the SIGKILL suite).
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { main } from '../../src/cli/main.js';
import type { Context } from '../../src/context.js';
import { identityOf, liveness } from '../../src/util/proc.js';

interface Plan {
  cwd: string;
  env: Record<string, string>;
  commands?: string[][];
  random?: { seed: number; names: number; sweep: number };
}

const [home, planFile] = process.argv.slice(2) as [string, string];
const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
const host = hostname();
const ctx: Context = {
  cwd: plan.cwd,
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...plan.env, QDO_HOME: home },
  home,
  now: () => new Date(),
  host,
  self: identityOf(host, process.pid),
  alive: (p) => liveness(p, host),
  user: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, name: userInfo().username },
};

async function run(args: string[]): Promise<void> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (c) => void (out += c), stderr: (c) => void (err += c), readStdin: async () => Buffer.alloc(0), isTTY: false, color: false }, ctx);
  process.stdout.write(JSON.stringify({ args, code, stdout: out, stderr: err }) + '\n');
}

// Mulberry32: a small seeded generator, so a failing random run can be replayed.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

process.stdout.write(JSON.stringify({ ready: process.pid }) + '\n');
if (plan.commands) {
  for (const c of plan.commands) await run(c);
} else if (plan.random) {
  const r = rng(plan.random.seed);
  const pick = (n: number) => Math.floor(r() * n);
  const grid = Array.from({ length: plan.random.sweep }, (_, i) => String(i)).join(',');
  for (;;) {
    const x = r();
    const name = `p/j${pick(plan.random.names)}`;
    if (x < 0.45) await run(['submit', name, '--hold', '--', 'echo', String(pick(3))]);
    else if (x < 0.6) await run(['submit', 'p/s{{i}}', '--grid', `i=${grid}`, '--hold', '--', 'echo', 'point', '{{i}}']);
    else if (x < 0.7) await run(['gc', '--prune']);
    else if (x < 0.75) await run(['gc', '--keep', '1']);
    else if (x < 0.85) {
      await run(['cancel', name]);
      await run(['retry', name]);
    } else await run(['status', '--json']);
  }
}
