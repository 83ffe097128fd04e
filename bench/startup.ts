// Start-up benchmarks (bench/README.md §Start-up): qdo commands as processes against
// `node -e 0`, run interleaved (each round runs every case once, baseline included) so a
// noisy machine slows them alike; medians side by side. The bundle users run
// (dist/qdo.cjs) is measured with its code caches made (two runs of each command first),
// the compiled tree for comparison. Also: completion over 10^4 jobs, and `qdo submit` on
// the real Slurm against `node -e 0` plus one raw sbatch (skipped without sbatch).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAllocation } from './fixture.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(REPO, 'dist/qdo.cjs');
// The one file to copy anywhere (README §Install): Node reads all of it.
const STANDALONE = join(REPO, 'dist/qdo-standalone.cjs');
const TREE = join(REPO, 'dist/src/cli/bin.js');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Case {
  label: string;
  argv: string[];
  env: Record<string, string>;
  /** Run the command (a shell line, not node) instead: for raw scheduler commands. */
  shell?: boolean;
  after?: (stdout: string) => void;
}

function once(c: Case): { ms: number; stdout: string } {
  const t = performance.now();
  const r = c.shell
    ? spawnSync('sh', ['-c', c.argv.join(' ')], { env: { PATH: process.env.PATH ?? '', ...c.env }, encoding: 'utf8', maxBuffer: 1 << 30 })
    : spawnSync(process.execPath, c.argv, { env: { PATH: process.env.PATH ?? '', ...c.env }, encoding: 'utf8', maxBuffer: 1 << 30 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${c.argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  c.after?.(r.stdout);
  return { ms, stdout: r.stdout };
}

/** Medians of `runs` interleaved rounds. */
function measure(cases: Case[], runs: number): number[] {
  const times = cases.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) cases.forEach((c, k) => times[k]!.push(once(c).ms));
  return times.map(median);
}

function print(title: string, labels: string[], t: number[], base: number, baseLabel: string): void {
  console.log(`\n${title}`);
  console.log(`  ${baseLabel.padEnd(44)} 1.00x  (baseline, ${base.toFixed(0)} ms here)`);
  labels.forEach((l, i) => console.log(`  ${l.padEnd(44)} ${(t[i]! / base).toFixed(2)}x  (+${(t[i]! - base).toFixed(0)} ms)`));
}

export async function startupBench(runs = Number(process.env.QDO_BENCH_RUNS ?? 21)): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'qdo-bench-startup-'));
  try {
    const empty = join(tmp, 'empty');
    const ended = join(tmp, 'ended');
    await buildAllocation(ended, 1000, 1);
    const cache = join(tmp, 'cache');
    const env = (home: string) => ({ QDO_HOME: home, QDO_SCHEDULER: 'local', XDG_CACHE_HOME: cache });
    const base: Case = { label: 'node -e 0', argv: ['-e', '0'], env: env(empty) };
    const cases: Case[] = [
      { label: 'bundle  qdo --version', argv: [BUNDLE, '--version'], env: env(empty) },
      { label: 'bundle  qdo status (1,000 ended > 7 d ago)', argv: [BUNDLE, 'status'], env: env(ended) },
      { label: 'bundle  qdo status --since all (1,000 ended)', argv: [BUNDLE, 'status', '--since', 'all'], env: env(ended) },
      { label: 'bundle  qdo status --json (1,000 ended jobs)', argv: [BUNDLE, 'status', '--json'], env: env(ended) },
      { label: 'bundle  qdo status (no jobs)', argv: [BUNDLE, 'status'], env: env(empty) },
      { label: 'bundle  qdo project list', argv: [BUNDLE, 'project', 'list'], env: env(ended) },
      { label: 'bundle  qdo status, no code cache', argv: [BUNDLE, 'status'], env: { ...env(ended), QDO_CODE_CACHE: '0' } },
      { label: 'standalone qdo --version', argv: [STANDALONE, '--version'], env: env(empty) },
      { label: 'standalone qdo status (no jobs)', argv: [STANDALONE, 'status'], env: env(empty) },
      { label: 'tree    qdo --version', argv: [TREE, '--version'], env: env(empty) },
      { label: 'tree    qdo status (1,000 ended jobs)', argv: [TREE, 'status'], env: env(ended) },
    ];
    // The code caches (two runs of each command) and the ended-record cache.
    for (const c of cases) for (let i = 0; i < 3; i++) once(c);
    const [b, ...t] = measure([base, ...cases], runs);
    print(`start-up (medians of ${runs} interleaved runs; stdout a pipe)`, cases.map((c) => c.label), t, b!, 'node -e 0');

    // Completion over 10^4 jobs in one project.
    const big = join(tmp, 'big');
    await buildAllocation(big, 10_000, 1);
    const comp: Case[] = [
      { label: 'complete "qdo status b"  (the project)', argv: [BUNDLE, '__complete', 'bash', 'status', 'b'], env: env(big) },
      { label: 'complete "qdo status big/job0042" (10 jobs)', argv: [BUNDLE, '__complete', 'bash', 'status', 'big/job0042'], env: env(big) },
      { label: 'complete "qdo status big/" (all 10^4 jobs)', argv: [BUNDLE, '__complete', 'bash', 'status', 'big/'], env: env(big) },
      { label: 'complete "qdo show big/job04242@"', argv: [BUNDLE, '__complete', 'bash', 'show', 'big/job04242@'], env: env(big) },
    ];
    for (const c of comp) for (let i = 0; i < 3; i++) once(c);
    const [b2, ...t2] = measure([{ ...base, env: env(big) }, ...comp], runs);
    print(`completion over 10,000 jobs (medians of ${runs} interleaved runs)`, comp.map((c) => c.label), t2, b2!, 'node -e 0');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** `qdo submit` on Slurm against `node -e 0` + one raw sbatch of the same script, held and cancelled. */
export async function submitBench(runs = Number(process.env.QDO_BENCH_RUNS ?? 11)): Promise<void> {
  if (spawnSync('sbatch', ['--version'], { encoding: 'utf8' }).status !== 0) {
    console.log('\nsubmit on Slurm: skipped (no sbatch on PATH)');
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'qdo-bench-submit-'));
  const ids: string[] = [];
  const cancel = () => {
    for (let i = 0; i < ids.length; i += 500) spawnSync('scancel', ids.slice(i, i + 500));
    ids.length = 0;
  };
  try {
    const env = { QDO_HOME: tmp, QDO_SCHEDULER: 'slurm', XDG_CACHE_HOME: join(tmp, 'cache') };
    once({ label: '', argv: [BUNDLE, 'project', 'add', 'p'], env });
    const script = join(tmp, 'job.sh');
    writeFileSync(script, '#!/bin/bash\n#SBATCH --time=1\n#SBATCH --output=/dev/null\ntrue\n');
    let n = 0;
    const node: Case = { label: 'node -e 0', argv: ['-e', '0'], env };
    const raw: Case = { label: 'sbatch --hold', argv: ['sbatch', '--parsable', '--hold', script], env, shell: true, after: (o) => void ids.push(o.trim().split(';')[0]!) };
    const qdo: Case = {
      label: 'qdo submit --hold',
      get argv() {
        return [BUNDLE, 'submit', `p/j${n++}`, '--hold', '--time', '1', '--json', '--', 'true'];
      },
      env,
      after: (o) => void ids.push(String((JSON.parse(o) as { sched_id: string }).sched_id)),
    };
    for (let i = 0; i < 3; i++) once(qdo);
    cancel();
    const [tn, tr, tq] = measure([node, raw, qdo], runs);
    cancel();
    const baseline = tn! + tr!;
    console.log(`\nqdo submit on Slurm (medians of ${runs} interleaved runs; every job held, then cancelled)`);
    console.log(`  ${'node -e 0 + one raw sbatch --hold'.padEnd(44)} 1.00x  (baseline: ${tn!.toFixed(0)} + ${tr!.toFixed(0)} ms here)`);
    console.log(`  ${'qdo submit p/jN --hold -- true'.padEnd(44)} ${(tq! / baseline).toFixed(2)}x  (${tq!.toFixed(0)} ms)`);
  } finally {
    cancel();
    rmSync(tmp, { recursive: true, force: true });
  }
}
