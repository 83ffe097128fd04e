// The claim race, bounded for npm test (the full 8 x 2,000 is `npm run pool-race`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { claimRace } from './race.js';

test('4 worker processes, 100 runs queued at once: every run ran exactly once', async () => {
  const r = await claimRace({ workers: 4, runs: 100, slots: 2, timeoutMs: 120_000 });
  assert.equal(r.wrong, [], 'runs that ran other than once');
  assert.is(r.completed, 100);
  assert.is(r.perWorker.reduce((a, b) => a + b, 0), 100, `runs started per worker: ${r.perWorker.join(', ')}`);
  assert.ok(r.perWorker.filter((n) => n > 0).length >= 2, `the work was shared: ${r.perWorker.join(', ')}`);
});

test.run();
