// Gating and small tools for tests against the real Slurm (test/e2e/slurm-*.test.ts).
// Without Slurm the tests are skipped with one line saying why, unless QDO_REQUIRE_SLURM=1
// (CI), which turns a missing Slurm into a failing test.
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Test } from 'uvu';
import { suiteWithLimit } from './uvu-timed.js';
import { removeDir } from './cli.js';
import { runCommand } from '../../src/scheduler/runner.js';
import type { Backend, JobState, RenderSpec } from '../../src/scheduler/types.js';

let cached: Promise<string | null> | undefined;

/** Why Slurm cannot be used here, or null when sbatch is on PATH and sinfo answers. */
export function whySlurmMissing(): Promise<string | null> {
  cached ??= (async () => {
    for (const cmd of ['sbatch', 'squeue', 'sinfo']) {
      if (!onPath(cmd)) return `${cmd} is not on PATH`;
    }
    try {
      const r = await runCommand(['sinfo', '-h', '-o', '%T'], { retries: 0, timeoutMs: 15000 });
      if (r.stdout.trim() === '') return 'sinfo lists no nodes';
      return null;
    } catch (e) {
      return `sinfo does not answer (${(e as Error).message.split('\n')[0]})`;
    }
  })();
  return cached;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export async function slurmAvailable(): Promise<boolean> {
  return (await whySlurmMissing()) === null;
}

/**
 * Each test of a Slurm suite may take this long unless it says otherwise (timeLimit): its jobs
 * share the node's CPUs with whatever else runs, and a loaded machine starts them late.
 */
export const SLURM_TEST_LIMIT_MS = 360_000;

/**
 * Waits on the real Slurm are stretched by QDO_TEST_WAIT_SCALE (CI sets it: a shared machine
 * there may start jobs minutes late). A wait that still runs out says what Slurm was doing.
 */
export const WAIT_SCALE = Number(process.env.QDO_TEST_WAIT_SCALE) > 0 ? Number(process.env.QDO_TEST_WAIT_SCALE) : 1;

/** What squeue and sinfo say now, for a timed-out wait's message (short; never throws). */
export function slurmSnapshot(): string {
  if (cached === undefined) return ''; // not a Slurm test
  const out = (argv: string[]) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
    const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    return text === '' ? `(${argv[0]} printed nothing${r.error ? `: ${r.error.message}` : ''})` : text.split('\n').slice(0, 25).join('\n');
  };
  return `squeue:\n${out(['squeue', '-a', '-o', '%i %u %j %T %r %M %C'])}\nsinfo:\n${out(['sinfo', '-N', '-h', '-o', '%N %T %C %E'])}`;
}

/**
 * A uvu suite whose tests run only on a machine with Slurm. `register` runs (at import
 * time, so it may start jobs early) only when Slurm is there. Without Slurm: one skip line,
 * or, with QDO_REQUIRE_SLURM=1, one failing test naming the reason.
 */
export async function slurmSuite(name: string, register: (test: Test) => void | Promise<void>): Promise<void> {
  const why = await whySlurmMissing();
  const test = suiteWithLimit(name, SLURM_TEST_LIMIT_MS);
  if (why === null) {
    await register(test);
  } else if (process.env.QDO_REQUIRE_SLURM === '1') {
    test('Slurm is available', () => {
      throw new Error(`QDO_REQUIRE_SLURM=1 but Slurm cannot be used here: ${why}`);
    });
  } else {
    console.log(`skipping ${name}: ${why} (set QDO_REQUIRE_SLURM=1 to fail instead)`);
    return;
  }
  test.run();
}

/**
 * A fresh folder for run folders and scripts, removed after the suite unless
 * QDO_KEEP_SCRATCH=1 (to look at a failed job's records and logs).
 */
export function scratchDir(prefix: string, test?: Test): string {
  const dir = mkdtempSync(join(process.env.QDO_SLURM_SCRATCH ?? tmpdir(), `qdo-${prefix}-`));
  if (test !== undefined) test.after(() => removeScratch(dir));
  return dir;
}

/**
 * Removes a scratch folder (unless QDO_KEEP_SCRATCH=1). A suite whose own after-hooks still
 * run qdo there (a cancel of what is left) registers this after them: a qdo run in a removed
 * home would make a new `.qdo` there. A job still writing into it (a late wrapper) can make
 * the removal fail: said, not a test failure.
 */
export function removeScratch(dir: string): void {
  if (process.env.QDO_KEEP_SCRATCH === '1') return;
  try {
    removeDir(dir);
  } catch (e) {
    console.log(`  could not remove ${dir}: ${(e as Error).message}`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 500): Promise<T> {
  timeoutMs *= WAIT_SCALE;
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}${cached ? `\n${slurmSnapshot()}` : ''}`);
    await sleep(everyMs);
  }
}

/** A value from `scontrol show config` ("MinJobAge" → "300 sec"). */
export async function slurmConfig(key: string): Promise<string | undefined> {
  const { stdout } = await runCommand(['scontrol', 'show', 'config'], { timeoutMs: 15000 });
  const line = stdout.split('\n').find((l) => l.split('=')[0]!.trim() === key);
  return line?.slice(line.indexOf('=') + 1).trim();
}

/** Starts `p` now; the returned promise is the same, but an unawaited rejection is not fatal. */
export function started<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/**
 * `f` run once, on the first call (later calls get the same promise, also as `.value`): for
 * jobs a test needs running when it starts. uvu imports every test file before it runs the
 * first test, so a job submitted at import time starts minutes before its test.
 */
export function lazily<T>(f: () => Promise<T>): (() => Promise<T>) & { value: Promise<T> | undefined } {
  const g = (() => (g.value ??= started(f()))) as (() => Promise<T>) & { value: Promise<T> | undefined };
  g.value = undefined;
  return g;
}

export interface E2EJob {
  id: string;
  runDir: string;
  scriptPath: string;
}

/**
 * Renders `over` with the backend (the real wrapper), writes the script into a fresh run
 * folder under `root` (the run folder must exist before sbatch: Slurm's own output goes
 * there) and submits it from `root`.
 */
export async function submitSpec(b: Backend, root: string, name: string, over: Partial<RenderSpec> = {}, hold = false): Promise<E2EJob> {
  const runDir = join(root, 'runs', name);
  mkdirSync(runDir, { recursive: true });
  const submitDir = join(root, 'submit');
  mkdirSync(submitDir, { recursive: true });
  const spec: RenderSpec = { jobName: name, resources: {}, script: 'true\n', runDir, submitDir, env: {}, ...over };
  const scriptPath = join(runDir, 'job.sh');
  writeFileSync(scriptPath, b.render(spec));
  const id = await b.submit(scriptPath, { cwd: root, hold });
  return { id, runDir, scriptPath };
}

/** The wrapper's end record (spec/scheduler-common.md §Records), or null before it exists. */
export function readEndRecord(taskDir: string): { exit_code: number | null; signal: string | null; time: string } | null {
  try {
    return JSON.parse(readFileSync(join(taskDir, 'qdo-end.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** What core's exit-record callback does, in small: id → run folder → end record → state. */
export function exitRecordReader(runDirs: Map<string, string>): (id: string) => Promise<JobState | null> {
  return async (id) => {
    const dir = runDirs.get(id);
    const rec = dir === undefined ? null : readEndRecord(dir);
    if (rec === null || rec.exit_code === null) return null;
    return { id, state: rec.exit_code === 0 ? 'completed' : 'failed', raw: `exit ${rec.exit_code}`, source: 'exit-record', exitCode: rec.exit_code };
  };
}

/** Polls backend.query([id]) until `want(state)` holds; returns that state. */
export function waitState(b: Backend, id: string, want: (s: JobState) => boolean, timeoutMs: number, what = 'a state'): Promise<JobState> {
  return waitFor(`job ${id} to reach ${what}`, async () => {
    const s = (await b.query([id])).get(id);
    return s !== undefined && want(s) ? s : undefined;
  }, timeoutMs);
}
