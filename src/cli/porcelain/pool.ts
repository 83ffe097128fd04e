// qdo pool add|status|worker|scale|pause|resume|rm (spec/pools.md; spec/porcelain.md
// §qdo pool; man/qdo-pool.1)
import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import type { Args } from '../command.js';
import type { CliEnv } from '../io.js';
import { UsageError } from '../../errors.js';
import { formatTable } from '../../output/table.js';
import { formatAge } from '../job-format.js';

const ACTIONS = ['add', 'status', 'worker', 'scale', 'pause', 'resume', 'rm'] as const;
type Action = (typeof ACTIONS)[number];

/** Which options each action takes (anything else is refused, naming the option). */
const TAKES: Record<Action, string[]> = {
  add: ['alloc', 'scheduler', 'nodes', 'slots', 'capability', 'cpus', 'time', 'mem', 'gpus', 'partition', 'account', 'qos', 'constraint', 'idle', 'lease', 'max-requeue', 'consolidate', 'worker-command', 'json'],
  status: ['json'],
  worker: ['alloc', 'slots', 'capability', 'mem', 'gpus', 'idle', 'pilot', 'time-left'],
  scale: ['nodes', 'json'],
  pause: ['host', 'worker', 'json'],
  resume: ['host', 'worker', 'json'],
  rm: ['json'],
};

function checkOptions(action: Action, args: Args): void {
  const all = new Set(Object.values(TAKES).flat());
  const wrong = [...all].filter((o) => args[o] !== undefined && !TAKES[action].includes(o));
  if (wrong.length) throw new UsageError(`qdo pool ${action} does not take ${wrong.map((o) => `--${o}`).join(', ')}`, { code: 'bad-flag' });
}

function needName(action: Action, args: Args): string {
  const n = str(args, 'name');
  if (n === undefined) throw new UsageError(`qdo pool ${action} needs a pool NAME`);
  return n;
}

export const poolCommand: CommandDef = {
  command: 'pool <action> [name]',
  describe: 'Pools: many small runs inside a few pilot jobs or on workstations (add, status, worker, scale, pause, resume, rm)',
  builder: (y) =>
    y
      .positional('action', { choices: ACTIONS })
      .positional('name', { type: 'string', describe: 'the pool' })
      .option('alloc', { type: 'string', describe: 'add: the allocation that keeps the pool; worker: look for the pool there only' })
      .option('scheduler', { type: 'string', describe: 'add: where pilot jobs go (slurm, pbs, torque, local, a plugin); none: workers started by hand' })
      .option('nodes', { type: 'string', describe: 'add, scale: pilot jobs kept, MIN..MAX (one node each; default 0..1)' })
      .option('slots', { type: 'string', describe: 'add: runs (cpus x tasks) a pilot runs at once; worker: the same for this worker' })
      .option('capability', { type: 'string', describe: 'add: words the pilots offer; worker: words this worker offers (gpu,apptainer)' })
      .option('cpus', { type: 'string', group: 'Pilot job:' })
      .option('time', { type: 'string', group: 'Pilot job:' })
      .option('mem', { type: 'string', describe: 'add: pilot memory; worker: memory this worker gives its runs', group: 'Pilot job:' })
      .option('gpus', { type: 'string', describe: 'add: pilot GPUs; worker: GPUs this worker gives its runs', group: 'Pilot job:' })
      .option('partition', { type: 'string', group: 'Pilot job:' })
      .option('account', { type: 'string', group: 'Pilot job:' })
      .option('qos', { type: 'string', group: 'Pilot job:' })
      .option('constraint', { type: 'string', group: 'Pilot job:' })
      .option('idle', { type: 'string', describe: 'add: a pilot with nothing to run exits after this long (default 60s); worker: the same for this worker' })
      .option('lease', { type: 'string', describe: 'add: a worker on another host with no heartbeat for this long is presumed dead (default 60s)' })
      .option('max-requeue', { type: 'string', describe: 'add: times a run whose worker died is queued again (default 3), then it ends node-fail' })
      .option('consolidate', { type: 'boolean', describe: 'add: gather runs on fewer pilots when they fit' })
      .option('worker-command', { type: 'string', describe: 'add: how pilots start qdo, words separated by spaces (default: the qdo that scales)' })
      .option('pilot', { type: 'string', describe: 'worker: the pilot job this worker runs in (set by qdo)' })
      .option('time-left', { type: 'string', describe: 'worker: time its pilot job has left (set by qdo)' })
      .option('host', { type: 'string', describe: 'pause, resume: only workers on this host' })
      .option('worker', { type: 'string', describe: 'pause, resume: only this worker' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, env) {
    const action = args.action as Action;
    checkOptions(action, args);
    switch (action) {
      case 'add':
        return add(args, env);
      case 'status':
        return status(args, env);
      case 'worker':
        return worker(args, env);
      case 'scale':
        return scale(args, env);
      case 'pause':
      case 'resume':
        return pause(action, args, env);
      case 'rm':
        return rm(args, env);
    }
  },
};

async function add(args: Args, { ctx, io }: CliEnv): Promise<void> {
  const core = await import('../../core/pool/admin.js');
  const sched = str(args, 'scheduler');
  const ref = await core.addPool(ctx, {
    name: needName('add', args),
    alloc: str(args, 'alloc'),
    scheduler: sched === 'none' ? undefined : sched,
    nodes: str(args, 'nodes'),
    slots: str(args, 'slots'),
    capability: str(args, 'capability'),
    flags: args as Record<string, string | undefined>,
    idle: str(args, 'idle'),
    lease: str(args, 'lease'),
    maxRequeue: str(args, 'max-requeue'),
    consolidate: bool(args, 'consolidate'),
    workerCommand: str(args, 'worker-command')?.trim().split(/\s+/),
  });
  const d = ref.def;
  if (bool(args, 'json')) {
    io.stdout(json({ version: 1, pool: d.name, allocation: ref.layout.root, path: ref.paths.dir, definition: d }));
    return;
  }
  io.stdout(
    d.scheduler === null
      ? `added pool ${d.name} in ${ref.layout.root}: no pilots; start workers with: qdo pool worker ${d.name} --slots N [--capability …]\n`
      : `added pool ${d.name} in ${ref.layout.root}: ${d.pilots.min}..${d.pilots.max} ${d.scheduler} pilot job(s) of ${d.slots} slot(s)${d.capabilities.length ? `, offering ${d.capabilities.join(',')}` : ''}\n`,
  );
}

async function status(args: Args, { ctx, io }: CliEnv): Promise<void> {
  const core = await import('../../core/pool/admin.js');
  const pools = await core.poolStatus(ctx, str(args, 'name'), { refresh: true });
  const now = ctx.now().getTime();
  if (bool(args, 'json')) {
    io.stdout(
      json({
        version: 1,
        pools: pools.map((s) => ({
          pool: s.ref.def.name,
          allocation: s.ref.layout.root,
          scheduler: s.ref.def.scheduler,
          cluster: s.ref.def.cluster,
          pilots_min: s.ref.def.pilots.min,
          pilots_max: s.ref.def.pilots.max,
          slots: s.ref.def.slots,
          capabilities: s.ref.def.capabilities,
          queued: s.queued,
          queued_unrunnable: s.unrunnable,
          held: s.held,
          running: s.running,
          ended: s.ended,
          throughput_per_min: s.throughput,
          paused: s.control.paused,
          problems: s.problems,
          pilots: s.pilots.map((r) => {
            const w = s.workers.find((x) => x.info.pilot?.key === r.key && !x.dead);
            return { key: r.key, sched_id: r.sched_id, state: w ? 'running' : r.state, worker: w?.info.id ?? null, host: w?.info.host ?? null, reason: r.reason };
          }),
          workers: s.workers.map((w) => ({
            id: w.info.id,
            host: w.info.host,
            pid: w.info.pid,
            pilot: w.info.pilot?.sched_id ?? null,
            mode: w.dead ? 'dead' : (w.heartbeat?.mode ?? 'starting'),
            paused: w.paused,
            slots: w.info.slots,
            slots_used: w.heartbeat?.used ?? 0,
            slots_free: Math.max(0, w.info.slots - (w.heartbeat?.used ?? 0)),
            running: w.claimed,
            capabilities: w.info.capabilities,
            ended: w.heartbeat?.ended ?? 0,
            heartbeat: w.heartbeat?.time ?? null,
            why: w.why,
          })),
        })),
      }),
    );
    return;
  }
  if (pools.length === 0) {
    io.stdout('no pools (define one with: qdo pool add NAME [--scheduler slurm --nodes 0..4 --slots 4])\n');
    return;
  }
  for (const s of pools) {
    const d = s.ref.def;
    const paused = s.control.paused.all ? ' [paused]' : s.control.paused.hosts.length || s.control.paused.workers.length ? ` [paused: ${[...s.control.paused.hosts, ...s.control.paused.workers].join(', ')}]` : '';
    io.stdout(`pool ${d.name}${paused} (${s.ref.layout.root}): ${d.scheduler === null ? 'workers started by hand' : `${d.pilots.min}..${d.pilots.max} ${d.scheduler} pilot job(s) x ${d.slots} slot(s)`}${d.capabilities.length ? `, offers ${d.capabilities.join(',')}` : ''}\n`);
    io.stdout(`  runs: ${s.queued} queued${s.unrunnable ? ` (${s.unrunnable} no pilot can run)` : ''}, ${s.held} held, ${s.running} running, ${s.ended} ended; ${s.throughput.toFixed(1)} runs/min over 5 min\n`);
    const rows = s.workers.map((w) => [
      w.info.id,
      w.info.pilot?.sched_id ?? '-',
      w.info.host,
      w.dead ? 'dead' : w.paused ? 'paused' : (w.heartbeat?.mode ?? 'starting'),
      `${w.heartbeat?.used ?? 0}/${w.info.slots}`,
      String(w.claimed),
      String(w.heartbeat?.ended ?? 0),
      w.heartbeat ? `${formatAge(now - Date.parse(w.heartbeat.time))} ago` : '-',
    ]);
    if (rows.length) io.stdout(formatTable(['WORKER', 'PILOT', 'HOST', 'STATE', 'SLOTS', 'RUNS', 'ENDED', 'HEARTBEAT'], rows, { color: io.color }).replace(/^(?=.)/gm, '  '));
    const waiting = s.pilots.filter((r) => !s.workers.some((w) => w.info.pilot?.key === r.key && !w.dead));
    for (const r of waiting) io.stdout(`  pilot ${r.sched_id ?? r.key}: ${r.state} since ${formatAge(now - Date.parse(r.state_time))}${r.reason ? ` (${r.reason})` : ''}\n`);
    for (const p of s.problems) io.stderr(`qdo: pool ${d.name}: ${p}\n`);
  }
}

async function worker(args: Args, { ctx, io }: CliEnv): Promise<number> {
  const core = await import('../../core/pool/admin.js');
  const { runWorker } = await import('../../core/pool/worker.js');
  const o = await core.workerOptions(ctx, {
    name: needName('worker', args),
    alloc: str(args, 'alloc'),
    slots: str(args, 'slots'),
    capability: str(args, 'capability'),
    mem: str(args, 'mem'),
    gpus: str(args, 'gpus'),
    idle: str(args, 'idle'),
    pilot: str(args, 'pilot'),
    timeLeft: str(args, 'time-left'),
  });
  // SIGTERM (scancel, a time limit, kill) and ^C stop the worker: its runs are queued again.
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, onSignal);
  const crash = crashHook(ctx.env.QDO_POOL_TEST_CRASH);
  try {
    const stamp = () => new Date().toISOString().slice(11, 19);
    const r = await runWorker(ctx, { ...o, env: ctx.env, signal: stop.signal, log: (l) => io.stderr(`${stamp()} ${l}\n`), crash });
    const cpu = process.cpuUsage();
    io.stdout(`worker ${r.id}: ${r.started} run(s) started, ${r.ended} ended, ${r.requeued} queued again; ${r.why} (worker CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s)\n`);
    return 0;
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}

/** QDO_POOL_TEST_CRASH=POINT[:N]: die by SIGKILL the Nth time the worker passes POINT (tests). */
function crashHook(spec: string | undefined): ((point: string) => void) | undefined {
  if (!spec) return undefined;
  const [point, nth] = spec.split(':');
  let left = Number(nth ?? '1');
  return (p) => {
    if (p === point && --left === 0) process.kill(process.pid, 'SIGKILL');
  };
}

async function scale(args: Args, { ctx, io }: CliEnv): Promise<number> {
  const core = await import('../../core/pool/admin.js');
  const r = await core.scaleCommand(ctx, needName('scale', args), { nodes: str(args, 'nodes') });
  if (bool(args, 'json')) {
    io.stdout(
      json({
        version: 1,
        pool: r.pool,
        queried: r.queried,
        plan: r.plan,
        submitted: r.submitted,
        cancelled: r.cancelled,
        requeued: r.recovered.requeued,
        dead_workers: r.recovered.dead,
        settled: r.settled,
        problems: r.problems,
      }),
    );
  } else {
    for (const d of r.recovered.dead) io.stdout(`${d.why}: its runs are queued again\n`);
    if (r.settled.length) io.stdout(`settled ${r.settled.length} queued run(s) that should not run (cancelled, lost, dependency failed)\n`);
    if (r.plan) io.stdout(`${r.plan.why}\n`);
    for (const s of r.submitted) io.stdout(`submitted pilot ${s.sched_id}\n`);
    if (r.cancelled.length) io.stdout(`cancelled waiting pilot(s) ${r.cancelled.join(', ')}\n`);
    for (const p of r.problems) io.stderr(`qdo: ${p}\n`);
  }
  return r.problems.length ? 6 : 0;
}

async function pause(action: 'pause' | 'resume', args: Args, { ctx, io }: CliEnv): Promise<void> {
  const core = await import('../../core/pool/admin.js');
  const target = { host: str(args, 'host'), worker: str(args, 'worker') };
  const r = await core.pauseCommand(ctx, needName(action, args), action === 'pause', target);
  if (bool(args, 'json')) {
    io.stdout(json({ version: 1, pool: r.ref.def.name, paused: r.control.paused }));
    return;
  }
  const what = target.worker ? `worker ${target.worker}` : target.host ? `workers on ${target.host}` : 'every worker';
  io.stdout(`pool ${r.ref.def.name}: ${what} ${action === 'pause' ? 'paused: runs stopped (SIGSTOP), nothing new claimed' : 'resumed'}; workers see it within a second\n`);
}

async function rm(args: Args, { ctx, io }: CliEnv): Promise<void> {
  const core = await import('../../core/pool/admin.js');
  const r = await core.removeCommand(ctx, needName('rm', args));
  if (bool(args, 'json')) io.stdout(json({ version: 1, pool: r.ref.def.name, cancelled_pilots: r.cancelled }));
  else io.stdout(`removed pool ${r.ref.def.name}${r.cancelled.length ? ` (cancelled pilot job(s) ${r.cancelled.join(', ')})` : ''}\n`);
}
