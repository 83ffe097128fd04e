// The Slurm of the test machines is shared (ROUND rules; test/helpers/slurm.ts): a cancel
// must name the jobs it means, by the ids it got. An scancel that selects by user, name,
// state, partition... (`scancel -u root`, `scancel --me`) or names no job at all cancels
// other people's jobs, as the root everyone runs as here. This reads every scancel and
// qdel in the repository's code and scripts and fails on one that is not scoped to ids;
// in src only the Slurm backend runs scancel, and only on ids it checked (checkIds).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SlurmBackend } from '../../src/scheduler/slurm/backend.js';
import type { Runner } from '../../src/scheduler/runner.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** Takes the whole test cluster down, its jobs first: meant to cancel everything, run by whoever owns the cluster. */
const EXEMPT = new Set(['test/cluster/slurm-down.sh']);
const FILTERS = /(?:^|[\s'"[,(])(-u|--user|--me|--name|-n|--state|-t|--partition|-p|--account|-A|--qos|-q|--nodelist|-w|--reservation|-R|--wckey|--jobname)(?=$|[\s'"=,\])])/;

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'golden' || name.startsWith('.git')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.(ts|mjs|js|cjs|sh|bash)$/.test(name) || name === 'run') out.push(p);
  }
  return out;
}

test('every scancel and qdel in code and scripts is scoped to job ids', () => {
  const bad: string[] = [];
  for (const dir of ['src', 'test', 'bench', 'scripts', '.ci']) {
    let list: string[];
    try {
      list = files(join(REPO, dir));
    } catch {
      continue;
    }
    for (const f of list) {
      const rel = relative(REPO, f);
      if (EXEMPT.has(rel) || rel === 'test/spec/scoped-cancel.test.ts') continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = line.trim();
          if (code.startsWith('//') || code.startsWith('#') || code.startsWith('*')) return;
          for (const cmd of ['scancel', 'qdel']) {
            // As a command: a shell word, or a string in an argv array.
            const shell = new RegExp(`(?:^|[;&|(]\\s*|\\$\\(\\s*)${cmd}(\\s+(.*))?$`).exec(code);
            const argv = new RegExp(`['"\`]${cmd}['"\`]\\s*,?(.*)$`).exec(code);
            if (!shell && !argv) continue;
            const rest = (shell ? (shell[2] ?? '') : argv![1]!).trim();
            if (FILTERS.test(` ${rest}`)) bad.push(`${rel}:${i + 1}: ${cmd} selects by something else than ids: ${code}`);
            else if (shell && (rest === '' || /^[;&|)]/.test(rest))) bad.push(`${rel}:${i + 1}: ${cmd} without job ids: ${code}`);
            else if (/\ball\b/.test(rest) && cmd === 'qdel') bad.push(`${rel}:${i + 1}: qdel all: ${code}`);
          }
        });
    }
  }
  assert.equal(bad, []);
});

test('in src, only the Slurm backend runs scancel', () => {
  const users = files(join(REPO, 'src')).filter((f) => /['"`]scancel['"`]/.test(readFileSync(f, 'utf8')));
  assert.equal(users.map((f) => relative(REPO, f)), ['src/scheduler/slurm/backend.ts']);
});

test('the Slurm backend cancels only well-formed ids, and nothing for none (never a bare scancel)', async () => {
  const calls: string[][] = [];
  const runner = (async (argv: string[]) => {
    calls.push(argv);
    return { stdout: '', stderr: '', exitCode: 0, attempts: 1 };
  }) as Runner;
  const b = new SlurmBackend({ runner });
  await b.cancel([]);
  assert.equal(calls, []);
  for (const bad of [['-u', 'root'], ['--user=root'], ['--me'], [''], ['12', '--name=x'], ['12,13'], ['*']]) {
    try {
      await b.cancel(bad);
      assert.unreachable(`cancel ${JSON.stringify(bad)} was accepted`);
    } catch (e) {
      assert.is((e as { code?: string }).code, 'scheduler-bad-id', JSON.stringify(bad));
    }
  }
  assert.equal(calls, []);
  await b.cancel(['12', '13_2', '12']);
  assert.equal(calls, [['scancel', '12', '13_2']]);
});

test.run();
