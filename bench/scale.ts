// Benchmarks at scale (issue 13; `npm run bench:scale`, or `node dist/bench/run.js scale`).
// Stores of 10^4–10^6 versions are built directly through the store's encoders and paths
// (no fsync, no processes: the layout is what matters, not how it got there), then qdo
// runs as a process on them. Every figure is a ratio to `node -e 0` measured in the same
// run; absolute times are shown for orientation. QDO_BENCH_SCALE=0.1 shrinks every size
// tenfold (a quick look), QDO_BENCH_ONLY=log,gc,... picks cases.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAllocation, type Layout } from '../src/store/layout.js';
import { writeAllRefs, type RefMap } from '../src/store/refs.js';
import { objectPath } from '../src/store/objects.js';
import { submissionPath } from '../src/store/submissions.js';
import { encodeManifest, type Manifest } from '../src/model/manifest.js';
import { encodeSubmission, type Submission } from '../src/model/submission.js';
import { objectId } from '../src/model/object-id.js';
import { runDirOf } from '../src/core/runs.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

// On ext4 without a journal (this machine's root file system), a new inode is never one
// freed less than 60 s ago (300 s more while its inode table block is dirty): the
// allocator steps over each such inode, one buffer look-up apiece, and a case right after
// another removed 10^5 files paid for that removal (perf: 31% of a sweep in
// __ext4_new_inode -> recently_deleted). Cases that create many files start once the
// removals of earlier cases are on disk and 61 s old (settle()).
let lastRemoval = Date.now(); // what ran before the bench may have removed files too
function remove(d: string): void {
  rmSync(d, { recursive: true, force: true });
  lastRemoval = Date.now();
}
function settle(): void {
  execFileSync('sync');
  const wait = lastRemoval + 61_000 - Date.now();
  if (wait > 0) execFileSync('sleep', [String(Math.ceil(wait / 1000))]);
}
// The bundle users run (dist/qdo.cjs), not the compiled tree.
const QDO = join(REPO, 'dist/qdo.cjs');
const SCALE = Number(process.env.QDO_BENCH_SCALE ?? 1);
const ONLY = process.env.QDO_BENCH_ONLY?.split(',');
const n = (x: number) => Math.max(1, Math.round(x * SCALE));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Timed {
  ms: number;
  stdout: string;
}

/** Runs qdo (or node) as a process; median wall time of `runs`, the last run's peak RSS. */
function time(argv: string[], runs: number, env: Record<string, string>, ok: (status: number | null) => boolean = (s) => s === 0): Timed {
  const times: number[] = [];
  let stdout = '';
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, argv, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', maxBuffer: 1 << 30 });
    times.push(performance.now() - t);
    if (!ok(r.status)) throw new Error(`${argv.slice(1).join(' ')} failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
    stdout = r.stdout;
  }
  return { ms: median(times), stdout };
}

/**
 * A start-up-bound command against `node -e 0`, interleaved (these machines drift within a
 * run): two warm-up runs (the command's code cache is made by its first two), then `rounds`
 * pairs; the medians of each.
 */
function interleaved(argv: string[], rounds: number, env: Record<string, string>): { ms: number; base: number } {
  time(argv, 2, env);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    b.push(time(['-e', '0'], 1, {}).ms);
    a.push(time(argv, 1, env).ms);
  }
  return { ms: median(a), base: median(b) };
}

/** Peak RSS of a qdo process, through GNU time if present. */
function timeRss(argv: string[], env: Record<string, string>): number | null {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...argv], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', maxBuffer: 1 << 30 });
  const m = /(\d+)\s*$/.exec(r.stderr ?? '');
  return r.status === 0 && m ? Number(m[1]) / 1024 : null;
}

export interface BuildSpec {
  project: string;
  jobs: number;
  versions: number;
  /** State of every record: ended ('completed') or live ('pending', on scheduler `scheduler`). */
  state?: Submission['state'];
  scheduler?: string;
  /** Make a run folder (one small file) for every version. */
  runDirs?: boolean;
  /** First job number (to put several projects in one allocation). */
  prefix?: string;
}

/**
 * Writes jobs × versions into an allocation as `qdo submit` leaves them: a manifest chain
 * per name, a record per version, the refs of the project; optionally a run folder per
 * version. Shard folders are made once, files written plainly.
 */
export async function buildStore(dir: string, specs: BuildSpec[]): Promise<Layout> {
  const { layout } = await createAllocation(dir);
  writeFileSync(layout.projects, specs.map((s) => s.project).sort().join('\n') + '\n');
  const subsDir = join(layout.dir, 'submissions');
  for (let i = 0; i < 256; i++) {
    const h = i.toString(16).padStart(2, '0');
    mkdirSync(join(layout.objects, h), { recursive: true });
    mkdirSync(join(subsDir, h), { recursive: true });
  }
  const script = Buffer.from('#!/bin/bash\ntrue\n');
  const scriptId = objectId(script);
  writeFileSync(objectPath(layout, scriptId), script, { mode: 0o444 });
  let seq = 0;
  for (const s of specs) {
    mkdirSync(join(dir, ...s.project.split('/')), { recursive: true });
    const refs: RefMap = new Map();
    for (let j = 0; j < s.jobs; j++) {
      const name = `${s.prefix ?? 'job'}${String(j).padStart(6, '0')}`;
      let parent: string | null = null;
      for (let v = 1; v <= s.versions; v++) {
        seq++;
        const created = new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString();
        const m = { schema: 'qdo.job/v1', project: s.project, name, version: v, parent, script: scriptId, resources: { time: 60 }, scheduler: s.scheduler ?? 'local', params: {}, env: {}, prologue: null, epilogue: null, created } as unknown as Manifest;
        const { bytes, id } = encodeManifest(m);
        writeFileSync(objectPath(layout, id), bytes, { mode: 0o444 });
        const state = s.state ?? 'completed';
        const ended = state === 'completed';
        const rec = { schema: 'qdo.submission/v1', id, project: s.project, name, version: v, scheduler: s.scheduler ?? 'local', cluster: s.scheduler === 'slurm' ? 'slurm@bench' : 'local@bench', host: 'bench', pid: 1, intent: created, submitted: created, sched_id: String(100000 + seq), after: [], state, state_source: ended ? 'exit-record' : 'queue', state_time: created, exit_code: ended ? 0 : null, reason: null } as unknown as Submission;
        writeFileSync(submissionPath(layout, id), encodeSubmission(rec));
        if (s.runDirs) {
          const rd = runDirOf(layout, { project: s.project, name, version: v }, id);
          mkdirSync(rd, { recursive: true });
          writeFileSync(join(rd, 'qdo-exit.json'), '{"exit_code":0}\n');
        }
        parent = id;
      }
      refs.set(name, parent!);
    }
    await writeAllRefs(layout, s.project, refs);
  }
  return layout;
}

function fmt(label: string, t: number, base: number, extra = ''): string {
  return `  ${label.padEnd(52)} ${(t / base).toFixed(2).padStart(7)}x node -e 0  (${t >= 10_000 ? (t / 1000).toFixed(1) + ' s' : t.toFixed(0) + ' ms'}${extra})`;
}

function want(k: string): boolean {
  return !ONLY || ONLY.includes(k);
}

export async function scaleBench(): Promise<void> {
  const tmp = (p: string) => mkdtempSync(join(tmpdir(), `qdo-scale-${p}-`));
  const baseEnv = { QDO_SCHEDULER: 'local' };
  const node0 = () => time(['-e', '0'], 9, {}).ms;
  const base = node0();
  console.log(`\nscale (issue 13): ratios to node -e 0 = ${base.toFixed(0)} ms in this run; QDO_BENCH_SCALE=${SCALE}`);

  if (want('sweep-local')) {
    // First, before any case here removes a store (see settle()), and no store removed until
    // every build has swept: the sweeps create 10^4 files each on a file system with no
    // recently freed inodes. QDO_BENCH_QDO=ENTRY,ENTRY… runs this case with each (a build
    // before a change, the bundle dist/qdo.cjs users run), one after another in this run.
    const points = n(10_000);
    settle();
    const runs: { entry: string; d: string; env: Record<string, string> }[] = [];
    for (const entry of (process.env.QDO_BENCH_QDO ?? QDO).split(',')) {
      const d = tmp('sweep');
      mkdirSync(d, { recursive: true });
      const env = { ...baseEnv, QDO_HOME: d };
      runs.push({ entry, d, env });
      time([entry, 'project', 'add', 'sc'], 1, env);
      execFileSync('sync');
      const t = time([entry, 'submit', 'sc/j{{ i }}', '--grid', `i=${Array.from({ length: points }, (_, i) => i).join(',')}`, '--hold', '--', 'true'], 1, env);
      if (process.env.QDO_BENCH_QDO) console.log(`  ${entry}:`);
      console.log(fmt(`qdo submit --grid, ${points.toLocaleString('en')} points, local backend, held`, t.ms, base));
      // The first status after the sweep on its own: it used to write every record once (the
      // queue confirming the held state qdo had recorded), 10^4 rewrites.
      const first = time([entry, 'status', '--json'], 1, env);
      console.log(fmt(`first qdo status --json after that sweep`, first.ms, base));
      const st = time([entry, 'status', '--json'], 3, env);
      console.log(fmt(`qdo status --json over those ${points.toLocaleString('en')} live local jobs`, st.ms, base));
    }
    // Let go of the held jobs: nothing may run after the benchmark. Timed: one record change
    // and one spool entry per job (it took minutes before stop 22).
    for (const r of runs) {
      const cancel = time([r.entry, 'cancel', 'sc/*'], 1, r.env, () => true);
      console.log(fmt(`${process.env.QDO_BENCH_QDO ? r.entry + ': ' : ''}qdo cancel 'sc/*', those ${points.toLocaleString('en')} held jobs`, cancel.ms, base));
    }
    for (const r of runs) remove(r.d);
  }

  if (want('log')) {
    for (const versions of [n(100), n(10_000)]) {
      const d = tmp('log');
      await buildStore(d, [{ project: 'p', jobs: 1, versions }]);
      const env = { ...baseEnv, QDO_HOME: d };
      const t5 = interleaved([QDO, 'log', '-n', '5', 'p/job000000'], 21, env);
      console.log(fmt(`qdo log -n 5, a chain of ${versions.toLocaleString('en')} versions`, t5.ms, t5.base, `; node -e 0 ${t5.base.toFixed(0)} ms alongside`));
      if (versions <= 10_000) {
        const all = time([QDO, 'log', 'p/job000000'], 3, env);
        console.log(fmt(`qdo log (all ${versions.toLocaleString('en')} versions)`, all.ms, base, `, ${((all.ms - base) / versions * 1000).toFixed(0)} µs a version`));
      }
      remove(d);
    }
  }

  if (want('status-a')) {
    for (const versions of [n(100), n(1000)]) {
      const d = tmp('stata');
      await buildStore(d, [{ project: 'p', jobs: 10, versions }]);
      const t = time([QDO, 'status', '-a', '--json'], 3, { ...baseEnv, QDO_HOME: d });
      console.log(fmt(`qdo status -a --json, 10 jobs x ${versions.toLocaleString('en')} versions`, t.ms, base, `, ${((t.ms - base) / (10 * versions) * 1000).toFixed(0)} µs a version`));
      remove(d);
    }
  }

  if (want('status')) {
    const jobs = n(100_000);
    const d = tmp('status');
    const t0 = performance.now();
    // 10^5 jobs in "big", plus a small project "small" that a filter should read alone.
    await buildStore(d, [
      { project: 'big', jobs, versions: 1 },
      { project: 'small', jobs: 10, versions: 1 },
    ]);
    const built = (performance.now() - t0) / 1000;
    const env = { ...baseEnv, QDO_HOME: d };
    // The first status reads every record and writes the ended-jobs cache; the folders it
    // trusts are kept once they have been unchanged for 2 s (spec/submissions.md §Ended-jobs
    // cache), so the next one writes it again. What a user sees every time after: the third.
    const cold = time([QDO, 'status', '--json'], 1, env);
    await new Promise((r) => setTimeout(r, 2100));
    time([QDO, 'status', '--json'], 1, env);
    console.log(fmt(`qdo status --json, ${jobs.toLocaleString('en')} ended jobs, first run (no cache yet)`, cold.ms, base));
    const all = time([QDO, 'status', '--json'], 3, env);
    // The first overview writes the overview cache (spec/submissions.md §Overview cache): the
    // record folders have been still for 2 s by now. The runs after read it.
    const firstView = time([QDO, 'status'], 1, env);
    console.log(fmt(`qdo status, the first overview (reads the refs and the ended-jobs cache)`, firstView.ms, base));
    // The overview leaves out jobs that ended over 7 days ago (the fixture's all did: they
    // are counted from the cache's line heads); --since all lists every one.
    const view = time([QDO, 'status'], 3, env);
    console.log(fmt(`qdo status (the overview: ${jobs.toLocaleString('en')} jobs ended > 7 days ago, counted)`, view.ms, base));
    const table = time([QDO, 'status', '--since', 'all'], 3, env);
    console.log(fmt(`qdo status --since all (the table of ${jobs.toLocaleString('en')} ended jobs)`, table.ms, base));
    const rss = timeRss([QDO, 'status', '--json'], env);
    console.log(fmt(`qdo status --json, ${jobs.toLocaleString('en')} ended jobs`, all.ms, base, `, peak RSS ${rss?.toFixed(0) ?? '?'} MB; fixture ${built.toFixed(0)} s`));
    const small = time([QDO, 'status', '--json', 'small'], 5, env);
    console.log(fmt(`qdo status small (10 jobs; big has ${jobs.toLocaleString('en')})`, small.ms, base));
    const pat = time([QDO, 'status', '--json', 'small/job00000*'], 5, env);
    console.log(fmt(`qdo status 'small/job00000*'`, pat.ms, base));
    if (want('fsck')) {
      const f = time([QDO, 'fsck'], 1, env, (s) => s === 0 || s === 1);
      console.log(fmt(`qdo fsck, ${(jobs + 11).toLocaleString('en')} objects + ${(jobs + 10).toLocaleString('en')} records`, f.ms, base));
    }
    remove(d);
  }

  if (want('status-deep')) {
    // The full size: 10^5 jobs and 10^6 stored versions (10 per job). Status reads
    // the refs and one record per job shown, so the versions below the latest cost nothing.
    const jobs = n(100_000);
    const d = tmp('deep');
    const t0 = performance.now();
    await buildStore(d, [{ project: 'big', jobs, versions: 10 }]);
    const built = (performance.now() - t0) / 1000;
    const env = { ...baseEnv, QDO_HOME: d };
    // Warm: the ended-jobs cache written, its folders trusted (as in 'status' above).
    time([QDO, 'status'], 1, env);
    await new Promise((r) => setTimeout(r, 2100));
    time([QDO, 'status'], 1, env);
    const st = time([QDO, 'status'], 3, env);
    const tb = time([QDO, 'status', '--since', 'all'], 3, env);
    const js = time([QDO, 'status', '--json'], 3, env);
    const rss = timeRss([QDO, 'status', '--json'], env);
    console.log(fmt(`qdo status (the overview), ${jobs.toLocaleString('en')} jobs, ${(jobs * 10).toLocaleString('en')} versions`, st.ms, base));
    console.log(fmt(`qdo status --since all, same store`, tb.ms, base));
    console.log(fmt(`qdo status --json, same store`, js.ms, base, `, peak RSS ${rss?.toFixed(0) ?? '?'} MB; fixture ${built.toFixed(0)} s`));
    remove(d);
  }

  if (want('submit')) {
    const rows: [string, number][] = [];
    for (const names of [100, n(100_000)]) {
      const d = tmp('submit');
      await buildStore(d, [{ project: 'p', jobs: names, versions: 1 }]);
      const env = { ...baseEnv, QDO_HOME: d };
      const ts: number[] = [];
      for (let i = 0; i < 7; i++) ts.push(time([QDO, 'submit', `p/new${i}`, '--hold', '--', 'true'], 1, env).ms);
      rows.push([`qdo submit --hold into a project of ${names.toLocaleString('en')} names`, median(ts)]);
      remove(d);
    }
    for (const [label, t] of rows) console.log(fmt(label, t, base, `, ${(t / rows[0]![1]).toFixed(2)}x the 100-name submit`));
  }

  if (want('gc')) {
    // QDO_BENCH_QDO=ENTRY,ENTRY… as for sweep-local: each on its own fixture, in this run.
    for (const entry of (process.env.QDO_BENCH_QDO ?? QDO).split(',')) {
      const jobs = n(10_000);
      const d = tmp('gc');
      await buildStore(d, [{ project: 'p', jobs, versions: 3, runDirs: true }]);
      settle(); // gc writes 10^4 records as it marks run folders collected
      const env = { ...baseEnv, QDO_HOME: d };
      const dry = time([entry, 'gc', '--dry-run', '--json'], 1, env);
      const real = time([entry, 'gc', '--json'], 1, env);
      const again = time([entry, 'gc', '--json'], 1, env);
      if (process.env.QDO_BENCH_QDO) console.log(`  ${entry}:`);
      console.log(fmt(`qdo gc --dry-run, ${jobs.toLocaleString('en')} jobs x 3 versions`, dry.ms, base));
      console.log(fmt(`qdo gc (collects ${jobs.toLocaleString('en')} run folders)`, real.ms, base));
      console.log(fmt(`qdo gc again (nothing left to collect)`, again.ms, base));
      remove(d);
    }
  }
}
