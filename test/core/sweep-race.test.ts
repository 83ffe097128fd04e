// Sweeps racing (spec/sweeps.md §Re-running): concurrent runs of one sweep, and a sweep
// racing plain submits of its names, never submit a point twice, and report what they did.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir, testContext, type RunOptions } from '../helpers/cli.js';
import { QdoError } from '../../src/errors.js';
import type { RunOptions as CmdOptions, RunResult, Runner } from '../../src/scheduler/runner.js';
import { runSweep, type SweepRequest, type SweepResult } from '../../src/core/sweep.js';
import { submit } from '../../src/core/submit.js';
import { fsck } from '../../src/core/fsck.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { listSubmissionIds, readSubmission, writeSubmission } from '../../src/store/submissions.js';
import { summaryLine } from '../../src/cli/sweep-format.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-sweep-race-');
  writeFileSync(join(home, 'slurm.conf'), 'ClusterName=fakec\nMaxArraySize=3\n');
  opts = { home, env: { SLURM_CONF: join(home, 'slurm.conf') } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
});
test.after.each(() => removeDir(home));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** sbatch/squeue in memory, answering after a random few milliseconds; remembers every tag it took (elements too). */
function fakeSlurm() {
  const jobs: { base: string; tags: string[] }[] = [];
  let next = 100;
  const run = (async (argv: string[], _o: CmdOptions = {}): Promise<RunResult> => {
    await sleep(Math.random() * 8);
    const ok = (stdout: string): RunResult => ({ stdout, stderr: '', exitCode: 0, attempts: 1 });
    if (argv[0] === 'sbatch') {
      const script = readFileSync(argv[argv.length - 1]!, 'utf8');
      const array = /^#SBATCH --array=/m.test(script);
      // A packed array names each element's manifest in its case arm; a job alone by --comment.
      const tags = array ? [...script.matchAll(/# manifest ([0-9a-f]{64})/g)].map((m) => m[1]!) : [/--comment=qdo:(\S+)/.exec(script)![1]!];
      const job = { base: String(next++), tags };
      jobs.push(job);
      return ok(`${job.base}\n`);
    }
    if (argv[0] === 'squeue') return ok('');
    if (argv[0] === 'sacct') return ok('');
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }) as Runner;
  return { run, jobs };
}

function request(runner: Runner, n: number): SweepRequest {
  return {
    groups: [
      {
        field: '--grid',
        id: 'p/t{{i}}',
        job: 'p/t{{i}}',
        command: ['echo', 'i={{i}}'],
        set: {},
        grids: [{ key: 'i', values: Array.from({ length: n }, (_, i) => String(i)), field: '--grid i' }],
        zips: [],
        flags: { time: '10m' },
        env: {},
        after: [],
        afterGroups: [],
      },
    ],
    scheduler: 'slurm',
    runner,
  };
}

/** Every point has exactly one version, and the scheduler got each manifest once. */
async function checkOnce(s: ReturnType<typeof fakeSlurm>, n: number): Promise<void> {
  const l = layoutOf(home);
  const refs = await readRefs(l, 'p');
  const ids = await listSubmissionIds(l);
  const taken = s.jobs.flatMap((j) => j.tags);
  assert.is(new Set(taken).size, taken.length, 'no manifest was submitted twice');
  for (let i = 0; i < n; i++) {
    const id = refs.get(`t${i}`)!;
    const sub = (await readSubmission(l, id))!;
    assert.is(sub.version, 1, `t${i} has one version`);
    assert.ok(taken.includes(id), `t${i} reached the scheduler`);
  }
  assert.is(ids.length, n, 'one record per point');
  const f = await fsck(testContext(opts), { repair: false });
  assert.equal(f.findings.filter((x) => !x.fixed), []);
}

function checkReport(rs: SweepResult[], n: number): void {
  assert.is(rs.reduce((k, r) => k + r.submitted, 0), n, 'the runs together report every point submitted once');
  for (const r of rs) {
    assert.is(r.submitted + r.skipped, n);
    assert.ok(r.chunks.every((c) => c.schedId !== null && c.points.length > 0), 'no chunk reported without an id');
    assert.not.match(summaryLine(r), /null/);
  }
}

test('two (and three) runs of one sweep at once: every point submitted once, and each run says what it did', async () => {
  for (let trial = 0; trial < 8; trial++) {
    if (trial > 0) {
      removeDir(home);
      home = tempDir('qdo-sweep-race-');
      writeFileSync(join(home, 'slurm.conf'), 'ClusterName=fakec\nMaxArraySize=3\n');
      opts = { home, env: { SLURM_CONF: join(home, 'slurm.conf') } };
      assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
    }
    const s = fakeSlurm();
    const runs = trial % 2 === 0 ? 2 : 3;
    const rs = await Promise.all(Array.from({ length: runs }, async (_, k) => {
      await sleep(k * Math.random() * 10);
      return runSweep(testContext(opts), request(s.run, 12));
    }));
    await checkOnce(s, 12);
    checkReport(rs, 12);
  }
});

test('a re-run that planned before another run submitted a point does not submit it again (the first point of a group)', async () => {
  const s = fakeSlurm();
  const first = await runSweep(testContext(opts), request(s.run, 3));
  const l = layoutOf(home);
  // t0 was refused (its version is not-submitted), t2's submitter died mid-submit: a re-run
  // submits t0 again and first settles t2 (asking squeue).
  const t0 = first.points[0]!.id;
  const t2 = first.points[2]!.id;
  await writeSubmission(l, { ...(await readSubmission(l, t0))!, state: 'not-submitted', sched_id: null, submitted: null, array_job: undefined });
  await writeSubmission(l, { ...(await readSubmission(l, t2))!, state: 'submitting', sched_id: null, submitted: null, pid: 4242, array_job: undefined });
  // Run B plans, then waits in squeue (settling t2) while run A submits t0 again.
  let reached: () => void = () => undefined;
  const inSqueue = new Promise<void>((r) => (reached = r));
  let letGo: () => void = () => undefined;
  const aDone = new Promise<void>((r) => (letGo = r));
  const slowRun = (async (argv: string[], o?: CmdOptions) => {
    if (argv[0] === 'squeue') {
      reached();
      await aDone;
    }
    return s.run(argv, o);
  }) as Runner;
  const b = runSweep(testContext(opts), request(slowRun, 3));
  await inSqueue;
  const a = await runSweep(testContext(opts), request(s.run, 3));
  letGo();
  const rb = await b;
  assert.is(a.submitted, 1);
  assert.equal([rb.submitted, rb.skipped], [0, 3]);
  const v = (await readRefs(l, 'p')).get('t0')!;
  assert.is((await readSubmission(l, v))!.version, 2, 't0 has two versions: the refused one and one submitted');
  const taken = s.jobs.flatMap((j) => j.tags);
  assert.is(new Set(taken).size, taken.length, 'no manifest was submitted twice');
  assert.is(taken.length, 4);
});

test('a sweep racing plain submits of its names: nothing submitted twice, every outcome reported', async () => {
  const s = fakeSlurm();
  const outcomes = await Promise.allSettled([
    runSweep(testContext(opts), request(s.run, 9)),
    ...[1, 4, 7].map(async (i) => {
      await sleep(Math.random() * 20);
      return submit(testContext(opts), { job: `p/t${i}`, command: ['echo', 'plain'], params: {}, flags: { time: '10m' }, env: {}, after: [], scheduler: 'slurm', runner: s.run });
    }),
  ]);
  for (const o of outcomes) {
    if (o.status === 'rejected') {
      assert.instance(o.reason, QdoError);
      assert.is((o.reason as QdoError).code, 'job-moved', String(o.reason));
    }
  }
  const l = layoutOf(home);
  const taken = s.jobs.flatMap((j) => j.tags);
  assert.is(new Set(taken).size, taken.length, 'no manifest was submitted twice');
  // Every version with a record went to the scheduler exactly once, or was taken back.
  for (const id of await listSubmissionIds(l)) {
    const sub = (await readSubmission(l, id))!;
    if (sub.state === 'not-submitted') assert.not.ok(taken.includes(id));
    else assert.ok(taken.includes(id), `${sub.name}@${sub.version} (${sub.state}) is the scheduler's`);
  }
  // Leftovers of the refused chunks are warnings (versions never accepted), never damage.
  const f = await fsck(testContext(opts), { repair: false });
  assert.equal(f.findings.filter((x) => x.severity === 'error'), []);
  assert.ok(f.findings.every((x) => x.code === 'unsubmitted-version'), JSON.stringify(f.findings));
  // A re-run completes the sweep: each of its points is submitted once in all.
  const again = await runSweep(testContext(opts), request(s.run, 9));
  assert.ok(again.points.every((p) => p.state !== 'submitting'));
});

test.run();
