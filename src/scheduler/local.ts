// The local backend: runs jobs on this machine, detached from qdo, at most `cpus` slots
// at a time, with the same wrapper and records as the cluster backends
// (spec/local-backend.md). No daemon: a bash dispatcher (local/spool-script.ts) runs a
// pass whenever something changes, under an mkdir lock shared with this file.
import { closeSync, existsSync, fchmodSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SchedulerError, UsageError, errnoCode } from '../errors.js';
import { MAX_ARRAY_TASKS, expandArray, parseDirectives, renderDirectives } from './local/directives.js';
import { SpoolPaths, entryKey, exists, isShepherd, prepareSpool, putFile, putFileSync, readText, withSpoolLock } from './local/spool.js';
import { spawnDetached, type Runner } from './runner.js';
import type { Backend, CheckAnswer, JobState, NormalState, RenderSpec, SubmitOptions } from './types.js';
import { localJobVars } from './job-vars.js';
import { renderWrapper, shellQuote } from './wrapper.js';

export interface LocalBackendOptions {
  /** Spool folder, e.g. `<home allocation>/.qdo/local`. */
  spoolDir: string;
  /** Slots: how many CPUs' worth of jobs run at once (os.availableParallelism()). */
  cpus: number;
  /** Environment jobs start with (the submitter's, as Slurm's --export=ALL). Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Seconds between TERM and KILL on cancel or time limit. Default 10. */
  killGraceSec?: number;
  /** Unused (the local backend runs no scheduler commands); accepted like other backends. */
  runner?: Runner;
  /** Starts the detached dispatcher; replaceable in tests. */
  spawn?: typeof spawnDetached;
}

/** Raw state words (the spool's own vocabulary) and their normal states. */
const RAW_TO_STATE: Record<string, NormalState> = {
  PENDING: 'pending',
  HELD: 'held',
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TIMEOUT: 'timeout',
  LOST: 'node-fail',
};

// Variables a fresh bash sets itself or refuses to take (readonly), so env.sh skips them.
const ENV_SKIP = new Set(['_', 'PWD', 'OLDPWD', 'SHLVL', 'BASHOPTS', 'SHELLOPTS', 'BASHPID', 'EUID', 'UID', 'PPID', 'GROUPS', 'BASH_VERSINFO', 'BASH_ARGV0']);

interface TaskInfo {
  raw: string;
  exitCode?: number | null;
  reason?: string;
}

/** What one query call has read of a job: its task names, and its marks once needed. */
interface SeenJob {
  names: string[];
  has: Set<string>;
  marks?: { cancelled: boolean; held: boolean };
}

interface JobId {
  id: number;
  /** "main", an array index, or undefined for "the whole job". */
  task?: string;
}

function parseId(text: string): JobId | undefined {
  const m = /^(\d+)(?:_(\d+))?$/.exec(text.trim());
  if (!m) return undefined;
  return { id: Number(m[1]), task: m[2] === undefined ? undefined : String(Number(m[2])) };
}

export class LocalBackend implements Backend {
  readonly kind = 'local';
  /** Packed arrays are local arrays: at most MAX_ARRAY_TASKS tasks. */
  readonly maxArraySize = MAX_ARRAY_TASKS;
  private readonly paths: SpoolPaths;
  private readonly slots: number;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly grace: number;
  private readonly spawn: typeof spawnDetached;
  private prepared = false;

  constructor(opts: LocalBackendOptions) {
    if (!opts.spoolDir.startsWith('/')) throw new UsageError(`local spool folder must be absolute, found ${JSON.stringify(opts.spoolDir)}`, { code: 'bad-spool-dir' });
    this.paths = new SpoolPaths(opts.spoolDir);
    this.slots = Math.max(1, Math.floor(opts.cpus));
    this.env = opts.env ?? process.env;
    this.grace = Math.max(0, Math.floor(opts.killGraceSec ?? 10));
    this.spawn = opts.spawn ?? spawnDetached;
  }

  /** Element i of packed array 7 is its array task "7_i" (spec/local-backend.md §Packed arrays). */
  elementId(baseId: string, index: number): string {
    if (!/^\d+$/.test(baseId) || !Number.isInteger(index) || index < 0) {
      throw new SchedulerError('scheduler-bad-id', `elementId: expected a local job id like "7" and an index >= 0, found ${JSON.stringify(baseId)} and ${index}`);
    }
    return `${baseId}_${index}`;
  }

  /** `#!/bin/bash`, `#QDO_LOCAL` directives, then the common wrapper. */
  render(spec: RenderSpec): string {
    const cpus = spec.resources.cpus ?? 1;
    return ['#!/bin/bash', '# qdo local backend (spec/local-backend.md): runs on this machine; slots = cpus x tasks.', ...renderDirectives(spec), '', renderWrapper(spec, localJobVars(cpus))].join('\n');
  }

  private async prepare(): Promise<void> {
    if (this.prepared) return;
    await prepareSpool(this.paths, this.slots);
    this.prepared = true;
  }

  private dispatch(): void {
    this.spawn(['bash', this.paths.script, 'dispatch', this.paths.root], { cwd: '/', env: this.env as Record<string, string | undefined> });
  }

  private envScript(): string {
    const lines = ['# The submitter environment (spec/local-backend.md §Environment).'];
    for (const k of Object.keys(this.env).sort()) {
      const v = this.env[k];
      if (v === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || ENV_SKIP.has(k) || v.includes('\0')) continue;
      lines.push(`export ${k}=${shellQuote(v)}`);
    }
    return lines.join('\n') + '\n';
  }

  /**
   * The local backend takes every job it can parse (spec/local-backend.md §Check): a job
   * asking more slots than the machine has runs with all of them, which the answer says.
   */
  async check(script: string): Promise<CheckAnswer> {
    const d = parseDirectives(script, 'the job script');
    if (d.array !== undefined) expandArray(d.array);
    const note = d.slots > this.slots ? `; it asks ${d.slots} slots and would run with the ${this.slots} this machine has` : '';
    return { accepted: true, message: `the local backend would run it${note}` };
  }

  /** Returns the new job's id: a decimal integer, increasing, never reused in this spool. */
  async submit(scriptPath: string, opts: SubmitOptions): Promise<string> {
    let script: string;
    try {
      script = await readFile(scriptPath, 'utf8');
    } catch (e) {
      throw new SchedulerError('local-submit-failed', `cannot read job script ${scriptPath}: ${errnoCode(e) ?? String(e)}`);
    }
    const d = parseDirectives(script, scriptPath);
    const plan = d.array !== undefined ? expandArray(d.array) : undefined;
    const tasks = plan ? plan.indices.map(String) : ['main'];
    await this.prepare();
    // The first queue entry is the commit point: before it, a failure leaves nothing that
    // runs (the half-made job folder is removed); after it, the job may run, so a failure is
    // ambiguous and never taken for a refusal (spec/submissions.md §Submitting).
    let made: string | undefined;
    let enqueued = false;
    const attempt = withSpoolLock(this.paths, async () => {
      if (d.depend !== undefined) {
        for (const dep of d.depend.matchAll(/:(\d+)(?:_(\d+))?/g)) {
          const there = dep[2] === undefined ? this.paths.job(Number(dep[1])) : this.paths.task(Number(dep[1]), String(Number(dep[2])));
          if (!(await exists(there))) {
            throw new SchedulerError('local-unknown-dependency', `dependency on local job ${dep[0].slice(1)}, which does not exist in ${this.paths.root}`);
          }
        }
      }
      const last = Number((await readText(this.paths.lastId))?.trim() ?? '0') || 0;
      let n = last + 1;
      for (;;) {
        try {
          await mkdir(this.paths.job(n), { recursive: false });
          break;
        } catch (e) {
          if (errnoCode(e) !== 'EEXIST') throw e;
          n++;
        }
      }
      const dir = this.paths.job(n);
      made = dir;
      await putFile(join(dir, 'script'), script, 0o700);
      await putFile(join(dir, 'env.sh'), this.envScript(), 0o600);
      const jobEnv = [
        `weight=${Math.min(d.slots, this.slots)}`,
        `limit=${d.time}`,
        `grace=${this.grace}`,
        `maxrun=${plan?.maxRunning ?? 0}`,
        `depend=${shellQuote(d.depend ?? '')}`,
        `cwd=${shellQuote(opts.cwd)}`,
      ];
      await putFile(join(dir, 'job.env'), jobEnv.join('\n') + '\n');
      const info = {
        id: String(n),
        name: d.name,
        tag: d.tag ?? null,
        cwd: opts.cwd,
        slots: d.slots,
        time: d.time,
        array: d.array ?? null,
        depend: d.depend ?? null,
        script: scriptPath,
        tasks: tasks.length,
      };
      await putFile(join(dir, 'job.json'), JSON.stringify(info) + '\n');
      if (opts.hold) await putFile(join(dir, 'held'), '');
      // Synchronous, one or two calls per task: a packed sweep queues up to 10^4 tasks at once,
      // and each promise call is a thread hop (bench/README.md §Scale).
      if (tasks.length > 0) mkdirSync(dirname(this.paths.task(n, tasks[0]!)), { recursive: true });
      for (const t of tasks) mkdirSync(this.paths.task(n, t));
      for (const t of tasks) {
        // An empty file appears whole: no temp file needed (§Spool).
        const fd = openSync(join(this.paths.queue, entryKey(n, t)), 'w', 0o644);
        try {
          fchmodSync(fd, 0o644);
        } finally {
          closeSync(fd);
        }
        enqueued = true;
      }
      await putFile(this.paths.lastId, `${n}\n`);
      return n;
    });
    let id: number;
    try {
      ({ value: id } = await attempt);
    } catch (e) {
      if (!enqueued) {
        if (made !== undefined) await rm(made, { recursive: true, force: true }).catch(() => undefined);
        throw e;
      }
      throw new SchedulerError('scheduler-submit-ambiguous', `the local backend may or may not have queued ${scriptPath}: ${e instanceof Error ? e.message : String(e)}`, {
        hint: 'the job may exist; qdo looks for it by its tag before submitting again',
        cause: e,
      });
    }
    this.dispatch();
    return String(id);
  }

  private async taskNames(id: number): Promise<string[] | undefined> {
    try {
      const names = await readdir(join(this.paths.job(id), 'tasks'));
      return names.filter((n) => n === 'main' || /^\d+$/.test(n)).sort((a, b) => (a === 'main' ? -1 : b === 'main' ? 1 : Number(a) - Number(b)));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  /**
   * One task's state. Entries move queue → running → result, each created before the
   * previous is removed, so reading in that order never misses a task (§States).
   */
  private async taskState(id: number, task: string): Promise<TaskInfo & { deadShepherd?: boolean }> {
    const key = entryKey(id, task);
    const tdir = this.paths.task(id, task);
    if (await exists(join(this.paths.queue, key))) {
      const jdir = this.paths.job(id);
      if ((await exists(join(jdir, 'cancelled'))) || (await exists(join(tdir, 'cancelled')))) return { raw: 'CANCELLED', exitCode: null };
      if ((await exists(join(jdir, 'held'))) || (await exists(join(tdir, 'held')))) return { raw: 'HELD' };
      return { raw: 'PENDING' };
    }
    const running = await readText(join(this.paths.running, key));
    if (running !== undefined) {
      const result = await this.readResult(tdir);
      if (result) return result;
      const pid = Number(running.trim().split(/\s+/)[0]);
      return { raw: 'RUNNING', deadShepherd: !isShepherd(pid, this.paths.root, id, task) };
    }
    const result = await this.readResult(tdir);
    if (result) return result;
    return { raw: '' };
  }

  private async readResult(tdir: string): Promise<TaskInfo | undefined> {
    const text = await readText(join(tdir, 'result.json'));
    if (text === undefined) return undefined;
    try {
      const r = JSON.parse(text) as { state?: unknown; exit_code?: unknown; reason?: unknown };
      const info: TaskInfo = { raw: typeof r.state === 'string' ? r.state : '', exitCode: typeof r.exit_code === 'number' ? r.exit_code : null };
      if (typeof r.reason === 'string' && r.reason !== '') info.reason = r.reason;
      return info;
    } catch {
      throw new SchedulerError('local-bad-record', `${join(tdir, 'result.json')} is not valid JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
  }

  /**
   * States of local job ids ("7") and array task ids ("7_3"), read from the spool. One look
   * for the whole call (status asks for 10^4 elements of a few packed arrays at once): each
   * job's task names and markers read once, the queue and running folders listed once, in
   * the order entries move (queue, then running, then results: §States), so a task that
   * moves while we look is still found; one that is found nowhere is read again alone.
   */
  async query(ids: string[]): Promise<Map<string, JobState>> {
    const out = new Map<string, JobState>();
    let kick = false;
    const jobs = new Map<number, SeenJob | undefined>();
    const jobOf = async (id: number) => {
      if (jobs.has(id)) return jobs.get(id);
      const names = await this.taskNames(id);
      const j = names && { names, has: new Set(names) };
      jobs.set(id, j);
      return j;
    };
    const parsed = ids.map((text) => ({ text, jid: parseId(text) }));
    for (const { jid } of parsed) if (jid) await jobOf(jid.id);
    const queued = await this.listEntries(this.paths.queue);
    const running = await this.listEntries(this.paths.running);
    for (const { text, jid } of parsed) {
      const j = jid && jobs.get(jid.id);
      if (!jid || !j || (jid.task !== undefined && !j.has.has(jid.task))) {
        out.set(text, { id: text, state: 'unknown', raw: '', source: 'none' });
        continue;
      }
      const infos: TaskInfo[] = [];
      for (const t of jid.task !== undefined ? [jid.task] : j.names) {
        let info = await this.taskStateSeen(jid.id, t, j, queued, running);
        // Found nowhere (moved between the listings and its result): read alone, and once
        // more if it moved between those reads too, as taskState's callers always did.
        for (let k = 0; info.raw === '' && k < 2; k++) info = await this.taskState(jid.id, t);
        if (info.raw === 'PENDING' || info.deadShepherd) kick = true;
        infos.push(info);
      }
      out.set(text, aggregate(text, infos));
    }
    // Recover from a dispatcher that never ran (machine restart, killed shepherd).
    if (kick && !(await exists(this.paths.lock))) this.dispatch();
    return out;
  }

  /** The entry names in a spool folder (none if it is missing). */
  private async listEntries(dir: string): Promise<Set<string>> {
    try {
      return new Set(await readdir(dir));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return new Set();
      throw e;
    }
  }

  /** taskState from listings taken in this call (queue first, then running). */
  private async taskStateSeen(id: number, task: string, job: SeenJob, queued: Set<string>, running: Set<string>): Promise<TaskInfo & { deadShepherd?: boolean }> {
    const key = entryKey(id, task);
    const tdir = this.paths.task(id, task);
    if (queued.has(key)) {
      // The job's marks once, after the queue was seen (as taskState reads them); the
      // task's synchronously: one or two calls per queued task, for thousands of them.
      const jdir = this.paths.job(id);
      job.marks ??= { cancelled: existsSync(join(jdir, 'cancelled')), held: existsSync(join(jdir, 'held')) };
      if (job.marks.cancelled || existsSync(join(tdir, 'cancelled'))) return { raw: 'CANCELLED', exitCode: null };
      if (job.marks.held || existsSync(join(tdir, 'held'))) return { raw: 'HELD' };
      return { raw: 'PENDING' };
    }
    if (running.has(key)) {
      const text = await readText(join(this.paths.running, key));
      const result = await this.readResult(tdir);
      if (result) return result;
      if (text === undefined) return { raw: '' };
      const pid = Number(text.trim().split(/\s+/)[0]);
      return { raw: 'RUNNING', deadShepherd: !isShepherd(pid, this.paths.root, id, task) };
    }
    return (await this.readResult(tdir)) ?? { raw: '' };
  }

  /**
   * The jobs the ids name, each once: its tasks named (in task order), or all of them
   * (`whole`) where the job itself or every one of its tasks is named (`qdo cancel 'sweep/*'`
   * names each element of a packed array; the array is then acted on as one).
   */
  private async resolve(ids: string[]): Promise<{ id: number; tasks: string[]; whole: boolean }[]> {
    const missing: string[] = [];
    // Each job's tasks listed once: a cancel of a sweep names 10^4 elements of one array.
    const seen = new Map<number, { names: string[]; has: Set<string> } | undefined>();
    const named = new Map<number, Set<string> | null>(); // null: the whole job
    for (const text of ids) {
      const jid = parseId(text);
      let job = jid ? seen.get(jid.id) : undefined;
      if (jid && !seen.has(jid.id)) {
        const names = await this.taskNames(jid.id);
        seen.set(jid.id, (job = names && { names, has: new Set(names) }));
      }
      if (!jid || !job || (jid.task !== undefined && !job.has.has(jid.task))) {
        missing.push(text);
        continue;
      }
      if (jid.task === undefined) named.set(jid.id, null);
      else if (named.get(jid.id) !== null) {
        let tasks = named.get(jid.id);
        if (tasks === undefined) named.set(jid.id, (tasks = new Set()));
        tasks!.add(jid.task);
      }
    }
    if (missing.length > 0) {
      throw new SchedulerError('scheduler-unknown-job', `no such local job: ${missing.join(', ')}`, { data: { ids: missing } });
    }
    return [...named].map(([id, tasks]) => {
      const names = seen.get(id)!.names;
      const whole = tasks === null || tasks.size === names.length;
      return { id, tasks: whole ? names : names.filter((n) => tasks!.has(n)), whole };
    });
  }

  /**
   * Queued tasks are cancelled at once (they never start); running ones get TERM through
   * their shepherd, KILL after the grace time. Finished ones are left alone.
   */
  async cancel(ids: string[]): Promise<void> {
    await this.prepare();
    const jobs = await this.resolve(ids);
    const { dirty } = await withSpoolLock(this.paths, async () => {
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      let n = 0;
      for (const j of jobs) {
        if (j.whole) await putFile(join(this.paths.job(j.id), 'cancelled'), '');
        for (const t of j.tasks) {
          // A few system calls per task, made directly (an array of 10^4 queued tasks took
          // minutes through the thread pool); the event loop gets a turn now and then.
          if (++n % 256 === 0) await new Promise((r) => setImmediate(r));
          const key = entryKey(j.id, t);
          const tdir = this.paths.task(j.id, t);
          if (!j.whole) putFileSync(join(tdir, 'cancelled'), '');
          if (existsSync(join(this.paths.queue, key))) {
            if (!existsSync(join(tdir, 'result.json'))) {
              putFileSync(join(tdir, 'result.json'), JSON.stringify({ state: 'CANCELLED', exit_code: null, started: null, ended: now, reason: 'cancelled while queued' }) + '\n');
            }
            rmSync(join(this.paths.queue, key), { force: true });
            continue;
          }
          const entry = join(this.paths.running, key);
          if (!existsSync(entry)) continue;
          const running = await readText(entry);
          if (running === undefined) continue;
          const pid = Number(running.trim().split(/\s+/)[0]);
          // Only the task's own shepherd: its pid may belong to another process by now.
          if (isShepherd(pid, this.paths.root, j.id, t)) {
            try {
              process.kill(pid, 'SIGTERM');
            } catch {
              // gone meanwhile: the next dispatch pass records it
            }
          }
        }
      }
    });
    if (dirty) this.dispatch();
  }

  /** Held tasks stay queued; running and finished ones are not affected. */
  async hold(ids: string[]): Promise<void> {
    await this.prepare();
    const jobs = await this.resolve(ids);
    const { dirty } = await withSpoolLock(this.paths, async () => {
      let n = 0;
      for (const j of jobs) {
        if (j.whole) await putFile(join(this.paths.job(j.id), 'held'), '');
        else {
          for (const t of j.tasks) {
            if (++n % 256 === 0) await new Promise((r) => setImmediate(r));
            putFileSync(join(this.paths.task(j.id, t), 'held'), '');
          }
        }
      }
    });
    if (dirty) this.dispatch();
  }

  async release(ids: string[]): Promise<void> {
    await this.prepare();
    const jobs = await this.resolve(ids);
    await withSpoolLock(this.paths, async () => {
      // As in cancel: a few system calls per task, made directly, the event loop given a turn now and then.
      let n = 0;
      const turn = async () => {
        if (++n % 256 === 0) await new Promise((r) => setImmediate(r));
      };
      for (const j of jobs) {
        const whole = join(this.paths.job(j.id), 'held');
        if (!j.whole && existsSync(whole)) {
          // One task of a job held whole (a sweep submitted with --hold): the other tasks stay
          // held, each by its own mark, as `scontrol release 7_3` leaves 7_0 held.
          const released = new Set(j.tasks);
          for (const t of (await this.taskNames(j.id)) ?? []) {
            await turn();
            if (!released.has(t)) putFileSync(join(this.paths.task(j.id, t), 'held'), '');
          }
        }
        rmSync(whole, { force: true });
        for (const t of j.tasks) {
          await turn();
          rmSync(join(this.paths.task(j.id, t), 'held'), { force: true });
        }
      }
    });
    this.dispatch();
  }

  async findByTag(tag: string): Promise<string | null> {
    let names: string[];
    try {
      names = await readdir(join(this.paths.root, 'jobs'));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      throw e;
    }
    const ids = names.filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(b) - Number(a));
    for (const n of ids) {
      const text = await readText(join(this.paths.job(Number(n)), 'job.json'));
      if (text === undefined) continue;
      try {
        if ((JSON.parse(text) as { tag?: unknown }).tag !== tag) continue;
      } catch {
        continue; // a half-created job folder: not a match
      }
      // A job folder whose submitter died before queueing a task never runs: not submitted.
      if (await this.wasQueued(Number(n))) return n;
    }
    return null;
  }

  /** True if any task of job `id` reached the queue (queue → running → result, read in that order). */
  private async wasQueued(id: number): Promise<boolean> {
    for (const t of (await this.taskNames(id)) ?? []) {
      const key = entryKey(id, t);
      if ((await exists(join(this.paths.queue, key))) || (await exists(join(this.paths.running, key))) || (await exists(join(this.paths.task(id, t), 'result.json')))) return true;
    }
    return false;
  }
}

/** One state for a job from its tasks' states (§States: arrays). */
function aggregate(id: string, infos: TaskInfo[]): JobState {
  const raws = infos.map((i) => i.raw);
  const pick = (raw: string): JobState => {
    const found = infos.find((i) => i.raw === raw)!;
    const finished = !['PENDING', 'HELD', 'RUNNING'].includes(raw);
    const s: JobState = { id, state: RAW_TO_STATE[raw] ?? 'unknown', raw, source: finished ? 'exit-record' : 'queue' };
    if (finished) {
      const codes = infos.map((i) => i.exitCode).filter((c): c is number => typeof c === 'number');
      s.exitCode = raw === 'COMPLETED' ? 0 : (found.exitCode ?? (codes.length > 0 ? Math.max(...codes) : null));
    }
    if (found.reason !== undefined) s.reason = found.reason;
    return s;
  };
  if (raws.includes('')) return { id, state: 'unknown', raw: '', source: 'none' };
  for (const raw of ['RUNNING', 'PENDING', 'HELD', 'CANCELLED', 'LOST', 'TIMEOUT', 'FAILED', 'COMPLETED']) {
    if (raws.includes(raw)) return pick(raw);
  }
  return { id, state: 'unknown', raw: raws[0] ?? '', source: 'none' };
}
