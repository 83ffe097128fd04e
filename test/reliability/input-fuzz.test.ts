// R4 input fuzz, bounded (README.md §Input fuzz): QDO_FUZZ_CASES cases (default 300) from
// seed QDO_FUZZ_SEED (default 9), in-process, plus a few real spawns of the built binary.
// `npm run reliability:fuzz` runs the same with many more cases and a fresh seed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/cli.js';
import { fuzzHome, makeCase, runCase, spawnCase, type Outcome } from './input-fuzz.js';

const CASES = Number(process.env.QDO_FUZZ_CASES ?? 300);
// "random": a new seed each run (printed, so a failure can be replayed with QDO_FUZZ_SEED).
const SEED = process.env.QDO_FUZZ_SEED === 'random' ? Date.now() % 1_000_000_007 : Number(process.env.QDO_FUZZ_SEED ?? 9);
const SPAWNS = Number(process.env.QDO_FUZZ_SPAWNS ?? 8);

test(`input fuzz: ${CASES} names, flags, templates and sweep files (seed ${SEED})`, async () => {
  const home = tempDir('qdo-fuzz-');
  const scratch = join(home, '..', `${home.split('/').pop()}-scratch`);
  mkdirSync(scratch);
  try {
    const opts = await fuzzHome(home, scratch);
    const counts: Record<string, Record<number, number>> = {};
    const outcomes: Outcome[] = [];
    const t0 = Date.now();
    for (let i = 0; i < CASES; i++) {
      const o = await runCase(makeCase(SEED, i), opts, scratch, `[seed ${SEED} case ${i}]`);
      outcomes.push(o);
      const c = (counts[o.kase.kind] ??= {});
      c[o.result.code] = (c[o.result.code] ?? 0) + 1;
    }
    // Real processes for a spread of outcomes: the same answer as in-process.
    // (A real argv cannot carry NUL bytes; project names would stay registered, so not those.)
    const spawnable = outcomes.filter((o) => o.kase.kind !== 'project-name' && !o.kase.args.some((a) => a.includes('\0')));
    const sample = spawnable.filter((_, i) => i % Math.max(1, Math.floor(spawnable.length / SPAWNS)) === 0).slice(0, SPAWNS);
    for (const o of sample) spawnCase(o.kase, opts, scratch, o.result.code, `[seed ${SEED}]`);
    const summary = Object.entries(counts)
      .map(([k, c]) => `${k} ${Object.entries(c).map(([code, n]) => `${n}×${code}`).join(' ')}`)
      .join('; ');
    console.log(`  fuzz: ${CASES} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${sample.length} spawned: ${summary}`);
    // Every kind was exercised, and both accepted and refused inputs occurred.
    assert.ok(Object.keys(counts).length >= 5, summary);
    assert.ok(outcomes.some((o) => o.result.code === 0) && outcomes.some((o) => o.result.code === 2), summary);
  } finally {
    removeDir(home);
    removeDir(scratch);
  }
});

test.run();
