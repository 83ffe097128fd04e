// qdo submit and qdo status, in-process on the local backend (real jobs on this machine).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXED_NOW, qdo, removeDir, scrub, tempDir, type RunOptions } from '../helpers/cli.js';
import { assertGolden } from '../helpers/golden.js';
import { waitDone as waitDoneIn, fileListing, readRecord } from '../helpers/jobs.js';
import { submissionPath } from '../../src/store/submissions.js';
import { layoutOf } from '../../src/store/layout.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-submit-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
});
test.after.each(() => removeDir(home));

const at = (sec: number): RunOptions => ({ ...opts, now: new Date(FIXED_NOW.getTime() + sec * 1000) });

async function statusJson(args: string[] = [], o: RunOptions = opts): Promise<{ jobs: Record<string, unknown>[]; sources: Record<string, unknown>[] }> {
  const r = await qdo(['status', '--json', ...args], o);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const waitDone = (job: string) => waitDoneIn(opts, job);

test('submit a command: manifest, record, ref, run folder; the job runs', async () => {
  const r = await qdo(['submit', 'p/hello', '--json', '--', 'echo', 'hello {{ job.name }} {{ scheduler }}'], opts);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.is(out.job, 'p/hello');
  assert.is(out.job_version, 1);
  assert.is(out.parent, null);
  assert.is(out.scheduler, 'local');
  assert.is(out.cluster, 'local@testhost');
  assert.is(out.sched_id, '1');
  assert.is(out.state, 'pending');
  assert.is(scrub(out.run_dir, home), `$HOME/p/runs/hello/1-${out.id.slice(0, 8)}`);
  assert.ok(existsSync(join(out.run_dir, 'job.local.sh')));
  const rec = readRecord(home, out.id);
  assert.is(rec.sched_id, '1');
  assert.is(rec.host, 'testhost');
  const m = JSON.parse((await qdo(['cat-object', out.id], opts)).stdout);
  assert.equal(m.template, { kind: 'command', argv: ['echo', 'hello {{ job.name }} {{ scheduler }}'] });
  const script = (await qdo(['cat-object', m.script], opts)).stdout;
  assert.is(script, "#!/bin/bash\necho 'hello hello local'\n");
  const done = await waitDone('p/hello');
  assert.is(done.state, 'completed');
  assert.is(done.state_source, 'exit-record');
  assert.is(readFileSync(join(out.run_dir, 'stdout'), 'utf8'), 'hello hello local\n');
});

test('supersede: a new version whose parent is the old; status shows the latest, -a all', async () => {
  const a = JSON.parse((await qdo(['submit', 'p/j', '--json', '--set', 'n=1', '--', 'bash', '-c', 'exit {{ n }}'], opts)).stdout);
  await waitDone('p/j');
  const b = JSON.parse((await qdo(['submit', 'p/j', '--json', '--set', 'n=0', '--', 'bash', '-c', 'exit {{ n }}'], at(60))).stdout);
  assert.is(b.job_version, 2);
  assert.is(b.parent, a.id);
  assert.is((await qdo(['rev-parse', 'p/j'], opts)).stdout, `${b.id}\n`);
  await waitDone('p/j');
  const st = await qdo(['status'], at(120));
  assertGolden('status-two-versions.txt', st.stdout);
  const all = await qdo(['status', '-a'], at(120));
  assertGolden('status-all-versions.txt', all.stdout);
  const j = await statusJson(['-a']);
  assert.equal(j.jobs.map((x) => [x.job_version, x.state, x.exit_code, x.latest]), [
    [2, 'completed', 0, true],
    [1, 'failed', 1, false],
  ]);
});

test('a resource template with parameters and resources; --dry-run writes nothing', async () => {
  mkdirSync(join(home, 'p/resources'), { recursive: true });
  writeFileSync(join(home, 'p/resources/train.sh'), '#!/bin/bash\n# {{ job.project }}/{{ job.name }} v{{ job.version }}\necho lr={{ lr }} time={{ resources.time }} cpus={{ resources.cpus }} ${QDO_JOB_NAME:+x}\n');
  const before = fileListing(home);
  const d = await qdo(['submit', 'p/train', '--script', 'train.sh', '--set', 'lr=0.1', '--time', '1h', '--cpus', '2', '--dry-run'], opts);
  assert.is(d.code, 0, d.stderr);
  assert.match(d.stdout, /echo lr=0\.1 time=3600 cpus=2 \$\{QDO_JOB_NAME:\+x\}/);
  assert.match(d.stdout, /# p\/train v1/);
  assert.equal(fileListing(home), before);
  const r = JSON.parse((await qdo(['submit', 'p/train', '--script', 'train.sh', '--set', 'lr=0.1', '--time', '1h', '--cpus', '2', '--json'], opts)).stdout);
  const m = JSON.parse((await qdo(['cat-object', r.id], opts)).stdout);
  assert.equal(m.params, { lr: '0.1' });
  assert.equal(m.resources, { cpus: 2, time: 3600 });
  assert.is(m.template.kind, 'resource');
  assert.is(m.template.name, 'train.sh');
  await waitDone('p/train');
  assert.match(readFileSync(join(r.run_dir, 'stdout'), 'utf8'), /^lr=0\.1 time=3600 cpus=2 x\n$/);
});

test('a bare resubmit re-reads the edited resource and keeps params and resources', async () => {
  mkdirSync(join(home, 'p/resources'), { recursive: true });
  writeFileSync(join(home, 'p/resources/t.sh'), 'echo one {{ lr }}\n');
  await qdo(['submit', 'p/t', '--script', 't.sh', '--set', 'lr=1', '--time', '10m'], opts);
  writeFileSync(join(home, 'p/resources/t.sh'), 'echo two {{ lr }}\n');
  const r = JSON.parse((await qdo(['submit', 'p/t', '--set', 'lr=2', '--json'], at(5))).stdout);
  const m = JSON.parse((await qdo(['cat-object', r.id], opts)).stdout);
  assert.is((await qdo(['cat-object', m.script], opts)).stdout, 'echo two 2\n');
  assert.equal(m.resources, { time: 600 });
  assert.is(m.version, 2);
});

test('resource defaults: home < allocation < project < flags', async () => {
  const scratch = tempDir('qdo-scratch-');
  try {
    await qdo(['init', scratch], opts);
    await qdo(['project', 'add', 'q', '--alloc', scratch], opts);
    writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ defaults: { time: '1h', mem: '1G', cpus: '1' } }));
    writeFileSync(join(scratch, '.qdo/config.json'), JSON.stringify({ defaults: { time: '2h', 'mem-per-cpu': '512M' } }));
    mkdirSync(join(scratch, '.qdo/project-config'));
    writeFileSync(join(scratch, '.qdo/project-config/q.json'), JSON.stringify({ defaults: { time: '3h' } }));
    const r = JSON.parse((await qdo(['submit', 'q/x', '--cpus', '4', '--json', '--dry-run', '--', 'true'], opts)).stdout);
    assert.match(r.script, /true/);
    const sub = JSON.parse((await qdo(['submit', 'q/x', '--cpus', '4', '--json', '--', 'true'], opts)).stdout);
    const m = JSON.parse((await qdo(['cat-object', sub.id], opts)).stdout);
    assert.equal(m.resources, { cpus: 4, mem_per_cpu: 512, time: 10800 });
    // The job ends before its allocation goes: a local job whose spool is removed under it
    // would leave its shepherd's 3-hour time-limit timer behind.
    assert.is((await waitDoneIn(opts, 'q/x', { id: sub.id })).state, 'completed');
    writeFileSync(join(scratch, '.qdo/project-config/q.json'), JSON.stringify({ defaults: { time: 'soon' } }));
    const bad = await qdo(['submit', 'q/y', '--', 'true'], opts);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /project q config: defaults: --time: expected a duration/);
  } finally {
    removeDir(scratch);
  }
});

test('bad input: one clear message, the documented exit code, nothing written', async () => {
  mkdirSync(join(home, 'p/resources'), { recursive: true });
  writeFileSync(join(home, 'p/resources/bad.sh'), 'echo ok\necho {{ lr }\n');
  writeFileSync(join(home, 'p/resources/undef.sh'), 'echo ok\necho {{ lrr }}\n');
  const before = fileListing(home);
  const cases: [string[], number, RegExp][] = [
    [['submit', 'nope/j', '--', 'true'], 3, /no project matches "nope\/j"/],
    [['submit', 'pp/j', '--', 'true'], 3, /hint: did you mean "p"\?/],
    [['submit', 'p/new'], 2, /p\/new is a new job: give --script/],
    [['submit', 'p/j', '--script', 'missing.sh'], 3, /--script missing\.sh: neither a resource of p nor a file/],
    [['submit', 'p/j', '--script', 'bad.sh'], 2, /resources\/bad\.sh:2/],
    [['submit', 'p/j', '--script', 'undef.sh', '--set', 'lr=1'], 2, /resources\/undef\.sh:2:\d+: undefined variable "lrr"/],
    [['submit', 'p/j', '--set', 'lr', '--', 'true'], 2, /--set "lr": expected KEY=VALUE/],
    [['submit', 'p/j', '--set', 'job=1', '--', 'true'], 2, /"job" is reserved/],
    [['submit', 'p/j', '--time', 'soon', '--', 'true'], 2, /--time: expected a duration/],
    [['submit', 'p/j', '--nodes', '2', '--', 'true'], 2, /nodes: the local backend runs jobs on this one machine/],
    [['submit', 'p/j', '--after', 'p/ghost', '--', 'true'], 3, /no job "ghost" in project p/],
    [["submit", "p/j", "--retry-on", "sometimes", "--", "true"], 2, /--retry-on: "sometimes" is not a job end qdo can retry on/],
    [['submit', 'p/j', '--script', 'bad.sh', '--', 'true'], 2, /not both/],
  ];
  for (const [args, code, re] of cases) {
    const r = await qdo(args, opts);
    assert.is(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.not.match(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.equal(fileListing(home), before, `${args.join(' ')} wrote something`);
  }
});

test('--after: the dependency is passed to the scheduler; a failed one is refused', async () => {
  await qdo(['submit', 'p/a', '--', 'false'], opts);
  await waitDone('p/a');
  const r = await qdo(['submit', 'p/b', '--after', 'p/a', '--', 'true'], opts);
  assert.is(r.code, 2);
  assert.match(r.stderr, /p\/a@1 ended failed; this job would never start/);
  await qdo(['submit', 'p/a', '--', 'sleep', '1'], opts);
  const b = JSON.parse((await qdo(['submit', 'p/b', '--after', 'p/a', '--json', '--', 'true'], opts)).stdout);
  const rec = readRecord(home, b.id);
  assert.equal(rec.after, ['2']);
  const m = JSON.parse((await qdo(['cat-object', b.id], opts)).stdout);
  assert.equal(m.after_revs, ['p/a']);
  assert.is((await waitDone('p/b')).state, 'completed');
});

test('status asks the scheduler at most once per interval; --refresh asks now', async () => {
  // Held, so nothing but the scheduler can change it (a start record would show it running
  // without a query: submissions.md §Refresh step 2).
  await qdo(['submit', 'p/s', '--hold', '--', 'sleep', '5'], opts);
  const first = await statusJson(['--refresh']);
  assert.is(first.sources[0]!.queried, true);
  assert.is(first.jobs[0]!.state, 'held');
  const again = await statusJson([]);
  assert.is(again.sources[0]!.queried, false);
  assert.is(again.sources[0]!.last_query, FIXED_NOW.toISOString());
  const later = await statusJson([], at(31));
  assert.is(later.sources[0]!.queried, true);
  await qdo(['cancel', 'p/s'], opts).catch(() => undefined);
});

test('an interrupted submit is found by its tag, never submitted twice; a lost one is not-submitted', async () => {
  const r = JSON.parse((await qdo(['submit', 'p/k', '--json', '--', 'true'], opts)).stdout);
  const l = layoutOf(home);
  const rec = readRecord(home, r.id);
  // As if qdo had died between the scheduler call and recording its answer.
  writeFileSync(submissionPath(l, r.id), JSON.stringify({ ...rec, sched_id: null, submitted: null, state: 'submitting', pid: 999999999 }) + '\n');
  const j = (await statusJson(['p/k'])).jobs[0]!;
  assert.is(j.sched_id, '1');
  assert.is(readRecord(home, r.id).sched_id, '1');
  assert.ok(['pending', 'running', 'completed'].includes(j.state as string), String(j.state));
  // A version whose intent never reached the scheduler.
  const s = JSON.parse((await qdo(['submit', 'p/k', '--json', '--', 'true'], at(10))).stdout);
  const rec2 = readRecord(home, s.id);
  // Make the scheduler forget the tag: as if it never got the job.
  const spool = join(home, '.qdo/local/jobs', s.sched_id, 'job.json');
  writeFileSync(spool, JSON.stringify({ ...JSON.parse(readFileSync(spool, 'utf8')), tag: 'someone-else' }));
  writeFileSync(submissionPath(l, s.id), JSON.stringify({ ...rec2, sched_id: null, submitted: null, state: 'submitting', pid: 999999999 }) + '\n');
  const k = (await statusJson(['p/k'], at(20))).jobs[0]!;
  assert.is(k.state, 'not-submitted');
  assert.match(String(k.reason), /stopped before the scheduler took the job/);
  // A submitter that is still alive is left alone.
  writeFileSync(submissionPath(l, s.id), JSON.stringify({ ...rec2, sched_id: null, submitted: null, state: 'submitting', pid: process.pid }) + '\n');
  assert.is((await statusJson(['p/k'], at(30))).jobs[0]!.state, 'submitting');
});

test('jobs of another cluster are not queried here', async () => {
  const r = JSON.parse((await qdo(['submit', 'p/far', '--json', '--', 'sleep', '3'], opts)).stdout);
  const rec = readRecord(home, r.id);
  writeFileSync(submissionPath(layoutOf(home), r.id), JSON.stringify({ ...rec, cluster: 'local@elsewhere' }) + '\n');
  const s = await qdo(['status', '--refresh'], opts);
  assert.is(s.code, 0);
  assert.match(s.stderr, /1 job\(s\) not refreshed: on local cluster local@elsewhere; this machine is on local@testhost/);
  const j = await statusJson(['--refresh']);
  assert.is(j.sources[0]!.queried, false);
  // Never from the scheduler: its submit answer, or its own start record once it runs.
  assert.ok(['qdo', 'start-record'].includes(j.jobs[0]!.state_source as string), String(j.jobs[0]!.state_source));
});

test('status: patterns, the current project, and no match', async () => {
  await qdo(['project', 'add', 'p/sub'], opts);
  await qdo(['project', 'add', 'other'], opts);
  for (const j of ['p/a1', 'p/a2', 'p/b1', 'p/sub/c', 'other/a1']) await qdo(['submit', j, '--', 'true'], opts);
  const names = async (args: string[], cwd?: string) => (await statusJson(args, { ...opts, cwd })).jobs.map((j) => j.job);
  assert.equal(await names([]), ['other/a1', 'p/a1', 'p/a2', 'p/b1', 'p/sub/c']);
  assert.equal(await names(['p/a*']), ['p/a1', 'p/a2']);
  assert.equal(await names(['p']), ['p/a1', 'p/a2', 'p/b1']);
  assert.equal(await names(['p/**']), ['p/a1', 'p/a2', 'p/b1', 'p/sub/c']);
  assert.equal(await names(['a1']), ['other/a1', 'p/a1']);
  assert.equal(await names([], join(home, 'p')), ['p/a1', 'p/a2', 'p/b1', 'p/sub/c']);
  assert.equal(await names(['a*'], join(home, 'p')), ['p/a1', 'p/a2']);
  const none = await qdo(['status', 'p/zz*'], opts);
  assert.is(none.code, 3);
  assert.match(none.stderr, /no job matches "p\/zz\*"/);
  const emptyHome = tempDir('qdo-empty-');
  try {
    const empty = await qdo(['ls'], { ...opts, home: emptyHome });
    assert.is(empty.stdout, 'no jobs yet (submit one with: qdo submit PROJECT/JOB --script FILE)\n');
  } finally {
    removeDir(emptyHome);
  }
});

test('the queue confirming the state qdo recorded at submit is no change: the record is not written', async () => {
  const r = await qdo(['submit', 'p/held', '--hold', '--json', '--', 'true'], opts);
  assert.is(r.code, 0, r.stderr);
  const id = JSON.parse(r.stdout).id as string;
  const path = submissionPath(layoutOf(home), id);
  const before = readFileSync(path);
  assert.is(readRecord(home, id).state_source, 'qdo');
  const st = await statusJson(['--refresh']);
  assert.equal(st.jobs.map((j) => [j.job, j.state]), [['p/held', 'held']]);
  assert.ok(st.sources.some((s) => s.queried === true), JSON.stringify(st.sources));
  assert.ok(readFileSync(path).equals(before), 'a held job confirmed held is not rewritten');
  // A change is written.
  assert.is((await qdo(['release', 'p/held'], opts)).code, 0);
  await waitDone('p/held');
  assert.is(readRecord(home, id).state, 'completed');
});

test.run();
