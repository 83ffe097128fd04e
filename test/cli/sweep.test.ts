// Sweeps in-process (spec/sweeps.md): `qdo submit NAME-TEMPLATE --grid …` and `qdo sweep FILE`
// on the local backend (real jobs on this machine, one submit per point), and a plugin that
// refuses one job to check the fault rules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { fileListing, readRecord } from '../helpers/jobs.js';

let home = '';
let opts: RunOptions;
test.before.each(async () => {
  home = tempDir('qdo-sweep-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  assert.is((await qdo(['project', 'add', 'p'], opts)).code, 0);
});
test.after.each(() => removeDir(home));

const GRID = ['submit', 'p/train-lr{{lr}}-bs{{bs}}', '--grid', 'lr=0.1,0.01', '--grid', 'bs=32,64,128', '--set', 'epochs=3', '--', 'echo', 'lr={{lr}} bs={{bs}} epochs={{epochs}}'];

async function json(args: string[], o: RunOptions = opts): Promise<Record<string, any>> {
  const at = args.indexOf('--');
  const r = await qdo(at < 0 ? [...args, '--json'] : [...args.slice(0, at), '--json', ...args.slice(at)], o);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('a 2×3 grid: six named jobs with their own parameters; status and wait address them; a re-run submits nothing', async () => {
  const r = await json(GRID);
  assert.is(r.version, 1);
  assert.match(r.sweep, /^[0-9a-f]{64}$/);
  assert.equal([r.total, r.submitted, r.skipped, r.dry_run], [6, 6, 0, false]);
  assert.equal(
    r.points.map((p: any) => p.job),
    ['p/train-lr0.1-bs32', 'p/train-lr0.1-bs64', 'p/train-lr0.1-bs128', 'p/train-lr0.01-bs32', 'p/train-lr0.01-bs64', 'p/train-lr0.01-bs128'],
  );
  assert.equal(r.points[4].params, { epochs: '3', lr: '0.01', bs: '64' });
  assert.ok(r.points.every((p: any, i: number) => p.state === 'pending' && p.sched_id === `${r.chunks[0].sched_id}_${i}` && p.array_job?.index === i && p.job_version === 1 && !p.skipped));
  // The local backend packs too (spec/sweeps.md §Packing): one chunk, one local array job.
  assert.equal(r.chunks.map((c: any) => [c.packed, c.points.length]), [[true, 6]]);
  // Each point is an ordinary job whose manifest and record name the sweep.
  const m = JSON.parse((await qdo(['cat-object', r.points[0].id], opts)).stdout);
  assert.equal(m.sweep, { id: r.sweep, index: 0 });
  assert.equal(readRecord(home, r.points[5].id).sweep, { id: r.sweep, index: 5 });

  const w = await qdo(['wait', `sweep:${r.sweep.slice(0, 8)}`], opts);
  assert.is(w.code, 0, w.stderr);
  assert.is(w.stdout, 'all 6 jobs completed\n');
  for (const p of r.points) {
    assert.is(readFileSync(join(p.run_dir, 'stdout'), 'utf8'), `lr=${p.params.lr} bs=${p.params.bs} epochs=3\n`);
  }
  const st = await json(['status', 'p/train-*']);
  assert.is(st.jobs.length, 6);
  assert.ok(st.jobs.every((j: any) => j.state === 'completed'));
  assert.is((await json(['status', `sweep:${r.sweep.slice(0, 6)}`])).jobs.length, 6);
  // show and logs work on a point unchanged.
  const logs = await qdo(['logs', 'p/train-lr0.1-bs64'], opts);
  assert.is(logs.stdout, 'lr=0.1 bs=64 epochs=3\n');

  const again = await json(GRID);
  assert.is(again.sweep, r.sweep);
  assert.equal([again.submitted, again.skipped, again.chunks.length], [0, 6, 0]);
  assert.ok(again.points.every((p: any) => p.skipped && p.job_version === 1));
  const human = await qdo(GRID, opts);
  assert.is(human.stdout, `sweep ${r.sweep.slice(0, 12)}: 6 points: 6 already submitted, nothing submitted\n`);
  // A changed sweep (another value) is another sweep: it supersedes every point by name.
  const changed = await json(GRID.map((a) => (a === 'epochs=3' ? 'epochs=4' : a)));
  assert.is.not(changed.sweep, r.sweep);
  assert.equal([changed.submitted, changed.points[0].job_version, changed.points[0].parent], [6, 2, r.points[0].id]);
  await qdo(['wait', `sweep:${changed.sweep.slice(0, 8)}`], opts);
});

test('human output: the sweep id, a line per job, how to follow them', async () => {
  const r = await qdo(['submit', 'p/j{{i}}', '--grid', 'i=1,2', '--', 'true'], opts);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  // The local backend packs the points into one local array job (spec/sweeps.md §Packing).
  assert.match(lines[0]!, /^sweep [0-9a-f]{12}: 2 points: 2 submitted as 1 array job \(local \d+\)$/);
  assert.match(lines[1]!, /^p\/j1@1 pending: local job \d+_0$/);
  assert.match(lines[2]!, /^p\/j2@1 pending: local job \d+_1$/);
  assert.match(lines[3]!, /^follow them with: qdo wait sweep:[0-9a-f]{12}$/);
  await qdo(['wait', 'p/j*'], opts);
});

test('two points giving one name: exit 2 naming them, nothing written', async () => {
  const before = fileListing(home);
  const r = await qdo(['submit', 'p/train-{{lr}}', '--grid', 'lr=1,2', '--grid', 'bs=8,16', '--', 'true'], opts);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^qdo: 2 name\(s\) are given by more than one point:\n  p\/train-1: \{lr=1 bs=8\}, \{lr=1 bs=16\}\n  p\/train-2: \{lr=2 bs=8\}, \{lr=2 bs=16\}\n/);
  assert.match(r.stderr, /put every parameter that varies into the name template/);
  assert.equal(fileListing(home), before);
  // A name template that gives an invalid name names the template.
  const bad = await qdo(['submit', 'p/run-{{x}}', '--grid', 'x=a/b', '--', 'true'], opts);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /name template: template "run-\{\{x\}\}" gives "run-a\/b", not a valid job name/);
  // Bad lists, and --no-array outside a sweep.
  assert.match((await qdo(['submit', 'p/x{{a}}', '--zip', 'a=1,2', '--zip', 'b=1', '--', 'true'], opts)).stderr, /zipped lists must have the same length/);
  const na = await qdo(['submit', 'p/x', '--no-array', '--', 'true'], opts);
  assert.is(na.code, 2);
  assert.match(na.stderr, /--no-array applies to sweeps/);
  assert.equal(fileListing(home), before);
});

test('--dry-run lists every point and the script, writes nothing; --json has every script', async () => {
  const before = fileListing(home);
  // --no-array: each point's own script is shown (packed, the array script is).
  const r = await qdo([...GRID.slice(0, 8), '--dry-run', '--no-array', ...GRID.slice(8)], opts);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /^sweep [0-9a-f]{12}: 6 points: 6 to submit one by one \(dry run\)$/);
  assert.is(lines[1], '  p/train-lr0.1-bs32    epochs=3 lr=0.1 bs=32');
  assert.is(lines[6], '  p/train-lr0.01-bs128  epochs=3 lr=0.01 bs=128');
  assert.is(lines[7], '# ---- script of p/train-lr0.1-bs32 (each point is submitted alone) ----');
  assert.match(r.stdout, /echo 'lr=0\.1 bs=32 epochs=3'/);
  assert.equal(fileListing(home), before);
  const j = await json([...GRID.slice(0, 8), '--dry-run', ...GRID.slice(8)]);
  assert.equal([j.dry_run, j.submitted], [true, 6]);
  assert.ok(j.points.every((p: any) => p.state === 'dry-run' && p.sched_id === null));
  assert.match(j.chunks[0].script, /^#!\/bin\/bash\n/);
  assert.equal(fileListing(home), before);
});

test('a refused job stops the sweep: the jobs before stay submitted, it and the rest leave no trace; the same command then submits only those', async () => {
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ plugins: { refuser: join(REPO, 'test/fixtures/plugins/refusing-backend.mjs') } }));
  writeFileSync(join(home, 'p/refuse'), "QDO_PARAM_x='4'\n");
  const cmd = ['submit', 'p/f{{x}}', '--scheduler', 'refuser', '--grid', 'x=1,2,3,4,5,6', '--', 'echo', 'x={{x}}'];
  const r = await qdo(cmd, opts);
  assert.is(r.code, 6, r.stderr);
  assert.match(r.stderr, /^qdo: chunk 1 of 1 was refused \(scheduler plugin "refuser" failed in submit: refused: the script contains QDO_PARAM_x='4'\); 3 point\(s\) of it were not submitted, the 3 before stay submitted\n/);
  const st = await json(['status', 'p/*']);
  assert.equal(
    st.jobs.map((j: any) => `${j.job}@${j.job_version}`),
    ['p/f1@1', 'p/f2@1', 'p/f3@1'],
  );
  for (const n of [4, 5, 6]) assert.not.ok(existsSync(join(home, `p/runs/f${n}`)), `no run folder for f${n}`);
  rmSync(join(home, 'p/refuse'));
  const again = await json(cmd);
  assert.equal([again.submitted, again.skipped], [3, 3]);
  assert.equal(
    again.points.filter((p: any) => !p.skipped).map((p: any) => `${p.job}@${p.job_version}`),
    ['p/f4@1', 'p/f5@1', 'p/f6@1'],
  );
  assert.is(readFileSync(join(again.points[3].run_dir, 'stdout'), 'utf8'), 'x=4\n');
  assert.is((await json(cmd)).submitted, 0);
});

test('qdo sweep FILE: defaults, groups, values as written, after: between groups', async () => {
  writeFileSync(
    join(home, 'sweep.yaml'),
    `# two groups; train waits on every prep job
defaults:
  command: [bash, -c, 'echo {{ job.name }} lr={{ lr }} stage={{ stage }}']
  set: {stage: one}
jobs:
  - id: prep
    name: p/prep-{{lr}}
    zip: {lr: [0.10, 1e-3]}
  - name: p/train-{{lr}}-s{{seed}}
    grid: {lr: [0.10, 1e-3], seed: [1, 2]}
    set: {stage: two}
    after: [prep]
`,
  );
  const d = await qdo(['sweep', 'sweep.yaml', '--dry-run'], opts);
  assert.is(d.code, 0, d.stderr);
  assert.match(d.stdout, /^sweep [0-9a-f]{12}: 6 points: 6 to submit as 2 array jobs \(dry run\)\n  p\/prep-0\.10 +stage=one lr=0\.10\n  p\/prep-1e-3 +stage=one lr=1e-3\n  p\/train-0\.10-s1 +stage=two lr=0\.10 seed=1\n/);
  const r = await json(['sweep', 'sweep.yaml']);
  assert.equal(r.points.map((p: any) => p.name), ['prep-0.10', 'prep-1e-3', 'train-0.10-s1', 'train-0.10-s2', 'train-1e-3-s1', 'train-1e-3-s2']);
  // Every train job waits on both prep jobs: manifest after (ids and names) and record after (scheduler ids).
  const m = JSON.parse((await qdo(['cat-object', r.points[3].id], opts)).stdout);
  assert.equal(m.after, [r.points[0].id, r.points[1].id]);
  assert.equal(m.after_revs, ['p/prep-0.10', 'p/prep-1e-3']);
  // The prep points went out as one local array job: afterok on it covers both (§Dependencies).
  assert.equal(readRecord(home, r.points[3].id).after, [r.points[0].array_job.base]);
  assert.equal([r.points[0].sched_id, r.points[1].sched_id], [`${r.points[0].array_job.base}_0`, `${r.points[0].array_job.base}_1`]);
  const w = await qdo(['wait', `sweep:${r.sweep.slice(0, 10)}`], opts);
  assert.is(w.code, 0, w.stderr);
  assert.is(readFileSync(join(r.points[4].run_dir, 'stdout'), 'utf8'), 'train-1e-3-s1 lr=1e-3 stage=two\n');
  assert.is((await json(['sweep', 'sweep.yaml'])).submitted, 0);
});

test('qdo sweep: errors name the file and the place in it (exit 2); JSON files too', async () => {
  writeFileSync(join(home, 'bad.yaml'), 'jobs:\n  - name: p/a\n    command: [x]\n  - name: p/b-{{lr}}\n    command: [x]\n    grid: {lr: 0.1}\n');
  const a = await qdo(['sweep', 'bad.yaml'], opts);
  assert.is(a.code, 2);
  assert.is(a.stderr.split('\n')[0], 'qdo: bad.yaml: jobs[1].grid.lr: expected a list, found "0.1"');
  writeFileSync(join(home, 'syntax.yaml'), 'jobs:\n  - name: [p/a\n');
  const b = await qdo(['sweep', 'syntax.yaml'], opts);
  assert.is(b.code, 2);
  assert.match(b.stderr, /^qdo: syntax\.yaml:\d+:\d+: /);
  writeFileSync(join(home, 's.json'), JSON.stringify({ jobs: [{ name: 'p/j{{n}}', grid: { n: [1, 2] }, command: ['echo', '{{n}}'], resources: { walltime: '1h' } }] }));
  const c = await qdo(['sweep', 's.json'], opts);
  assert.is(c.code, 2);
  assert.match(c.stderr, /^qdo: s\.json: jobs\[0\]\.resources\.walltime: unknown resource/);
  writeFileSync(join(home, 's.json'), '{"jobs": [');
  assert.match((await qdo(['sweep', 's.json'], opts)).stderr, /^qdo: s\.json: not valid JSON/);
  const none = await qdo(['sweep', 'nope.yaml'], opts);
  assert.is(none.code, 3);
  const sel = await qdo(['status', 'sweep:xy'], opts);
  assert.is(sel.code, 2);
  assert.match(sel.stderr, /expected sweep:<the first 4 or more hex digits of a sweep id>/);
});

test.run();
