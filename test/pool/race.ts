// The claim race (spec/pools.md §Claim protocol): W worker processes on this machine, N
// runs queued at once, every worker going for the same oldest tickets. Each run appends one
// line to its own file when it runs; afterwards every run must have ended completed and
// every file hold exactly one line. Used by race.test.ts (bounded, in npm test) and by
// race-full.ts (8 workers, 2,000 runs: npm run pool-race).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { counts, ok, spawnWorker, stopWorkers, until, type WorkerProcess } from '../helpers/pool.js';
import { listQueued, poolPaths, snapshot } from '../../src/store/pool.js';
import { layoutOf } from '../../src/store/layout.js';

export interface RaceResult {
  runs: number;
  workers: number;
  completed: number;
  /** Runs whose file has other than one line (0: none ran twice or never). */
  wrong: { run: string; times: number }[];
  seconds: number;
  perWorker: number[];
}

export async function claimRace(o: { workers: number; runs: number; slots: number; timeoutMs: number }): Promise<RaceResult> {
  const home = tempDir('qdo-pool-race-');
  const opts: RunOptions = { home, now: 'real' };
  const out = join(home, 'out');
  mkdirSync(out);
  const ws: WorkerProcess[] = [];
  try {
    await ok(opts, ['project', 'add', 'p']);
    await ok(opts, ['pool', 'add', 'race']);
    const values = Array.from({ length: o.runs }, (_, i) => String(i)).join(',');
    // Queued before any worker starts, so that they all start on a full queue.
    await ok(opts, ['submit', 'p/r{{i}}', '--pool', 'race', '--grid', `i=${values}`, '--', 'bash', '-c', `echo "$QDO_POOL_WORKER" >> ${out}/$QDO_PARAM_i`]);
    const p = poolPaths(layoutOf(home), 'race');
    const t0 = Date.now();
    for (let i = 0; i < o.workers; i++) ws.push(spawnWorker(opts, 'race', ['--slots', String(o.slots), '--idle', '3s']));
    await until(
      `all ${o.runs} runs to end`,
      async () => {
        const s = await snapshot(p);
        return s.queued.size === 0 && s.claimed.size === 0 && (await listQueued(p)).length === 0;
      },
      o.timeoutMs,
      250,
    );
    const seconds = (Date.now() - t0) / 1000;
    await Promise.race([Promise.all(ws.map((w) => w.exited)), new Promise((r) => setTimeout(r, 20_000))]);
    const jobs = JSON.parse(await ok(opts, ['status', '--refresh', '--json', 'p/*'])).jobs as { state: string }[];
    const c = counts(out);
    const wrong: RaceResult['wrong'] = [];
    for (let i = 0; i < o.runs; i++) {
      const n = c.get(String(i)) ?? 0;
      if (n !== 1) wrong.push({ run: String(i), times: n });
    }
    const perWorker = ws.map((w) => Number(/(\d+) run\(s\) started/.exec(w.out())?.[1] ?? -1));
    return { runs: o.runs, workers: o.workers, completed: jobs.filter((j) => j.state === 'completed').length, wrong, seconds, perWorker };
  } finally {
    await stopWorkers(ws);
    removeDir(home);
  }
}
