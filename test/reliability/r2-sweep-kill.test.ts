// R2 for large sweeps (spec/sweeps.md §Intent, spec/submissions.md §Writes): a sweep of many
// points (local backend, held) is SIGKILLed mid-way — while its chunk's intents are being
// written in batches, while the run folders are written, and while the scheduler's answers
// are recorded — and the same command is run again. Afterwards every point is submitted
// exactly once: one scheduler task per point, each point's latest record naming its own
// task, a third run submitting nothing, and fsck finding no damage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir } from '../helpers/cli.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { readSubmission } from '../../src/store/submissions.js';
import { killWhen, LARGE, large, localSpoolJobs } from './harness.js';

const POINTS = LARGE ? 3000 : 500;

/** Where the sweep is when a stage's marker appears (checked every few ms from outside). */
const STAGES: { name: string; marker: (home: string) => boolean }[] = [
  // The first temp file of the batch made the records' folder.
  { name: 'intents', marker: (h) => existsSync(join(h, '.qdo/submissions')) },
  // The intents and refs are in place; the run folders are being written.
  { name: 'run folders', marker: (h) => existsSync(join(h, 'p/runs')) },
  // The scheduler has the whole chunk (the spool's last-id is written after its last task is
  // queued); its answers are being recorded.
  { name: 'answers', marker: (h) => existsSync(join(h, '.qdo/local/last-id')) },
];

function sweepArgs(): string[] {
  return ['submit', 'p/j{{ i }}', '--grid', `i=${Array.from({ length: POINTS }, (_, i) => i).join(',')}`, '--hold', '--json', '--', 'true'];
}

/** Starts the sweep as a process, waits for the stage's marker and a random moment more, and kills it. Returns whether it was killed. */
function killDuring(home: string, stage: (typeof STAGES)[number]): Promise<boolean> {
  return killWhen(home, sweepArgs(), `the sweep reaching "${stage.name}"`, () => stage.marker(home), 150);
}

for (const stage of STAGES) {
  test(`R2 sweep: ${POINTS} points killed while writing ${stage.name}, then run again: every point submitted exactly once`, large(async () => {
    const home = tempDir('qdo-r2-sweep-');
    const env = { QDO_SCHEDULER: 'local' };
    try {
      assert.is((await qdo(['project', 'add', 'p'], { home })).code, 0);
      const killed = await killDuring(home, stage);

      // The same command again completes the sweep (the killed submitter is dead: its
      // leftovers are settled by recovery, the local backend's grace is 0).
      const again = await qdo(sweepArgs(), { home, env, now: 'real', realHost: true });
      assert.is(again.code, 0, again.stderr);
      const r = JSON.parse(again.stdout) as { sweep: string; submitted: number; skipped: number };
      assert.is(r.submitted + r.skipped, POINTS);

      // One scheduler task per point, and each point's latest record names its own. (A point
      // recovery found by its chunk's tag is recorded `pending` until a refresh asks the
      // scheduler: submissions.md §Recovery; status does.)
      assert.is((await qdo(['status', '-a', '--json'], { home, env, now: 'real', realHost: true })).code, 0);
      const l = layoutOf(home);
      const refs = await readRefs(l, 'p');
      const tasks = localSpoolJobs(home);
      const taskIds = new Set(tasks.map((t) => t.id));
      assert.is(tasks.length, POINTS, `scheduler tasks (killed: ${killed})`);
      assert.is(taskIds.size, POINTS);
      const seen = new Set<string>();
      for (let i = 0; i < POINTS; i++) {
        const id = refs.get(`j${i}`);
        assert.ok(id, `j${i} has a ref`);
        const rec = await readSubmission(l, id);
        assert.ok(rec, `j${i} has a record`);
        assert.is(rec.state, 'held', `j${i}: ${rec.state} ${rec.reason ?? ''}`);
        assert.ok(rec.sched_id !== null && taskIds.has(rec.sched_id), `j${i}: its task ${rec.sched_id} is in the scheduler`);
        assert.not.ok(seen.has(rec.sched_id!), `j${i}: task ${rec.sched_id} is not another point's`);
        seen.add(rec.sched_id!);
      }

      // A third run submits nothing; what the killed run left settles; nothing is damaged.
      const third = await qdo(sweepArgs(), { home, env, now: 'real', realHost: true });
      assert.is(third.code, 0, third.stderr);
      assert.is((JSON.parse(third.stdout) as { submitted: number }).submitted, 0);
      assert.is(localSpoolJobs(home).length, POINTS);
      assert.is((await qdo(['status', '-a', '--json'], { home, env, now: 'real', realHost: true })).code, 0);
      const f = await qdo(['fsck'], { home, env, now: 'real', realHost: true });
      assert.not.match(f.stdout, /^error /m, f.stdout);
    } finally {
      await qdo(['cancel', 'p/*'], { home, env: { QDO_SCHEDULER: 'local' }, now: 'real', realHost: true }).catch(() => undefined);
      removeDir(home);
    }
  }));
}

test.run();
