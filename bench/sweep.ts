// Benchmark: a 1,000-point sweep against 1,000 raw `sbatch` calls on the real Slurm
// (spec/sweeps.md §Packing). Everything is submitted held and cancelled afterwards, so
// the node runs nothing and only submission is measured. Figures are ratios to the raw
// sbatch loop measured in the same run. Needs sbatch on PATH; skipped otherwise.
// QDO_BENCH_QDO=ENTRY,ENTRY… measures other builds' entries (a build before a change, the
// bundle dist/qdo.cjs) against the same loop; QDO_BENCH_ONLY=packed leaves out --no-array
// and the 10^4-point sweep.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const N = 1000;

function sh(argv: string[], env: Record<string, string | undefined> = process.env): { stdout: string; ms: number } {
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${argv.slice(0, 3).join(' ')} … failed (${r.status}): ${r.stderr}`);
  return { stdout: r.stdout, ms };
}

/** Cancels the jobs this benchmark made (by id, a thousand at a time). */
function cancel(ids: string[]): void {
  for (let i = 0; i < ids.length; i += 1000) spawnSync('scancel', ids.slice(i, i + 1000), { encoding: 'utf8' });
}

export async function sweepBench(): Promise<void> {
  if (spawnSync('sbatch', ['--version'], { encoding: 'utf8' }).status !== 0) {
    console.log('\nsweep: skipped (no sbatch on PATH; run it on a machine with Slurm)');
    return;
  }
  const entries = (process.env.QDO_BENCH_QDO ?? join(REPO, 'dist/qdo.cjs')).split(',');
  const only = process.env.QDO_BENCH_ONLY?.split(',');
  const dirs: string[] = [];
  const made: string[] = [];
  const cleanups: (() => void)[] = [];
  try {
    // Baseline: what a user's shell loop costs, one sbatch per job.
    const base = mkdtempSync(join(tmpdir(), 'qdo-bench-sweep-'));
    dirs.push(base);
    const script = join(base, 'job.sh');
    writeFileSync(script, '#!/bin/bash\n#SBATCH --time=1\n#SBATCH --output=/dev/null\ntrue\n');
    let raw = 0;
    for (let i = 0; i < N; i++) {
      const r = sh(['sbatch', '--parsable', '--hold', script]);
      raw += r.ms;
      made.push(r.stdout.trim().split(';')[0]!);
    }
    cancel(made.splice(0));
    const values = Array.from({ length: N }, (_, i) => String(i)).join(',');
    const rows: (() => void)[] = [];
    for (const entry of entries) {
      const dir = mkdtempSync(join(tmpdir(), 'qdo-bench-sweep-'));
      dirs.push(dir);
      const env = { ...process.env, QDO_HOME: dir, QDO_SCHEDULER: 'slurm' };
      const qdo = [process.execPath, entry];
      // Whatever a failed run left held: qdo cancels its own jobs by their records.
      cleanups.push(() => void spawnSync(qdo[0]!, [qdo[1]!, 'cancel', 'p/*'], { env, encoding: 'utf8' }));
      sh([...qdo, 'project', 'add', 'p'], env);
      const sweep = (name: string, extra: string[]) => {
        const r = sh([...qdo, 'submit', `p/${name}{{i}}`, '--grid', `i=${values}`, '--time', '1', '--hold', '--json', ...extra, '--', 'true'], env);
        const out = JSON.parse(r.stdout) as { points: { sched_id: string }[]; chunks: { sched_id: string | null; packed: boolean }[] };
        made.push(...new Set(out.points.map((p) => p.sched_id.split('_')[0]!)));
        cancel(made.splice(0));
        return { ms: r.ms, arrays: out.chunks.filter((c) => c.packed).length };
      };
      const packed = sweep('a', []);
      // The same command again: nothing is submitted (every point is found done).
      const again = sh([...qdo, 'submit', 'p/a{{i}}', '--grid', `i=${values}`, '--time', '1', '--hold', '--json', '--', 'true'], env).ms;
      const alone = only?.includes('packed') ? null : sweep('b', ['--no-array']);
      // Issue 13: a sweep of 10^4 points (packed into arrays of at most MaxArraySize).
      // On a small test Slurm (MaxJobCount 10,000, shared) the controller may stall on it: then
      // the failure is printed, and qdo cancels what it submitted (finally, below).
      const big = only?.includes('packed')
        ? null
        : (() => {
            const vals = Array.from({ length: 10 * N }, (_, i) => String(i)).join(',');
            try {
              const r = sh([...qdo, 'submit', 'p/c{{i}}', '--grid', `i=${vals}`, '--time', '1', '--hold', '--json', '--', 'true'], env);
              const out = JSON.parse(r.stdout) as { points: { sched_id: string }[]; chunks: { packed: boolean }[] };
              made.push(...new Set(out.points.map((p) => p.sched_id.split('_')[0]!)));
              cancel(made.splice(0));
              return { ms: r.ms, arrays: out.chunks.filter((c) => c.packed).length, error: null };
            } catch (e) {
              return { ms: NaN, arrays: 0, error: (e as Error).message.slice(0, 300) };
            }
          })();
      rows.push(() => {
        if (entries.length > 1) console.log(`  ${entry}:`);
        row(`qdo submit --grid (${packed.arrays} array job${packed.arrays === 1 ? '' : 's'})`, packed.ms, `  (~${(packed.ms / 1000).toFixed(1)} s)`);
        row('the same command again (nothing to submit)', again);
        if (alone) row(`qdo submit --grid --no-array (${N} sbatch)`, alone.ms, `  (~${(alone.ms / 1000).toFixed(1)} s)`);
        if (big?.error === null) row(`qdo submit --grid, ${10 * N} points (${big.arrays} array jobs)`, big.ms, `  (~${(big.ms / 1000).toFixed(1)} s; target 10 s)`);
        else if (big) console.log(`  qdo submit --grid, ${10 * N} points: failed: ${big.error}`);
      });
    }
    const row = (label: string, ms: number, note = '') => console.log(`  ${label.padEnd(46)} ${(ms / raw).toFixed(3)}x${note}`);
    console.log(`\nsweep of ${N} points vs ${N} raw sbatch calls (one run; all submitted held, then cancelled)`);
    row(`${N} x sbatch --hold (shell loop)`, raw, `  (baseline, ~${(raw / 1000).toFixed(1)} s here)`);
    for (const r of rows) r();
  } finally {
    cancel(made);
    for (const c of cleanups) c();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
