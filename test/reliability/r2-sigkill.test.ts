// R2 (test/reliability/README.md): qdo processes SIGKILLed at random moments while they
// submit, sweep, gc, cancel and retry (local backend, held or trivial jobs). Afterwards:
// status settles what the killed ones left, and then nothing is corrupt or dangling (fsck
// finds no damage), no manifest is in the scheduler twice, every job the scheduler has is
// recorded, and no lock blocks for more than 1 s. ~100 kills here; >= 1,000 with
// QDO_RELIABILITY=large.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir } from '../helpers/cli.js';
import { layoutOf } from '../../src/store/layout.js';
import { listSubmissionIds, readSubmission } from '../../src/store/submissions.js';
import { LOCK_SUFFIX, withLock } from '../../src/store/locks.js';
import type { Submission } from '../../src/model/submission.js';
import { LARGE, large, localSpoolJobs, outcomeProblems, startWorker, type Worker } from './harness.js';

const KILLS = LARGE ? 1000 : 100;
const AT_ONCE = LARGE ? 4 : 3;

function locksUnder(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    // A folder that went away while looking (the local spool's own lock, taken and let go
    // by a job still finishing): no lock is in it.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name.endsWith(LOCK_SUFFIX)) out.push(p);
    else if (e.isDirectory() && e.name !== 'objects') out.push(...locksUnder(p));
  }
  return out;
}

test(`R2: ${KILLS} SIGKILLs during submit, sweep, gc, cancel and retry: 0 corrupt, 0 dangling, 0 duplicate jobs, no lock blocks > 1 s`, large(async () => {
  const home = tempDir('qdo-r2-');
  const seed = Number(process.env.QDO_SEED ?? Date.now() % 100000);
  try {
    assert.is((await qdo(['project', 'add', 'p'], { home })).code, 0);
    let kills = 0;
    let started = 0;
    const outcomes: Worker['outcomes'] = [];
    const t0 = Date.now();
    const one = async (): Promise<void> => {
      while (kills < KILLS) {
        const w = startWorker(home, { cwd: home, env: { QDO_SCHEDULER: 'local' }, random: { seed: seed + started, names: 8, sweep: 6 } }, `r${started++ % 16}`);
        await w.ready;
        // Killed after 0..3 finished commands, and then a random moment into the next one.
        await w.after(Math.floor(Math.random() * 4));
        await new Promise((r) => setTimeout(r, Math.random() * 150));
        w.child.kill('SIGKILL');
        const e = await w.exit;
        if (e.signal === 'SIGKILL') kills++;
        outcomes.push(...w.outcomes);
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, one));
    const ms = Date.now() - t0;
    // Commands that finished before the kill: a documented outcome, never an internal error.
    const problems = outcomes.flatMap((o) => outcomeProblems(o, [0, 1, 3, 4, 5, 6]));
    assert.equal(problems, [], problems.slice(0, 5).join('\n'));

    // No lock blocks for more than 1 s, whatever the kills left (the dead holders' locks are taken over at once).
    const l = layoutOf(home);
    const left = locksUnder(l.dir);
    for (const lock of left) await withLock(lock.slice(0, -LOCK_SUFFIX.length), async () => undefined, { waitMs: 1000 });

    // What the killed submits left: status settles it (their submitters are dead; the local
    // backend's grace is 0). Then no record is left submitting.
    const st = await qdo(['status', '--json', '-a'], { home, now: 'real', realHost: true });
    assert.is(st.code, 0, st.stderr);
    const recs: Submission[] = [];
    for (const id of await listSubmissionIds(l)) recs.push((await readSubmission(l, id))!);
    const gc = await qdo(['gc', '--prune'], { home, now: 'real', realHost: true }); // settles those no ref reaches
    assert.is(gc.code, 0, gc.stderr);
    const after: Submission[] = [];
    for (const id of await listSubmissionIds(l)) after.push((await readSubmission(l, id))!);
    const stuck = after.filter((r) => r.state === 'submitting');
    assert.equal(stuck.map((r) => `${r.name}@${r.version}`), [], `no record is left submitting (seed ${seed}): ${JSON.stringify(stuck)}`);

    // 0 duplicate scheduler jobs; every job the scheduler has is recorded with its id.
    const jobs = localSpoolJobs(home);
    // A tag names one scheduler job: a manifest's, or a packed sweep chunk's (its tasks 7_0, 7_1… share the job 7).
    const byTag = new Map<string, Set<string>>();
    for (const j of jobs) if (j.tag) byTag.set(j.tag, (byTag.get(j.tag) ?? new Set()).add(j.id.replace(/_\d+$/, '')));
    assert.equal([...byTag].filter(([, ids]) => ids.size > 1), [], 'no manifest in the scheduler twice');
    const rec = new Map(after.map((r) => [r.id, r]));
    const bySched = new Map(after.filter((r) => r.sched_id !== null).map((r) => [r.sched_id!, r]));
    const tagOf = (r: Submission | undefined) => (r?.array_job as { tag?: string } | undefined)?.tag ?? r?.id;
    const untracked = jobs.filter((j) => j.tag && (rec.has(j.tag) ? rec.get(j.tag)!.sched_id !== j.id : tagOf(bySched.get(j.id)) !== j.tag));
    assert.equal(untracked, [], 'every job the scheduler has is recorded');

    // 0 corrupt, 0 dangling: fsck finds leftovers at most (warnings), never damage.
    const f = await qdo(['fsck'], { home, now: 'real', realHost: true });
    assert.not.match(f.stdout, /^error /m, f.stdout);
    assert.is(f.code, 0);
    const rep = await qdo(['fsck', '--repair'], { home, now: new Date(Date.now() + 3600_000), realHost: true });
    assert.not.match(rep.stdout, /^(error|warning) /m, rep.stdout);
    const spoolBytes = statSync(join(home, '.qdo/local')).isDirectory();
    assert.ok(spoolBytes);
    console.log(`R2: ${kills} kills (seed ${seed}) in ${(ms / 1000).toFixed(1)} s, ${outcomes.length} commands finished, ${left.length} lock(s) left and taken over within 1 s, ${jobs.length} scheduler jobs, ${after.length} records, fsck: ${f.stdout.split('\n').filter(Boolean).length} warning(s), all cleaned by --repair`);
  } finally {
    removeDir(home);
  }
}));

test.run();
