// Benchmark: the job wrapper's cost (spec/scheduler-common.md §Cost; issue 14). Two parts:
//  1. the wrapper alone, on this machine: the rendered Slurm script of a job whose script is
//     `true`, run by bash as slurmstepd would, against a bare `#!/bin/bash` + `true` script
//     (what `sbatch --wrap true` runs). Median of many runs; the difference is what the
//     wrapper adds to every job.
//  2. on the real Slurm: 200 tiny jobs as one grid sweep (one packed array job) against a
//     plain shell loop of 200 `sbatch --wrap true`, from the first submit until every job
//     has left the queue; and the same 200 jobs submitted one by one by qdo (--no-array),
//     which isolates the wrapper from the packing. Ratios to the loop, measured in one run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSlurm } from '../src/scheduler/slurm/render.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const N = 200;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function run(argv: string[], env: Record<string, string | undefined> = process.env): { stdout: string; ms: number; status: number | null } {
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  return { stdout: r.stdout, ms: performance.now() - t, status: r.status };
}

function must(argv: string[], env?: Record<string, string | undefined>): { stdout: string; ms: number } {
  const r = run(argv, env);
  if (r.status !== 0) throw new Error(`${argv.slice(0, 3).join(' ')} … failed (${r.status})`);
  return r;
}

/** Part 1: what the wrapper adds to one job, on this machine. */
function wrapperAlone(): void {
  const dir = mkdtempSync(join(tmpdir(), 'qdo-bench-wrapper-'));
  try {
    const runDir = join(dir, 'run');
    mkdirSync(runDir);
    const wrapped = join(dir, 'job.slurm.sh');
    writeFileSync(wrapped, renderSlurm({ jobName: 'tiny', resources: {}, script: 'true\n', runDir, submitDir: dir, env: {} }));
    const bare = join(dir, 'bare.sh');
    writeFileSync(bare, '#!/bin/bash\ntrue\n');
    const env = { PATH: process.env.PATH, SLURM_JOB_ID: '1', SLURM_JOB_NODELIST: 'node[01-02]', SLURM_CPUS_ON_NODE: '1', HOME: dir };
    const w: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 60; i++) {
      rmSync(join(runDir, 'qdo-start.json'), { force: true }); // a first attempt each time
      w.push(must(['bash', wrapped], env).ms);
      b.push(must(['bash', bare], env).ms);
    }
    const mw = median(w);
    const mb = median(b);
    console.log(`\nthe job wrapper alone (median of 60 runs of a job whose script is \`true\`; bash as slurmstepd runs it)`);
    console.log(`  bare #!/bin/bash + true (sbatch --wrap)   ${mb.toFixed(1)} ms`);
    console.log(`  qdo's wrapper + true                       ${mw.toFixed(1)} ms   (adds ${(mw - mb).toFixed(1)} ms; ${(mw / mb).toFixed(2)}x)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until none of these ids (or arrays) is pending, running, completing or suspended; returns when. */
function drained(ids: string[], t0: number): number {
  for (;;) {
    const r = run(['squeue', '-h', '-r', '-t', 'PD,R,CG,S,CF', '-o', '%i', '-j', ids.join(',')]);
    if (r.status !== 0 || r.stdout.trim() === '') return performance.now() - t0;
    const sleep = new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(sleep, 0, 0, 200);
  }
}

/** Part 2: 200 tiny jobs on the real Slurm, until all have ended. */
function onSlurm(): void {
  if (spawnSync('sbatch', ['--version'], { encoding: 'utf8' }).status !== 0) {
    console.log('\ntiny jobs on Slurm: skipped (no sbatch on PATH)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'qdo-bench-tiny-'));
  const env = { ...process.env, QDO_HOME: dir, QDO_SCHEDULER: 'slurm' };
  const qdo = [process.execPath, join(REPO, 'dist/qdo.cjs')]; // the bundle users run
  const made: string[] = [];
  const values = Array.from({ length: N }, (_, i) => String(i)).join(',');
  try {
    must([...qdo, 'project', 'add', 'p'], env);
    const loop = (): number => {
      const t0 = performance.now();
      const ids: string[] = [];
      for (let i = 0; i < N; i++) ids.push(must(['sbatch', '--parsable', '--time=1', '--output=/dev/null', '--wrap', 'true']).stdout.trim().split(';')[0]!);
      made.push(...ids);
      return drained(ids, t0);
    };
    let k = 0;
    const sweep = (extra: string[]): number => {
      const t0 = performance.now();
      const out = JSON.parse(must([...qdo, 'submit', `p/t${++k}-{{i}}`, '--grid', `i=${values}`, '--time', '1', '--json', ...extra, '--', 'true'], env).stdout) as { points: { sched_id: string }[] };
      const ids = [...new Set(out.points.map((p) => p.sched_id.split('_')[0]!))];
      made.push(...ids);
      return drained(ids, t0);
    };
    // Interleaved, twice, so that a burst of other users' jobs weighs on both alike.
    const base: number[] = [];
    const packed: number[] = [];
    const alone: number[] = [];
    for (let round = 0; round < 2; round++) {
      base.push(loop());
      packed.push(sweep([]));
      alone.push(sweep(['--no-array']));
    }
    const b = base.reduce((a, x) => a + x, 0);
    const row = (label: string, xs: number[]) => console.log(`  ${label.padEnd(48)} ${(xs.reduce((a, x) => a + x, 0) / b).toFixed(3)}x  (${xs.map((x) => (x / 1000).toFixed(1)).join(' s, ')} s)`);
    console.log(`\n${N} tiny jobs (script \`true\`) on the real Slurm, first submit to all ended (two interleaved rounds; sums)`);
    row(`${N} x sbatch --wrap true (shell loop)`, base);
    row(`qdo submit --grid (one array job)`, packed);
    row(`qdo submit --grid --no-array (${N} sbatch + wrapper)`, alone);
  } finally {
    for (let i = 0; i < made.length; i += 500) spawnSync('scancel', made.slice(i, i + 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function tinyJobsBench(): Promise<void> {
  wrapperAlone();
  onSlurm();
}
