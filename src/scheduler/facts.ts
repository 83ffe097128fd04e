// What `qdo doctor` learns from the scheduler (man/qdo-doctor.1): does it answer, does it
// keep accounting (how qdo learns the end of a job that left the queue), and its limits.
// The parsers are pure and tested on captured outputs (test/fixtures/slurm/doctor, and
// qstat -Bf/-Qf in their documented format). Every command goes through the runner, with
// no retries and a short timeout: a doctor must not hang on a dead controller.
import { runCommand, type Runner } from './runner.js';

export type FactStatus = 'ok' | 'warn' | 'fail';

export interface Fact {
  check: 'responds' | 'accounting' | 'limits';
  status: FactStatus;
  message: string;
  fix?: string;
  data?: Record<string, unknown>;
}

export interface Partition {
  name: string;
  default: boolean;
  available: string;
  timeLimit: string;
  nodes: number;
  cpus: string;
  memoryMb: string;
}

/** `sinfo -h -o '%P|%a|%l|%D|%c|%m'` lines. */
export function parseSinfoPartitions(text: string): Partition[] {
  const out: Partition[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split('|');
    if (f.length < 6 || f[0] === '') continue;
    const star = f[0]!.endsWith('*');
    out.push({ name: star ? f[0]!.slice(0, -1) : f[0]!, default: star, available: f[1]!, timeLimit: f[2]!, nodes: Number(f[3]) || 0, cpus: f[4]!, memoryMb: f[5]! });
  }
  return out;
}

/** `Key = Value` lines of `scontrol show config`. */
export function parseScontrolConfig(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const x = /^(\S+)\s+=\s(.*)$/.exec(line);
    if (x) m.set(x[1]!, x[2]!.trim());
  }
  return m;
}

/** `attr = value` lines of `qstat -Bf` / `qstat -Qf`, grouped under their `Server:`/`Queue:` header. */
export function parseQstatFull(text: string): { kind: string; name: string; attrs: Map<string, string> }[] {
  const out: { kind: string; name: string; attrs: Map<string, string> }[] = [];
  let cur: { kind: string; name: string; attrs: Map<string, string> } | null = null;
  let last = '';
  for (const line of text.split('\n')) {
    const head = /^(Server|Queue): (\S+)/.exec(line);
    if (head) {
      cur = { kind: head[1]!, name: head[2]!, attrs: new Map() };
      out.push(cur);
      continue;
    }
    const kv = /^\s+([\w.]+) = (.*)$/.exec(line);
    if (kv && cur) {
      last = kv[1]!;
      cur.attrs.set(last, kv[2]!.trim());
    } else if (cur && /^\t/.test(line) && last) {
      cur.attrs.set(last, cur.attrs.get(last)! + line.trim()); // a wrapped value
    }
  }
  return out;
}

const SHORT = { retries: 0, timeoutMs: 10_000 } as const;

async function tryRun(run: Runner, argv: string[]): Promise<{ ok: true; stdout: string; stderr: string } | { ok: false; message: string }> {
  try {
    const r = await run(argv, SHORT);
    return { ok: true, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

async function slurmFacts(run: Runner): Promise<Fact[]> {
  const facts: Fact[] = [];
  const ping = await tryRun(run, ['scontrol', 'ping']);
  if (!ping.ok || !/\bUP\b/.test(ping.stdout)) {
    facts.push({ check: 'responds', status: 'fail', message: ping.ok ? `scontrol ping: ${ping.stdout.trim()}` : ping.message, fix: 'the Slurm controller does not answer: check that slurmctld runs (or ask the admins); qdo cannot submit or query until it does' });
    return facts;
  }
  facts.push({ check: 'responds', status: 'ok', message: ping.stdout.trim().split('\n').join('; ') });
  const conf = await tryRun(run, ['scontrol', 'show', 'config']);
  const storage = conf.ok ? (parseScontrolConfig(conf.stdout).get('AccountingStorageType') ?? null) : null;
  const sacct = await tryRun(run, ['sacct', '-n', '-X', '-j', '1', '-o', 'JobID']);
  if (storage === 'accounting_storage/none' || (!sacct.ok && /accounting storage is disabled/i.test(sacct.message))) {
    facts.push({ check: 'accounting', status: 'warn', message: 'accounting is disabled (AccountingStorageType=accounting_storage/none)', fix: 'qdo learns how a job ended from its exit record and from squeue while Slurm remembers it (MinJobAge); ask the admins for slurmdbd accounting to learn it in every case', data: { storage } });
  } else if (!sacct.ok) {
    facts.push({ check: 'accounting', status: 'fail', message: `sacct fails: ${sacct.message.split('\n')[0]}`, fix: 'accounting is configured but does not answer (slurmdbd down?); ends of jobs that left squeue cannot be learned until it does', data: { storage } });
  } else {
    facts.push({ check: 'accounting', status: 'ok', message: `sacct answers (${storage ?? 'accounting storage configured'})`, data: { storage } });
  }
  const sinfo = await tryRun(run, ['sinfo', '-h', '-o', '%P|%a|%l|%D|%c|%m']);
  if (sinfo.ok) {
    const parts = parseSinfoPartitions(sinfo.stdout);
    const text = parts.map((p) => `${p.name}${p.default ? ' (default)' : ''}: time ${p.timeLimit}, ${p.nodes} node(s), ${p.cpus} cpus, ${p.memoryMb} MB${p.available === 'up' ? '' : `, ${p.available}`}`).join('; ');
    const down = parts.filter((p) => p.available !== 'up');
    facts.push({ check: 'limits', status: down.length ? 'warn' : 'ok', message: text || 'no partitions', fix: down.length ? `partition(s) ${down.map((p) => p.name).join(', ')} not up: jobs sent there wait` : undefined, data: { partitions: parts } });
  } else facts.push({ check: 'limits', status: 'warn', message: `sinfo fails: ${sinfo.message.split('\n')[0]}`, fix: 'partition limits are unknown; submit still works' });
  return facts;
}

async function pbsFacts(kind: 'pbs' | 'torque', run: Runner): Promise<Fact[]> {
  const facts: Fact[] = [];
  const server = await tryRun(run, ['qstat', '-Bf']);
  if (!server.ok) {
    facts.push({ check: 'responds', status: 'fail', message: server.message, fix: 'the PBS server does not answer (pbs_server down, or PBS_SERVER wrong?); qdo cannot submit or query until it does' });
    return facts;
  }
  const s = parseQstatFull(server.stdout).find((x) => x.kind === 'Server');
  facts.push({ check: 'responds', status: 'ok', message: `server ${s?.name ?? '?'} ${s?.attrs.get('server_state') ?? ''}`.trim() });
  if (kind === 'pbs') {
    const hist = (s?.attrs.get('job_history_enable') ?? '').toLowerCase() === 'true';
    facts.push(hist ? { check: 'accounting', status: 'ok', message: `job history kept (job_history_duration ${s?.attrs.get('job_history_duration') ?? 'default'})` } : { check: 'accounting', status: 'warn', message: 'job history is off (job_history_enable is not True)', fix: 'qdo learns how a job ended from its exit record; without history, a job that left qstat before writing one shows as unknown; ask the admins to set job_history_enable' });
  } else {
    const keep = s?.attrs.get('keep_completed');
    facts.push(keep && Number(keep) > 0 ? { check: 'accounting', status: 'ok', message: `completed jobs kept ${keep} s (keep_completed)` } : { check: 'accounting', status: 'warn', message: 'completed jobs leave qstat at once (keep_completed unset)', fix: 'qdo learns how a job ended from its exit record; ask the admins for keep_completed so it can also ask qstat' });
  }
  const queues = await tryRun(run, ['qstat', '-Qf']);
  if (queues.ok) {
    const qs = parseQstatFull(queues.stdout).filter((x) => x.kind === 'Queue');
    const text = qs.map((q) => `${q.name}: walltime ${q.attrs.get('resources_max.walltime') ?? 'unlimited'}${q.attrs.get('enabled') === 'False' ? ', disabled' : ''}${q.attrs.get('started') === 'False' ? ', stopped' : ''}`).join('; ');
    facts.push({ check: 'limits', status: 'ok', message: text || 'no queues', data: { queues: qs.map((q) => ({ name: q.name, walltime: q.attrs.get('resources_max.walltime') ?? null })) } });
  } else facts.push({ check: 'limits', status: 'warn', message: `qstat -Qf fails: ${queues.message.split('\n')[0]}`, fix: 'queue limits are unknown; submit still works' });
  return facts;
}

/** The facts of one scheduler kind; plugins and the local backend have none of these. */
export async function schedulerFacts(kind: string, run: Runner = runCommand): Promise<Fact[]> {
  if (kind === 'slurm') return slurmFacts(run);
  if (kind === 'pbs' || kind === 'torque') return pbsFacts(kind, run);
  return [];
}
