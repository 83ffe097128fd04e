// qdo show, log and diff, in-process on the local backend: three versions of one job made
// through the real CLI (the jobs really run), then whole outputs against golden files.
// The clock is fixed, so manifest ids, times and ages are the same on every run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, scrub, tempDir, type RunOptions, type RunResult } from '../helpers/cli.js';
import { assertGolden } from '../helpers/golden.js';
import { layoutOf } from '../../src/store/layout.js';
import { readManifest, writeManifest } from '../../src/store/manifests.js';
import { writeObject } from '../../src/store/objects.js';
import { encodeManifest, type Manifest } from '../../src/model/manifest.js';

let home = '';
let opts: RunOptions;

/** Also the wrapper's own times and host, which are real, not the injected clock's. */
function scrubRun(text: string): string {
  return scrub(text, home)
    .replace(/"(started|ended)": "\d{4}-[^"]*"/g, '"$1": "<time>"')
    .replace(/"host": "[^"]*"/g, '"host": "<host>"');
}

function golden(name: string, r: RunResult): void {
  assertGolden(`${name}.txt`, `exit ${r.code}\n--- stdout\n${scrubRun(r.stdout)}--- stderr\n${scrubRun(r.stderr)}`);
}

async function ok(args: string[]): Promise<RunResult> {
  const r = await qdo(args, opts);
  assert.is(r.code, 0, `qdo ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** Polls status until every version of every job is terminal (the local jobs take a moment). */
async function waitAllTerminal(deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const j = JSON.parse((await ok(['status', '--refresh', '--json', '--all-versions'])).stdout) as { jobs: { state: string }[] };
    if (j.jobs.every((x) => ['completed', 'failed', 'cancelled', 'timeout', 'node-fail', 'out-of-memory', 'preempted', 'not-submitted', 'unsubmitted'].includes(x.state))) return;
    if (Date.now() > end) assert.unreachable(`jobs still running after ${deadlineMs} ms: ${JSON.stringify(j.jobs.map((x) => x.state))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.before(async () => {
  home = tempDir('qdo-show-');
  opts = { home, env: { QDO_SCHEDULER: 'local' } };
  await ok(['project', 'add', 'p']);
  await ok(['submit', 'p/j', '--scheduler', 'local', '--time', '1h', '--set', 'lr=0.1', '--', 'echo', 'lr={{ lr }}']);
  await ok(['submit', 'p/j', '--time', '2h', '--set', 'lr=0.2', '--env', 'A=1']);
  await ok(['submit', 'p/j', '--mem', '4G', '--retry-on', 'node-fail:2']);
  await waitAllTerminal();
});
test.after(() => removeDir(home));

test('show: the latest version, its state and where it was learned, paths', async () => {
  const r = await qdo(['show', 'p/j'], opts);
  golden('show-job-latest', r);
  assert.match(r.stdout, /^state\s+completed, exit 0$/m);
  assert.match(r.stdout, /^learned\s+from the job's own exit record/m);
  assert.match(r.stdout, /^resources\s+mem=4G time=02:00:00$/m);
});

test('show --json: everything, with machine names', async () => {
  const r = await qdo(['show', 'p/j@1', '--json'], opts);
  golden('show-job-json', r);
  const j = JSON.parse(r.stdout);
  assert.is(j.version, 1);
  assert.is(j.job_version, 1);
  assert.is(j.latest, false);
  assert.is(j.state, 'completed');
  assert.is(j.state_source, 'exit-record');
  assert.is(j.manifest.resources.time, 3600);
  assert.is(j.paths.script, join(home, 'p/runs/j', `1-${j.id.slice(0, 8)}`, 'job.local.sh'));
  assert.is(j.paths.script_exists, true);
  assert.equal(j.paths.logs.map((l: { task: unknown; stdout_exists: boolean }) => [l.task, l.stdout_exists]), [[null, true]]);
});

test('show: missing log files are said to be missing', async () => {
  const j = JSON.parse((await ok(['show', 'p/j@2', '--json'])).stdout);
  rmSync(j.paths.logs[0].stderr);
  const r = await ok(['show', 'p/j@2']);
  assert.match(scrub(r.stdout, home), /^stderr\s+\$HOME\/p\/runs\/j\/2-[0-9a-f]{8}\/stderr \(missing\)$/m);
  assert.match(scrub(r.stdout, home), /^stdout\s+\$HOME\/p\/runs\/j\/2-[0-9a-f]{8}\/stdout$/m);
  assert.is(JSON.parse((await ok(['show', 'p/j@2', '--json'])).stdout).paths.logs[0].stderr_exists, false);
});

test('log: versions newest first, each with what changed', async () => {
  const r = await qdo(['log', 'p/j'], opts);
  golden('log-all', r);
  const changes = r.stdout.split('\n').filter((l) => l.startsWith('Changes:'));
  assert.equal(changes, ['Changes: mem unset → 4G; retry none → node-fail:2', 'Changes: time 01:00:00 → 02:00:00; params lr=0.1 → 0.2; env +A=1; script changed', 'Changes: first version']);
});

test('log -n and --json; a revision starts the history there', async () => {
  const r = await qdo(['log', 'p/j', '-n', '1', '--json'], opts);
  golden('log-json-n1', r);
  const j = JSON.parse(r.stdout);
  assert.is(j.versions.length, 1);
  assert.is(j.more, 2);
  assert.equal(j.versions[0].changed, ['resources', 'retry']);
  const from2 = JSON.parse((await ok(['log', 'p/j~1', '--json'])).stdout);
  assert.equal(from2.versions.map((v: { job_version: number; latest: boolean }) => [v.job_version, v.latest]), [[2, false], [1, false]]);
  golden('log-n2-text', await qdo(['log', 'p/j', '-n', '2'], opts));
});

test('diff: two versions, field by field, script as a unified diff; exit 0 either way', async () => {
  const r = await qdo(['diff', 'p/j@1', 'p/j'], opts);
  golden('diff-two', r);
  assert.is(r.code, 0);
  golden('diff-json', await qdo(['diff', 'p/j@1', 'p/j@2', '--json'], opts));
});

test('diff with one REV compares with the parent; --exit-code says whether they differ', async () => {
  const r = await qdo(['diff', 'p/j', '--exit-code'], opts);
  golden('diff-parent-exit-code', r);
  assert.is(r.code, 1);
  const same = await qdo(['diff', 'p/j@2', 'p/j~1', '--exit-code'], opts);
  golden('diff-same', same);
  assert.is(same.code, 0);
  const j = JSON.parse((await ok(['diff', 'p/j@3', 'p/j@3', '--json'])).stdout);
  assert.is(j.different, false);
  assert.equal(j.changed, []);
  assert.is(j.script, null);
});

test('errors: unknown job with a hint, a pattern, a project, a bad rev, no parent, bad -n', async () => {
  golden('show-job-unknown', await qdo(['show', 'p/jj'], opts));
  golden('show-job-pattern', await qdo(['show', 'p/*'], opts));
  golden('show-job-project', await qdo(['show', 'p'], opts));
  golden('show-job-bad-rev', await qdo(['show', 'p/j@0'], opts));
  golden('show-job-no-version', await qdo(['show', 'p/j@9'], opts));
  golden('log-unknown-project', await qdo(['log', 'q/j'], opts));
  golden('log-bad-count', await qdo(['log', 'p/j', '-n', 'x'], opts));
  golden('diff-no-parent', await qdo(['diff', 'p/j@1'], opts));
  golden('diff-unknown', await qdo(['diff', 'p/j', 'p/k'], opts));
});

test('an id prefix shared by two manifests is ambiguous; a unique one works', async () => {
  const l = layoutOf(home);
  const base = await readManifest(l, JSON.parse((await ok(['show', 'p/j@1', '--json'])).stdout).id);
  // Find two manifests whose ids share 4 hex digits (deterministic: the contents are fixed).
  const seen = new Map<string, Manifest>();
  let pair: [Manifest, Manifest] | null = null;
  for (let i = 0; pair === null; i++) {
    const m: Manifest = { ...base, name: 'amb', params: { i: String(i) } };
    const p = encodeManifest(m).id.slice(0, 4);
    const other = seen.get(p);
    if (other) pair = [other, m];
    else seen.set(p, m);
  }
  const a = await writeManifest(l, pair[0]);
  const b = await writeManifest(l, pair[1]);
  golden('show-job-ambiguous', await qdo(['show', a.slice(0, 4)], opts));
  const r = await ok(['show', b.slice(0, 12), '--json']);
  const j = JSON.parse(r.stdout);
  assert.is(j.id, b);
  assert.is(j.state, 'unsubmitted');
  assert.is(j.latest, false);
});

test('a version made without qdo submit is "unsubmitted" in show and log', async () => {
  await ok(['project', 'add', 'q']);
  const l = layoutOf(home);
  const script = await writeObject(l, Buffer.from('#!/bin/bash\necho plumbing\n'));
  const m: Manifest = {
    schema: 'qdo.job/v1', project: 'q', name: 'made', version: 1, parent: null, script, resources: { cpus: 2 }, scheduler: 'slurm',
    params: { x: 'a b' }, env: {}, prologue: null, epilogue: null, created: '2026-11-20T08:00:00.000Z',
  };
  const id = await writeManifest(l, m);
  await ok(['update-ref', 'q/made', id]);
  golden('show-job-unsubmitted', await qdo(['show', 'q/made'], opts));
  assert.is(JSON.parse((await ok(['show', 'q/made', '--json'])).stdout).state, 'unsubmitted');
  const log = await ok(['log', 'q/made']);
  assert.match(log.stdout, /^State:   unsubmitted$/m);
});

test('array jobs: show lists one pair of logs per task folder', async () => {
  await ok(['submit', 'p/arr', '--array', '1-2', '--', 'echo', 'task']);
  await waitAllTerminal();
  const j = JSON.parse((await ok(['show', 'p/arr', '--json'])).stdout);
  assert.is(j.paths.array, true);
  assert.equal(
    j.paths.logs.map((x: { task: string; stdout: string; stdout_exists: boolean }) => [x.task, x.stdout.slice(j.paths.run_dir.length), x.stdout_exists]),
    [
      ['1', '/1/stdout', true],
      ['2', '/2/stdout', true],
    ],
  );
  assert.match((await ok(['show', 'p/arr'])).stdout, /^logs\s+2 task folder\(s\) so far: .*\/<index>\/\{stdout,stderr\}$/m);
});

test.run();
