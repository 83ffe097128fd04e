// Shared by the lifecycle tests: a temp home with project "p" on the local backend (real
// jobs on this machine), running qdo expecting success, and waiting for a job to end.
import * as assert from 'uvu/assert';
import type { Test } from 'uvu';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXED_NOW, qdo, removeDir, tempDir, type RunOptions } from './cli.js';
import type { Runner } from '../../src/scheduler/runner.js';
import { layoutOf } from '../../src/store/layout.js';
import { submissionPath } from '../../src/store/submissions.js';
import { parseSubmission, type Submission } from '../../src/model/submission.js';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const TERMINAL = ['completed', 'failed', 'cancelled', 'timeout', 'node-fail', 'out-of-memory', 'preempted', 'not-submitted'];

/** The home of the running test; `opts` runs qdo in it with QDO_SCHEDULER=local. */
export interface LocalHome {
  home: string;
  opts: RunOptions;
}

/** Registers before/after hooks: a fresh home with project "p" for each test. */
export function useLocalHome(test: Test, prefix: string): LocalHome {
  const h: LocalHome = { home: '', opts: { home: '' } };
  test.before.each(async () => {
    h.home = tempDir(prefix);
    h.opts = { home: h.home, env: { QDO_SCHEDULER: 'local' } };
    assert.is((await qdo(['project', 'add', 'p'], h.opts)).code, 0);
  });
  test.after.each(() => removeDir(h.home));
  return h;
}

/** Runs qdo and asserts exit 0; returns stdout. */
export async function ok(opts: RunOptions, args: string[]): Promise<string> {
  const r = await qdo(args, opts);
  assert.is(r.code, 0, `qdo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Refreshes until the job (its latest version, or version `id`) has ended; returns its status entry. */
export async function waitDone(opts: RunOptions, job: string, o: { id?: string; deadlineMs?: number } = {}): Promise<Json> {
  const end = Date.now() + (o.deadlineMs ?? 20_000);
  for (;;) {
    const jobs = JSON.parse(await ok(opts, ['status', '--refresh', '--json', ...(o.id ? ['--all-versions'] : []), job])).jobs as Json[];
    const j = o.id ? jobs.find((x) => x.id === o.id) : jobs[0];
    if (j && TERMINAL.includes(j.state)) return j;
    if (Date.now() > end) throw new Error(`${job}${o.id ? ` ${o.id}` : ''} still ${j?.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A fresh home (prefix `prefix`) with p/j recorded as a Slurm job (cluster "test", id 42)
 * that failed in its first attempt at FIXED_NOW, exit 4. `opts(s)` runs qdo `s` seconds
 * after FIXED_NOW; `runner` answers squeue with RUNNING and refuses any other command, each
 * command named in `calls` (a requeued job's tests: spec/submissions.md §Attempts).
 */
export async function failedSlurmJob(prefix: string): Promise<{ home: string; opts: (s?: number) => RunOptions; runner: Runner; calls: string[]; id: string; rec: Submission }> {
  const home = tempDir(prefix);
  const conf = join(home, 'slurm.conf');
  writeFileSync(conf, 'ClusterName=test\n');
  const opts = (s = 0): RunOptions => ({ home, env: { QDO_SCHEDULER: 'local', SLURM_CONF: conf }, now: new Date(FIXED_NOW.getTime() + s * 1000) });
  const calls: string[] = [];
  const runner = (async (argv: string[]) => {
    calls.push(argv[0]!);
    if (argv[0] === 'squeue') return { stdout: '42|42|RUNNING|None|0|(null)|\n', stderr: '', exitCode: 0, attempts: 1 };
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }) as Runner;
  assert.is((await qdo(['project', 'add', 'p'], opts())).code, 0);
  const sub = await qdo(['submit', 'p/j', '--hold', '--json', '--', 'true'], opts());
  assert.is(sub.code, 0, sub.stderr);
  const id = JSON.parse(sub.stdout).id as string;
  await qdo(['cancel', 'p/j'], opts());
  const rec = { ...readRecord(home, id), scheduler: 'slurm', cluster: 'test', sched_id: '42', state: 'failed', state_source: 'exit-record', state_time: FIXED_NOW.toISOString(), exit_code: 4, reason: null, attempt: 1 } as Submission;
  writeFileSync(submissionPath(layoutOf(home), id), JSON.stringify(rec) + '\n');
  return { home, opts, runner, calls, id, rec };
}

/** The submission record of version `id` in the allocation at `home`. */
export function readRecord(home: string, id: string): Submission {
  return parseSubmission(readFileSync(submissionPath(layoutOf(home), id)), 'record');
}

/**
 * Every file under `home` as a sorted list of relative paths (with a hash of the bytes when
 * asked), leaving out the folders that change on their own (the local spool, caches): for
 * "nothing written" checks.
 */
export function fileListing(home: string, o: { skip?: string[]; hashes?: boolean } = {}): string[] {
  const skip = o.skip ?? ['.qdo/local'];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip.includes(r)) continue;
      if (e.isDirectory()) walk(join(d, e.name), r);
      else out.push(o.hashes ? `${r} ${createHash('sha256').update(readFileSync(join(d, e.name))).digest('hex').slice(0, 16)}` : r);
    }
  };
  walk(home, '');
  return out.sort();
}

/** Replaces a record as qdo, rsync and git do: a new file renamed over it. */
export function replaceRecord(home: string, s: Submission): void {
  const p = submissionPath(layoutOf(home), s.id);
  writeFileSync(p + '.new', JSON.stringify(s) + '\n');
  renameSync(p + '.new', p);
}

/** The JOB column of a status table. */
export function jobColumn(table: string): string[] {
  return table.split('\n').slice(1).filter(Boolean).map((l) => l.split(/\s+/)[0]!);
}
