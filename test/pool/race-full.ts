// npm run pool-race: 8 worker processes, 2,000 runs queued at once; every run must run
// exactly once (spec/pools.md §Claim protocol). Prints the result; exit 1 on a failure.
import { claimRace } from './race.js';

const workers = Number(process.env.RACE_WORKERS ?? 8);
const runs = Number(process.env.RACE_RUNS ?? 2000);
const r = await claimRace({ workers, runs, slots: 2, timeoutMs: 20 * 60_000 });
console.log(`${r.workers} workers, ${r.runs} runs: ${r.completed} completed in ${r.seconds.toFixed(1)} s (${(r.runs / r.seconds).toFixed(1)} runs/s)`);
console.log(`runs started per worker: ${r.perWorker.join(', ')}`);
if (r.wrong.length || r.completed !== r.runs || r.perWorker.reduce((a, b) => a + b, 0) !== r.runs) {
  console.log(`FAILED: ${r.wrong.length} run(s) ran other than once: ${JSON.stringify(r.wrong.slice(0, 20))}`);
  process.exitCode = 1;
} else {
  console.log('every run ran exactly once');
}
