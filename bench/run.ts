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

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeProcess(argv: string[], runs: number, env: Record<string, string>): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, argv, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
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
    ['bundle  qdo --version', [join(REPO, 'dist/qdo.mjs'), '--version']],
    ['bundle  qdo project list', [join(REPO, 'dist/qdo.mjs'), 'project', 'list']],
    ['tree    qdo --version', [join(REPO, 'dist/src/cli/bin.js'), '--version']],
    ['tree    qdo project list', [join(REPO, 'dist/src/cli/bin.js'), 'project', 'list']],
    ['bundle  qdo sched detect --for local', [join(REPO, 'dist/qdo.mjs'), 'sched', 'detect', '--for', 'local']],
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

await startup();
await refsAtScale();
