// `qdo doctor` (man/qdo-doctor.1): what qdo sees here, one check a line, each ok, warn or
// fail, and for the last two what to do. It asks the scheduler a few read-only questions
// (scheduler/facts.ts), reads every allocation, and writes nothing but one temp file per
// allocation (the clock probe, removed at once).
import { availableParallelism } from 'node:os';
import type { Context } from '../context.js';
import type { Runner } from '../scheduler/runner.js';
import { fileSystemTime, listLocks, permissionsOf } from '../store/census.js';
import { STALE_AT_SIGHT_MS } from '../store/locks.js';
import { allAllocations, allocationAt, type Allocation } from './world.js';
import { QdoError } from '../errors.js';
import { intentGroupSize } from '../store/intents.js';
import { WASM_RESERVATION, WORKER_RESERVATION, addressSpaceLeft, openFileLimit } from '../util/limits.js';

export type Status = 'ok' | 'warn' | 'fail';

export interface Check {
  /** What is checked: node, process, scheduler, cluster, responds, accounting, limits, allocation, permissions, clock, locks, code-cache. */
  check: string;
  /** The allocation (or lock) it is about, if any. */
  subject: string | null;
  status: Status;
  message: string;
  /** What to do, for warn and fail. */
  fix: string | null;
  data?: Record<string, unknown>;
}

export interface DoctorOptions {
  runner?: Runner;
  /** process.version and qdo's: the CLI knows them. */
  nodeVersion: string;
  qdoVersion: string;
  /** The bundle's code cache as the CLI sees it (null: not the bundle, or turned off). */
  codeCache?: { dir: string; usable: boolean; reason: string | null } | null;
  /** This user's uid (permission checks); undefined where there is none. */
  uid?: number;
}

export interface DoctorReport {
  checks: Check[];
  /** No check failed. */
  ok: boolean;
}

/** Clock skew within this is ok; beyond SKEW_FAIL_S it breaks stale-lock and interval logic. */
export const SKEW_WARN_S = 2;
export const SKEW_FAIL_S = 30;

function check(c: Omit<Check, 'subject' | 'fix'> & { subject?: string | null; fix?: string | null }): Check {
  const out: Check = { check: c.check, subject: c.subject ?? null, status: c.status, message: c.message, fix: c.fix ?? null };
  if (c.data) out.data = c.data;
  return out;
}

function age(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/** Open files below this make sweeps write in smaller groups (spec/layout.md §Writes). */
export const FEW_OPEN_FILES = 1024;

/**
 * This process's limits that change what qdo does (util/limits.ts): `ulimit -n` sizes the
 * groups a sweep writes; a `ulimit -v` too low for WebAssembly memory (10 GiB of address
 * space) or for a worker thread makes qdo do without them.
 */
function processCheck(): Check {
  const files = openFileLimit();
  const left = addressSpaceLeft();
  const notes: string[] = [];
  const fixes: string[] = [];
  if (files !== null && files < FEW_OPEN_FILES) {
    notes.push(`ulimit -n ${files}: sweeps and batch changes write in groups of ${intentGroupSize()} jobs (slower)`);
    fixes.push(`ulimit -n ${FEW_OPEN_FILES * 4} (up to the hard limit, ulimit -Hn)`);
  }
  if (left < WASM_RESERVATION) {
    notes.push(`ulimit -v leaves ${(left / 2 ** 30).toFixed(1)} GiB: no WebAssembly (it reserves 10 GiB), so code caches are summed in JavaScript and object ids hashed by node:crypto (a few ms a command)${left < WORKER_RESERVATION ? ', and gc removes run folders in one thread' : ''}`);
    fixes.push('ulimit -v unlimited (or 12 GB or more) where the limit allows it');
  }
  const data = { open_files: files !== null && Number.isFinite(files) ? files : null, address_space_left: Number.isFinite(left) ? left : null };
  if (notes.length === 0) {
    return check({ check: 'process', status: 'ok', message: `${files === null ? 'open files not limited here' : Number.isFinite(files) ? `ulimit -n ${files}` : 'no ulimit -n'}, ${Number.isFinite(left) ? `${(left / 2 ** 30).toFixed(1)} GiB of address space left` : 'no ulimit -v'}`, data });
  }
  return check({ check: 'process', status: 'warn', message: notes.join('; '), fix: fixes.join('; '), data });
}

export async function doctor(ctx: Context, o: DoctorOptions): Promise<DoctorReport> {
  const checks: Check[] = [];
  const major = Number(/^v(\d+)/.exec(o.nodeVersion)?.[1] ?? 0);
  checks.push(check({ check: 'node', status: major >= 20 ? 'ok' : 'fail', message: `qdo ${o.qdoVersion} on Node.js ${o.nodeVersion}`, fix: major >= 20 ? null : 'qdo needs Node.js 20 or newer' }));
  checks.push(processCheck());

  let allocs: Allocation[];
  try {
    allocs = await allAllocations(ctx);
  } catch (e) {
    if (!(e instanceof QdoError) || e.code !== 'untrusted-allocation') throw e;
    // qdo will not use a home allocation others may change (spec/trust.md §Allocations):
    // the one finding that matters, with its fix; nothing else can be looked at through it.
    checks.push(check({ check: 'permissions', subject: ctx.home, status: 'fail', message: e.message, fix: e.hint ?? 'chmod go-w the folders named' }));
    return { checks, ok: false };
  }
  const here = allocationAt(ctx.cwd, allocs);
  await schedulerChecks(ctx, here, checks, o);

  for (const a of allocs) await allocationChecks(ctx, a, checks, o);

  if (o.codeCache) {
    const c = o.codeCache;
    checks.push(check({ check: 'code-cache', subject: c.dir, status: c.usable ? 'ok' : 'warn', message: c.usable ? `compiled code is kept in ${c.dir}` : `not used: ${c.reason}`, fix: c.usable ? null : `every command compiles qdo anew (slower start); ${c.reason?.includes('others') ? `chmod go-w ${c.dir}` : 'unset QDO_CODE_CACHE, or make the folder writable'}` }));
  }
  return { checks, ok: !checks.some((c) => c.status === 'fail') };
}

async function schedulerChecks(ctx: Context, here: Allocation, checks: Check[], o: DoctorOptions): Promise<void> {
  if (!here.layout) {
    checks.push(check({ check: 'scheduler', status: 'fail', message: `the allocation here (${here.root}) cannot be read`, fix: 'see the allocation lines below' }));
    return;
  }
  const { chooseScheduler } = await import('./scheduler-choice.js');
  const choice = await chooseScheduler(ctx, here.layout, undefined, o.runner);
  const from = { flag: '--scheduler', env: 'QDO_SCHEDULER', config: `${choice.alloc.config}`, 'home-config': `${choice.home.config}`, detected: `detected: ${choice.evidence}` }[choice.source];
  const builtin = ['slurm', 'pbs', 'torque', 'local'].includes(choice.kind);
  let status: Status = 'ok';
  let fix: string | null = null;
  if (builtin && choice.kind !== 'local') {
    const { findOnPath } = await import('../scheduler/detect.js');
    const cmd = choice.kind === 'slurm' ? 'sbatch' : 'qsub';
    if (!(await findOnPath(cmd, ctx.env.PATH))) {
      status = 'fail';
      fix = `${cmd} is not on PATH: load the scheduler's module, or choose another scheduler (QDO_SCHEDULER, config.json "scheduler")`;
    }
  }
  if (!builtin && !choice.config.plugins?.[choice.kind]) {
    status = 'fail';
    fix = `no built-in scheduler and no plugin named "${choice.kind}" (config.json "plugins")`;
  }
  checks.push(check({ check: 'scheduler', status, message: `${choice.kind}${choice.version ? ` ${choice.version}` : ''} (${from})`, fix, data: { scheduler: choice.kind, version: choice.version, source: choice.source } }));
  const { clusterName } = await import('../scheduler/cluster.js');
  const cluster = await clusterName(choice.kind, ctx.env, ctx.host);
  checks.push(check({ check: 'cluster', status: 'ok', message: `${cluster}: jobs submitted from here are asked about here only`, data: { cluster } }));
  if (status === 'fail') return;
  if (choice.kind === 'local') {
    const cpus = choice.config.local_cpus ?? availableParallelism();
    checks.push(check({ check: 'responds', status: 'ok', message: `the local backend runs jobs on this host (${ctx.host})` }));
    checks.push(check({ check: 'accounting', status: 'ok', message: 'ends are learned from the jobs\' exit records' }));
    checks.push(check({ check: 'limits', status: 'ok', message: `${cpus} cpu(s) for jobs at a time (local_cpus)`, data: { cpus } }));
    return;
  }
  const { schedulerFacts } = await import('../scheduler/facts.js');
  for (const f of await schedulerFacts(choice.kind, o.runner)) checks.push(check({ ...f, fix: f.fix ?? null }));
}

async function allocationChecks(ctx: Context, a: Allocation, checks: Check[], o: DoctorOptions): Promise<void> {
  const subject = a.root;
  if (!a.layout) {
    checks.push(check({ check: 'allocation', subject, status: a.home ? 'fail' : 'warn', message: `unreachable: ${a.problem}`, fix: a.home ? 'the home allocation must be readable: check $QDO_HOME' : `mount it, or remove the line ${a.root} from ${ctx.home}/.qdo/allocations if it is gone for good` }));
    return;
  }
  const l = a.layout;
  checks.push(check({ check: 'allocation', subject, status: 'ok', message: `${a.home ? 'home, ' : ''}${a.projects.length} project(s)` }));
  // Permissions: qdo must be able to write; others should not.
  const p = await permissionsOf(l);
  if (!p.writable) checks.push(check({ check: 'permissions', subject, status: 'fail', message: `${l.dir} is not writable by this user`, fix: `chmod u+rwx ${l.dir} (or run qdo as its owner)` }));
  else if ((p.dirMode & 0o022) !== 0 || (p.rootMode & 0o002) !== 0) {
    const who = (p.dirMode & 0o002) !== 0 || (p.rootMode & 0o002) !== 0 ? 'everyone' : 'the group';
    checks.push(check({ check: 'permissions', subject, status: 'warn', message: `${who} may write ${(p.rootMode & 0o002) !== 0 ? l.root : l.dir} (mode ${(p.dirMode & 0o777).toString(8)})`, fix: `others could change your jobs' records and scripts: chmod go-w ${l.dir}${(p.rootMode & 0o002) !== 0 ? ` ${l.root}` : ''}` }));
  } else if (o.uid !== undefined && p.uid !== o.uid) checks.push(check({ check: 'permissions', subject, status: 'warn', message: `${l.dir} belongs to uid ${p.uid}, not to this user`, fix: 'a shared allocation: make sure its owners trust each other' }));
  else checks.push(check({ check: 'permissions', subject, status: 'ok', message: `${l.dir} is writable by this user only (mode ${(p.dirMode & 0o777).toString(8)})` }));
  // Clock: the file system's time against this host's.
  try {
    const before = ctx.now().getTime();
    const fsTime = (await fileSystemTime(l)).getTime();
    const after = ctx.now().getTime();
    const skew = fsTime < before ? (fsTime - before) / 1000 : fsTime > after ? (fsTime - after) / 1000 : 0;
    const abs = Math.abs(skew);
    const status: Status = abs < SKEW_WARN_S ? 'ok' : abs < SKEW_FAIL_S ? 'warn' : 'fail';
    checks.push(
      check({
        check: 'clock',
        subject,
        status,
        message: status === 'ok' ? `this host and the file system agree (skew ${skew.toFixed(1)} s)` : `the file system's clock is ${abs.toFixed(1)} s ${skew > 0 ? 'ahead of' : 'behind'} this host's`,
        fix: status === 'ok' ? null : 'qdo compares file times with this host\'s clock (stale locks, status intervals, ages): ask the admins to synchronise the clocks (NTP/chrony) of this host and the file server',
        data: { skew_seconds: skew },
      }),
    );
  } catch (e) {
    checks.push(check({ check: 'clock', subject, status: 'fail', message: `cannot write a file in ${l.cache}: ${(e as Error).message}`, fix: `chmod u+w ${l.cache}` }));
  }
  // Locks held now, and by whom.
  const locks = await listLocks(l);
  if (locks.length === 0) checks.push(check({ check: 'locks', subject, status: 'ok', message: 'no lock held' }));
  const now = ctx.now().getTime();
  for (const k of locks) {
    const since = now - k.mtime.getTime();
    const who = k.holder ? `${k.holder.host} pid ${k.holder.pid}${k.holder.start ? ` (started ${k.holder.start})` : ''}` : 'an unnamed holder';
    const gone = k.holder !== null && ctx.alive(k.holder) === 'dead';
    // By age alone, as fsck judges (spec/locking.md §Stale): beyond the clock skew allowed.
    const stale = since > STALE_AT_SIGHT_MS || gone;
    checks.push(
      check({
        check: 'locks',
        subject: k.path,
        status: stale ? 'warn' : 'ok',
        message: `${k.target.slice(l.dir.length + 1)} held by ${who}, refreshed ${age(since)} ago${gone ? '; that process is gone' : ''}`,
        fix: stale ? 'a stale lock: the next qdo that needs it takes it over; qdo fsck --repair removes it now' : null,
        data: { target: k.target, holder: k.holder, refreshed: k.mtime.toISOString() },
      }),
    );
  }
}
