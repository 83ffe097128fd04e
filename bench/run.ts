// Benchmarks (run by `npm run bench`). Figures are ratios measured in one run, since these
// machines are noisy: each case is compared with a baseline measured alongside it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAllocation } from '../src/store/layout.js';
import { encodePacked, readRefs, updateRef, writeAllRefs, type RefMap } from '../src/store/refs.js';
import { writeFileAtomic } from '../src/store/atomic.js';
import { objectId } from '../src/model/object-id.js';
import { canonicalBytes } from '../src/model/canonical-json.js';
import { sweepBench } from './sweep.js';

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

async function startup(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'qdo-bench-'));
  const env = { QDO_HOME: home };
  const runs = 15;
  const base = timeProcess(['-e', '0'], runs, env);
  const rows: [string, string[]][] = [
    ['bundle  qdo --version', [join(REPO, 'dist/qdo.cjs'), '--version']],
    ['bundle  qdo project list', [join(REPO, 'dist/qdo.cjs'), 'project', 'list']],
    ['tree    qdo --version', [join(REPO, 'dist/src/cli/bin.js'), '--version']],
    ['tree    qdo project list', [join(REPO, 'dist/src/cli/bin.js'), 'project', 'list']],
    ['bundle  qdo sched detect --for local', [join(REPO, 'dist/qdo.cjs'), 'sched', 'detect', '--for', 'local']],
    ['bundle  qdo status (no jobs)', [join(REPO, 'dist/qdo.cjs'), 'status']],
    ['tree    qdo status (no jobs)', [join(REPO, 'dist/src/cli/bin.js'), 'status']],
  ];
  console.log(`\nstart-up (median of ${runs}; baseline node -e 0 = ${base.toFixed(0)} ms)`);
  for (const [name, argv] of rows) {
    const t = timeProcess(argv, runs, env);
    console.log(`  ${name.padEnd(38)} ${(t / base).toFixed(2)}x node -e 0   (+${(t - base).toFixed(0)} ms)`);
  }
  rmSync(home, { recursive: true, force: true });
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

/**
 * An allocation of `jobs` names with `versions` versions each, as qdo submit leaves it:
 * a manifest chain per name, a submission record per version (all ended), one refs file.
 * Written without fsync (the layout is what matters, not how it got there).
 */
async function buildAllocation(dir: string, jobs: number, versions: number): Promise<void> {
  const { layout } = await createAllocation(dir);
  writeFileSync(layout.projects, 'big\n');
  mkdirSync(join(dir, 'big'), { recursive: true });
  const script = Buffer.from('#!/bin/bash\ntrue\n');
  const scriptId = objectId(script);
  const put = (id: string, bytes: Buffer, under: string, suffix = '') => {
    const d = join(under, id.slice(0, 2));
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, id.slice(2) + suffix), bytes);
  };
  put(scriptId, script, layout.objects);
  const refs: RefMap = new Map();
  const subs = join(layout.dir, 'submissions');
  for (let j = 0; j < jobs; j++) {
    const name = `job${String(j).padStart(5, '0')}`;
    let parent: string | null = null;
    for (let v = 1; v <= versions; v++) {
      const created = new Date(Date.UTC(2026, 0, 1) + (j * versions + v) * 1000).toISOString();
      const m = { schema: 'qdo.job/v1', project: 'big', name, version: v, parent, script: scriptId, resources: { time: 60 }, scheduler: 'local', params: {}, env: {}, prologue: null, epilogue: null, created };
      const bytes = canonicalBytes(m);
      const id = objectId(bytes);
      put(id, bytes, layout.objects);
      const rec = { schema: 'qdo.submission/v1', id, project: 'big', name, version: v, scheduler: 'local', cluster: 'local@bench', host: 'bench', pid: 1, intent: created, submitted: created, sched_id: String(j * versions + v), after: [], state: 'completed', state_source: 'exit-record', state_time: created, exit_code: 0, reason: null };
      put(id, canonicalBytes(rec), subs, '.json');
      parent = id;
    }
    refs.set(name, parent!);
  }
  await writeAllRefs(layout, 'big', refs);
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
if (!only || only === 'startup') await startup();
if (!only || only === 'refs') await refsAtScale();
if (!only || only === 'status') await statusAtScale();
if (!only || only === 'sweep') await sweepBench();
