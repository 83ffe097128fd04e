// R1 (test/reliability/README.md): many qdo processes at once — submits to unique and to
// shared names, two runs of one sweep, status and gc — lose nothing and double nothing:
// every submit that said yes has its job, once, in the scheduler and in its record; every
// job the scheduler has is recorded; fsck finds no damage. Bounded here; the large form
// (16 processes x 200 submits, and the real Slurm) runs with QDO_RELIABILITY=large.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir } from '../helpers/cli.js';
import { layoutOf } from '../../src/store/layout.js';
import { listSubmissionIds, readSubmission } from '../../src/store/submissions.js';
import type { Submission } from '../../src/model/submission.js';
import { runCommand } from '../../src/scheduler/runner.js';
import { whySlurmMissing } from '../helpers/slurm.js';
import { LARGE, large, localSpoolJobs, outcomeProblems, startWorker, type Outcome } from './harness.js';

const PROCS = LARGE ? 16 : 4;
const SUBMITS = LARGE ? 200 : 25;
const SWEEP = 20;

interface Tally {
  ok: number;
  refused: Record<string, number>;
}

async function storm(home: string, scheduler: string, procs: number, submits: number, env: Record<string, string> = {}): Promise<{ outcomes: Outcome[]; tally: Tally; ms: number }> {
  const plan = (commands: string[][]) => ({ cwd: home, env: { QDO_SCHEDULER: scheduler, ...env }, commands });
  const workers = [];
  const t0 = Date.now();
  for (let k = 0; k < procs; k++) {
    const cmds: string[][] = [];
    for (let i = 0; i < submits; i++) {
      // Every fifth submit goes to one of a few names all processes share: they race on one ref.
      const name = i % 5 === 0 ? `p/shared${i % 7}` : `p/w${k}-${i}`;
      cmds.push(['submit', name, '--hold', '--json', '--', 'echo', `${k}.${i}`]);
    }
    workers.push(startWorker(home, plan(cmds), `w${k}`));
  }
  // Two runs of one sweep, three times each; status and gc all along.
  const sweep = ['submit', 'p/sw{{i}}', '--grid', `i=${Array.from({ length: SWEEP }, (_, i) => i).join(',')}`, '--hold', '--json', '--', 'echo', '{{i}}'];
  for (let k = 0; k < 2; k++) workers.push(startWorker(home, plan([sweep, sweep, sweep]), `sweep${k}`));
  workers.push(startWorker(home, plan(Array.from({ length: 10 }, () => ['status', '--json'])), 'status'));
  workers.push(startWorker(home, plan(Array.from({ length: 5 }, (_, i) => (i % 2 ? ['gc', '--prune'] : ['gc']))), 'gc'));
  await Promise.all(workers.map((w) => w.exit));
  const outcomes = workers.flatMap((w) => w.outcomes);
  const tally: Tally = { ok: 0, refused: {} };
  for (const o of outcomes) {
    if (o.args[0] !== 'submit' || o.args[1]!.includes('{{')) continue;
    if (o.code === 0) tally.ok++;
    else {
      // A message: text, or with --json one {"error": …} object (spec/porcelain.md §--json).
      const code = /^qdo: /.test(o.stderr) || /^\{.*"error":\{/.test(o.stderr) ? `${o.code}` : 'silent';
      tally.refused[code] = (tally.refused[code] ?? 0) + 1;
    }
  }
  return { outcomes, tally, ms: Date.now() - t0 };
}

async function records(home: string): Promise<Submission[]> {
  const l = layoutOf(home);
  const out: Submission[] = [];
  for (const id of await listSubmissionIds(l)) out.push((await readSubmission(l, id))!);
  return out;
}

/**
 * The invariants: nothing lost, nothing doubled, no record left hanging. `jobs` is what the
 * scheduler holds: each job (or array element) with its tag — a manifest id, or for the
 * elements of a packed sweep chunk the chunk's tag (spec/sweeps.md §Packing).
 */
function checkJobs(outcomes: Outcome[], recs: Submission[], jobs: { id: string; tag: string | null }[]): void {
  const problems: string[] = [];
  for (const o of outcomes) problems.push(...outcomeProblems(o, o.args[0] === 'submit' ? [0, 4, 5] : [0]));
  assert.equal(problems, [], problems.slice(0, 5).join('\n'));
  const rec = new Map(recs.map((r) => [r.id, r]));
  const tagOf = (r: Submission) => (r.array_job as { tag?: string } | undefined)?.tag ?? r.id;
  // A tag names one job: a manifest's, or one array (its elements share the base id).
  const byTag = new Map<string, Set<string>>();
  for (const j of jobs) if (j.tag) byTag.set(j.tag, (byTag.get(j.tag) ?? new Set()).add(j.id.replace(/_\d+$/, '')));
  const doubled = [...byTag].filter(([, ids]) => ids.size > 1);
  assert.equal(doubled, [], 'no manifest or chunk was submitted twice');
  const held = new Map(jobs.map((j) => [j.id, j.tag]));
  // Every submit that said yes: its job is there, once, and its record names it.
  for (const o of outcomes) {
    if (o.args[0] !== 'submit' || o.code !== 0) continue;
    const r = JSON.parse(o.stdout) as { id?: string; sched_id?: string; points?: { id: string; skipped: boolean; sched_id: string | null }[] };
    const items = r.points ? r.points.filter((p) => !p.skipped).map((p) => ({ id: p.id, sched: p.sched_id })) : [{ id: r.id!, sched: r.sched_id ?? null }];
    for (const it of items) {
      const sub = rec.get(it.id);
      assert.ok(sub, `submitted ${it.id} has a record`);
      assert.is(sub!.sched_id, it.sched, `the record of ${it.id} names its job`);
      assert.is(held.get(it.sched!), tagOf(sub!), `submitted ${it.id} is in the scheduler as ${it.sched}, with its tag (lost otherwise)`);
    }
  }
  // Every job the scheduler has is recorded (no job runs untracked).
  const recorded = new Set(recs.map((r) => r.sched_id).filter((x) => x !== null));
  const untracked = jobs.filter((j) => j.tag && !recorded.has(j.id));
  assert.equal(untracked, [], 'every job the scheduler has is recorded');
  assert.equal(recs.filter((r) => r.state === 'submitting').map((r) => r.id), [], 'no record is left submitting');
  // A sweep never submits a point twice.
  const perPoint = new Map<string, number>();
  for (const r of recs) if (r.name.startsWith('sw') && r.sched_id !== null) perPoint.set(r.name, (perPoint.get(r.name) ?? 0) + 1);
  assert.is(perPoint.size, SWEEP, 'every sweep point was submitted');
  assert.ok([...perPoint.values()].every((n) => n === 1), 'each sweep point once');
}

test(`R1: ${PROCS} processes x ${SUBMITS} submits, two runs of one sweep, status and gc, local backend: 0 lost, 0 doubled, fsck clean`, large(async () => {
  const home = tempDir('qdo-r1-');
  try {
    assert.is((await qdo(['project', 'add', 'p'], { home })).code, 0);
    const { outcomes, tally, ms } = await storm(home, 'local', PROCS, SUBMITS);
    const recs = await records(home);
    checkJobs(outcomes, recs, localSpoolJobs(home));
    const f = await qdo(['fsck'], { home, now: 'real' });
    assert.is(f.code, 0, f.stdout + f.stderr);
    assert.not.match(f.stdout, /^error /m);
    console.log(`R1 local: ${PROCS}x${SUBMITS} submits in ${(ms / 1000).toFixed(1)} s: ${tally.ok} accepted, refused ${JSON.stringify(tally.refused)}, ${recs.length} records, fsck ${f.stdout.split('\n').filter(Boolean).length} warning(s)`);
  } finally {
    removeDir(home);
  }
}));

if (LARGE) {
  test(`R1 on the real Slurm: ${PROCS} processes x 50 held submits and a sweep; every job found once by its tag; all cancelled after`, async () => {
    const why = await whySlurmMissing();
    if (why !== null) {
      if (process.env.QDO_REQUIRE_SLURM === '1') throw new Error(`Slurm: ${why}`);
      console.log(`skipping R1 on Slurm: ${why}`);
      return;
    }
    const home = tempDir('qdo-r1-slurm-');
    mkdirSync(join(home, 'p'), { recursive: true });
    let recs: Submission[] = [];
    try {
      assert.is((await qdo(['project', 'add', 'p'], { home })).code, 0);
      const { outcomes, tally, ms } = await storm(home, 'slurm', PROCS, 50);
      recs = await records(home);
      const tags = new Set(recs.map((r) => (r.array_job as { tag?: string } | undefined)?.tag ?? r.id));
      const { stdout } = await runCommand(['squeue', '--me', '-h', '-r', '-t', 'all', '-o', '%i|%k'], { timeoutMs: 60_000 });
      const jobs = stdout.split('\n').filter(Boolean).map((l) => {
        const [id, comment] = l.split('|') as [string, string];
        return { id, tag: comment.startsWith('qdo:') ? comment.slice(4) : null };
      }).filter((j) => j.tag !== null && tags.has(j.tag));
      checkJobs(outcomes, recs, jobs);
      const f = await qdo(['fsck'], { home, now: 'real' });
      assert.not.match(f.stdout, /^error /m);
      console.log(`R1 slurm: ${PROCS}x50 submits in ${(ms / 1000).toFixed(1)} s: ${tally.ok} accepted, refused ${JSON.stringify(tally.refused)}, ${jobs.length} Slurm jobs by tag`);
    } finally {
      // Our own jobs only, by the ids we were given.
      const ids = recs.map((r) => r.sched_id).filter((x): x is string => x !== null);
      for (let i = 0; i < ids.length; i += 200) await runCommand(['scancel', ...ids.slice(i, i + 200)], { timeoutMs: 60_000 }).catch(() => undefined);
      removeDir(home);
    }
  });
}

test.run();
