// Benchmarks (run by `npm run bench`). Figures are ratios measured in one run, since these
// machines are noisy: each case is compared with a baseline measured alongside it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAllocation } from '../src/store/layout.js';
import { encodePacked, readRefs, updateRef, writeAllRefs, type RefMap } from '../src/store/refs.js';
import { writeFileAtomic } from '../src/store/atomic.js';
import { objectId } from '../src/model/object-id.js';
import { sweepBench } from './sweep.js';
import { buildAllocation } from './fixture.js';
import { startupBench, submitBench } from './startup.js';
import { templateBench } from './templates.js';
import { poolBench } from './pool.js';
import { tinyJobsBench } from './tiny-jobs.js';
import { scaleBench } from './scale.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeProcess(argv: string[], runs: number, env: Record<string, string>): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, argv, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', maxBuffer: 1 << 30 });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  }
  return median(times);
}

async function refsAtScale(): Promise<void> {
  const N = 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'qdo-bench-refs-'));
  const { layout } = await createAllocation(dir);
  const map: RefMap = new Map();
  for (let i = 0; i < N; i++) map.set(`job${String(i).padStart(6, '0')}`, objectId(Buffer.from(String(i))));
  await writeAllRefs(layout, 'big', map);
  const id = objectId(Buffer.from('new'));
  // Baseline: what one update costs when the whole refs file is rewritten (a single JSON or
  // a packed file without a journal), with the same atomic write.
  const rewrite: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const m = new Map(map);
    m.set('job000001', id);
    await writeFileAtomic(join(dir, 'rewrite.json'), JSON.stringify(Object.fromEntries(m)));
    rewrite.push(performance.now() - t);
  }
  const rewritePacked: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await writeFileAtomic(join(dir, 'rewrite.refs'), encodePacked(map));
    rewritePacked.push(performance.now() - t);
  }
  // qdo: lock, read (packed + journal), compare, append one line, fsync, unlock. The
  // read of 10^5 packed lines dominates; the write is one line.
  const upd: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await updateRef(layout, { project: 'big', name: `job${String(i % 1000).padStart(6, '0')}`, next: objectId(Buffer.from(`v${i}`)) });
    upd.push(performance.now() - t);
  }
  const read: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await readRefs(layout, 'big');
    read.push(performance.now() - t);
  }
  const small = mkdtempSync(join(tmpdir(), 'qdo-bench-small-'));
  const sl = (await createAllocation(small)).layout;
  const updSmall: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await updateRef(sl, { project: 'small', name: `j${i % 10}`, next: objectId(Buffer.from(`v${i}`)) });
    updSmall.push(performance.now() - t);
  }
  const base = median(rewrite);
  console.log(`\nrefs with ${N.toLocaleString('en')} job names in one project (median)`);
  console.log(`  rewrite whole JSON file per update        1.00x  (${base.toFixed(1)} ms, baseline)`);
  console.log(`  rewrite whole packed file per update      ${(median(rewritePacked) / base).toFixed(2)}x`);
  console.log(`  qdo update-ref (journal append)           ${(median(upd) / base).toFixed(2)}x  (of which reading 10^5 refs: ${(median(read) / base).toFixed(2)}x)`);
  console.log(`  qdo update-ref, project with 10 names     ${(median(updSmall) / base).toFixed(3)}x`);
  rmSync(dir, { recursive: true, force: true });
  rmSync(small, { recursive: true, force: true });
}

/** spec/submissions.md §Refresh: status reads the refs and one record per job shown. */
async function statusAtScale(): Promise<void> {
  const versions = Number(process.env.QDO_BENCH_VERSIONS ?? 100);
  const cases: [string, number, number][] = [
    ['1,000 jobs x 1 version', 1000, 1],
    [`1,000 jobs x ${versions} versions`, 1000, versions],
    ['10,000 jobs x 1 version', 10_000, 1],
  ];
  console.log(`\nqdo status --json over one allocation (process wall time, median of 5)`);
  let base = 0;
  for (const [label, jobs, v] of cases) {
    const dir = mkdtempSync(join(tmpdir(), 'qdo-bench-status-'));
    const t0 = performance.now();
    await buildAllocation(dir, jobs, v);
    const built = performance.now() - t0;
    const t = timeProcess([join(REPO, 'dist/qdo.cjs'), 'status', '--json'], 5, { QDO_HOME: dir, QDO_SCHEDULER: 'local' });
    if (base === 0) base = t;
    console.log(`  ${label.padEnd(30)} ${(t / base).toFixed(2)}x   (${(jobs * v).toLocaleString('en')} versions stored; ${t.toFixed(0)} ms; fixture ${(built / 1000).toFixed(0)} s)`);
    rmSync(dir, { recursive: true, force: true });
  }
}

const only = process.argv[2];
if (!only || only === 'startup') await startupBench();
if (!only || only === 'submit') await submitBench();
if (!only || only === 'refs') await refsAtScale();
if (!only || only === 'status') await statusAtScale();
if (!only || only === 'templates') await templateBench();
if (!only || only === 'sweep') await sweepBench();
if (!only || only === 'pool') await poolBench();
if (!only || only === 'tiny') await tinyJobsBench();
// Long (stores of 10^5 jobs built on disk): only when asked (npm run bench:scale).
if (only === 'scale') await scaleBench();
