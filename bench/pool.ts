// Benchmarks of pools (spec/pools.md), as ratios measured in one run:
//  - worker overhead: N runs of `true` through one local worker with 4 slots, against the
//    same rendered run scripts started by `xargs -P 4` (the wrapper's own cost, no worker):
//    runs/s of each and what the worker adds per run;
//  - on Slurm: 1,000 runs of `true` through a pool of at most 2 pilot jobs of 4 slots against
//    1,000 separate Slurm jobs, both submitted by qdo (a sweep, --no-array) and waited for
//    with `qdo wait`: submission to all-ended. Needs sbatch on PATH; skipped otherwise.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const QDO = [process.execPath, join(REPO, 'dist/qdo.cjs')]; // the bundle users run

function sh(argv: string[], env: Record<string, string | undefined>, input?: string): { stdout: string; ms: number } {
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', maxBuffer: 1 << 28, input });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${argv.slice(0, 4).join(' ')} … failed (${r.status}): ${r.stderr}`);
  return { stdout: r.stdout, ms };
}

function values(n: number): string {
  return Array.from({ length: n }, (_, i) => String(i)).join(',');
}

export async function workerOverhead(): Promise<void> {
  const N = Number(process.env.POOL_BENCH_RUNS ?? 200);
  const dir = mkdtempSync(join(tmpdir(), 'qdo-bench-pool-'));
  const env = { ...process.env, QDO_HOME: dir };
  try {
    sh([...QDO, 'project', 'add', 'p'], env);
    sh([...QDO, 'pool', 'add', 'w'], env);
    const rounds: { worker: number; xargs: number; cpu: number }[] = [];
    for (let round = 0; round < 2; round++) {
      // The same N runs queued again each round (a new sweep: new versions), then run by one worker…
      sh([...QDO, 'submit', `p/r{{i}}`, '--pool', 'w', '--set', `round=${round}`, '--grid', `i=${values(N)}`, '--', 'true'], env);
      const scripts = readdirSync(join(dir, 'p/runs')).map((name) => {
        const vs = readdirSync(join(dir, 'p/runs', name)).sort((a, b) => Number(b.split('-')[0]) - Number(a.split('-')[0]));
        return join(dir, 'p/runs', name, vs[0]!, 'job.pool:w.sh');
      });
      const r = sh([...QDO, 'pool', 'worker', 'w', '--slots', '4', '--idle', '1s'], env);
      const m = /(\d+) ended.*worker CPU ([\d.]+) s/.exec(r.stdout);
      if (!m || Number(m[1]) !== N) throw new Error(`expected ${N} ended runs: ${r.stdout}`);
      // …and the very same run scripts started 4 at a time by xargs: the wrapper's own cost.
      writeFileSync(join(dir, 'list'), scripts.join('\n') + '\n');
      const x = sh(['bash', '-c', `xargs -P 4 -n 1 bash < ${join(dir, 'list')}`], { ...env, QDO_POOL_RUN: 'bench' }).ms;
      rounds.push({ worker: r.ms - 1000, xargs: x, cpu: Number(m[2]) * 1000 });
    }
    const w = Math.min(...rounds.map((r) => r.worker));
    const x = Math.min(...rounds.map((r) => r.xargs));
    const cpu = Math.min(...rounds.map((r) => r.cpu));
    console.log(`\npool worker: ${N} runs of true, 4 slots (best of 2 rounds, worker and xargs alternating; ratio to the same run scripts started by xargs -P 4)`);
    console.log(`  xargs -P 4 bash <run script>      1.00x  (baseline, ${(x / 1000).toFixed(1)} s, ${((N / x) * 1000).toFixed(1)} runs/s)`);
    console.log(`  qdo pool worker --slots 4          ${(w / x).toFixed(2)}x  (${(w / 1000).toFixed(1)} s, ${((N / w) * 1000).toFixed(1)} runs/s; the worker process itself: ${(cpu / N).toFixed(1)} ms CPU per run)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits for `qdo wait PATTERN` (a process), returning its wall time. */
function qdoWait(pattern: string, env: Record<string, string | undefined>): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(QDO[0]!, [QDO[1]!, 'wait', pattern, '--timeout', '30m'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.once('exit', (code) => (code === 0 ? resolve(performance.now() - t) : reject(new Error(`qdo wait ${pattern} exited ${code}: ${err}`))));
  });
}

export async function slurmPool(): Promise<void> {
  if (spawnSync('sbatch', ['--version'], { encoding: 'utf8' }).status !== 0) {
    console.log('\npool on Slurm: skipped (no sbatch on PATH; run it on a machine with Slurm)');
    return;
  }
  const N = Number(process.env.POOL_BENCH_SLURM_RUNS ?? 1000);
  const dir = mkdtempSync(join(tmpdir(), 'qdo-bench-pool-slurm-'));
  const env = { ...process.env, QDO_HOME: dir };
  const mine = new Set<string>();
  try {
    sh([...QDO, 'project', 'add', 'p'], env);
    writeFileSync(join(dir, '.qdo/config.json'), JSON.stringify({ status_interval: 2 }));
    // Baseline: N separate Slurm jobs, as qdo submits them one by one.
    const t0 = performance.now();
    const sub = JSON.parse(sh([...QDO, 'submit', 'p/s{{i}}', '--scheduler', 'slurm', '--no-array', '--time', '5', '--grid', `i=${values(N)}`, '--json', '--', 'true'], env).stdout);
    for (const pt of sub.points) mine.add(String(pt.sched_id));
    const subMs = performance.now() - t0;
    await qdoWait('p/s*', env);
    const jobs = performance.now() - t0;
    // A pool of at most 2 pilots of 4 slots (one CPU each, so other people's jobs still fit).
    sh([...QDO, 'pool', 'add', 'bench', '--scheduler', 'slurm', '--nodes', '0..2', '--slots', '4', '--cpus', '1', '--time', '30m', '--idle', '10s'], env);
    const t1 = performance.now();
    sh([...QDO, 'submit', 'p/q{{i}}', '--pool', 'bench', '--grid', `i=${values(N)}`, '--', 'true'], env);
    const poolSubMs = performance.now() - t1;
    await qdoWait('p/q*', env);
    const pool = performance.now() - t1;
    const pilotsDir = join(dir, '.qdo/pools/bench/pilots');
    const pilots = readdirSync(pilotsDir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(pilotsDir, f), 'utf8')).sched_id as string | null);
    for (const id of pilots) if (id) mine.add(id);
    console.log(`\npool on Slurm: ${N} runs of true, submission to all ended (one run; ratio to ${N} separate Slurm jobs)`);
    console.log(`  ${N} Slurm jobs (qdo submit --grid --no-array)   1.00x  (baseline, ${(jobs / 1000).toFixed(1)} s; submitting ${(subMs / 1000).toFixed(1)} s)`);
    console.log(`  pool, <= 2 pilots x 4 slots (--pool)          ${(pool / jobs).toFixed(2)}x  (${(pool / 1000).toFixed(1)} s; submitting ${(poolSubMs / 1000).toFixed(1)} s; ${pilots.length} sbatch call(s))`);
  } finally {
    // Only this benchmark's own jobs and pilots, by id.
    const ids = [...mine];
    for (let i = 0; i < ids.length; i += 500) spawnSync('scancel', ids.slice(i, i + 500), { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function poolBench(): Promise<void> {
  await workerOverhead();
  await slurmPool();
}
