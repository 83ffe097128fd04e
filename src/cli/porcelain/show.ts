// qdo show REV (spec/porcelain.md §qdo show; man/qdo-show.1)
import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import { exitLabel, formatAge, jobJson, stateCell, stateLabel } from '../job-format.js';
import type { AttemptInfo } from '../../core/inspect.js';

/** Where a state was learned, in words (spec/scheduler-common.md §States). */
export const SOURCE_WORDS: Record<string, string> = {
  queue: "the scheduler's queue",
  accounting: "the scheduler's accounting",
  jobcomp: "the scheduler's job completion records",
  'start-record': "the job's own start record",
  history: "the scheduler's job history",
  'exit-record': "the job's own exit record",
  none: 'nowhere: the scheduler does not know the job',
  qdo: 'qdo itself',
};

/** `on vm, 2026-11-21T09:30:00Z → 09:31:02Z, exit 4; stdout.1` */
function attemptText(a: AttemptInfo): string {
  const end = a.ended === null ? (a.latest ? 'running or stopped without an end record' : 'no end record') : `ended ${a.ended}, ${a.exitCode === null ? 'killed' : `exit ${a.exitCode}`}${a.signal ? ` after SIG${a.signal}` : ''}`;
  return `on ${a.host ?? '?'}, started ${a.started ?? '?'}, ${end}; logs ${a.stdout.slice(a.stdout.lastIndexOf('/') + 1)}, ${a.stderr.slice(a.stderr.lastIndexOf('/') + 1)}${a.latest ? ' (latest)' : ''}`;
}

function kv(obj: Record<string, string>, quote: (v: string) => string): string {
  const keys = Object.keys(obj).sort();
  if (keys.length === 0) return '(none)';
  return keys.map((k) => `${k}=${quote(obj[k]!)}`).join(' ');
}

export const showCommand: CommandDef = {
  command: 'show <rev>',
  describe: 'One job version: manifest, state and where it was learned, scheduler id, paths',
  builder: (y) =>
    y
      .positional('rev', { type: 'string', describe: 'PROJECT/JOB, JOB@N, JOB~N or an id prefix' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/inspect.js');
    const delta = await import('../../core/manifest-delta.js');
    const r = await core.showJob(ctx, str(args, 'rev')!);
    const { job: j, manifest: m, paths: p } = r;
    const s = j.sub;
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          ...jobJson(j),
          parent: m.parent,
          created: m.created,
          submit_host: s?.host ?? null,
          intent: s?.intent ?? null,
          after_sched_ids: s?.after ?? [],
          manifest: m,
          paths: {
            run_dir: p.runDir,
            run_dir_exists: p.runDirExists,
            run_dir_collected: p.runDirCollected,
            script: p.script,
            script_exists: p.scriptExists,
            array: p.array,
            logs: p.logs.map((l) => ({
              task: l.task,
              stdout: l.stdout,
              stdout_exists: l.stdoutExists,
              stderr: l.stderr,
              stderr_exists: l.stderrExists,
              attempts: l.attempts.map((a) => ({ attempt: a.attempt, latest: a.latest, host: a.host, started: a.started, ended: a.ended, exit_code: a.exitCode, signal: a.signal, stdout: a.stdout, stderr: a.stderr })),
            })),
          },
          refresh: r.groups.map((g) => ({ scheduler: g.scheduler, cluster: g.cluster, queried: g.queried, last_query: g.last, problem: g.problem })),
          ...(r.pool !== undefined ? { pool_run: r.pool && { pool: r.pool.pool, key: r.pool.key, where: r.pool.where, attempt: r.pool.attempt, worker: r.pool.worker, host: r.pool.host, pilot: r.pool.pilot } } : {}),
        }),
      );
      return;
    }
    const now = ctx.now();
    const rows: [string, string][] = [];
    const add = (k: string, v: string) => rows.push([k, v]);
    add('job', `${core.versionLabel(j)}${j.latest ? ' (latest)' : r.latestId ? ' (superseded)' : ''}`);
    add('id', j.id);
    if (m.parent !== null) add('parent', `${m.parent} (@${m.version - 1})`);
    add('created', m.created);
    if (!s) {
      add('state', 'unsubmitted (no submission record: this version was not submitted through qdo)');
      add('scheduler', `${m.scheduler} (as written in the manifest)`);
    } else {
      const exit = exitLabel(s);
      add('state', `${stateCell(stateLabel(s), io.color)}${s.exit_code !== null ? `, exit ${s.exit_code}` : exit !== '-' ? `, ${exit}` : ''}`);
      add('learned', `from ${SOURCE_WORDS[s.state_source] ?? s.state_source}, ${formatAge(now.getTime() - Date.parse(s.state_time))} ago (${s.state_time})`);
      if (s.reason) add('reason', s.reason);
      // A pool is its own cluster (spec/pools.md §Submitting): no "pool:x on pool:x".
      add('scheduler', `${s.scheduler}${s.cluster !== s.scheduler ? ` on ${s.cluster}` : ''}, ${s.scheduler.startsWith('pool:') ? 'run' : 'job'} ${s.sched_id ?? '(none yet)'}`);
      add('submitted', `${s.submitted ?? `not yet (intent recorded ${s.intent})`} from ${s.host}`);
      if (s.after.length) add('waits on', s.after.join(', '));
      if (r.pool) {
        const w = r.pool;
        const who = w.worker ? `worker ${w.worker} on ${w.host ?? '?'}${w.pilot ? ` (pilot job ${w.pilot})` : ''}` : 'no worker';
        const attempt = w.attempt !== null && w.attempt > 1 ? `, attempt ${w.attempt}` : '';
        add(w.where === 'ended' ? 'ran on' : w.where === 'running' ? 'runs on' : 'pool', w.where === 'ended' || w.where === 'running' ? `${who}${attempt}` : `${w.where} in pool ${w.pool}${attempt}`);
      }
    }
    const res = m.resources as Record<string, unknown>;
    const resText = Object.keys(res)
      .sort()
      .map((k) => `${k}=${delta.resourceText(k, res[k])}`)
      .join(' ');
    add('resources', resText || '(none: scheduler defaults)');
    add('params', kv(m.params, delta.quoteValue));
    add('env', kv(m.env, delta.quoteValue));
    add('template', delta.templateText(m.template ?? null));
    if (Array.isArray(m.after) && m.after.length) add('after', `${delta.afterText({ ids: m.after as string[], revs: Array.isArray(m.after_revs) ? (m.after_revs as string[]) : [] })} (${(m.after as string[]).map((i) => i.slice(0, 8)).join(', ')})`);
    if (m.retry && typeof m.retry === 'object') {
      const rp = m.retry as { on?: unknown; max?: unknown };
      add('retry', `after ${Array.isArray(rp.on) ? rp.on.join(', ') : '?'}, up to ${String(rp.max)} time(s)`);
    }
    if (typeof m.notify === 'string') add('notify', m.notify);
    add('workdir', typeof m.workdir === 'string' ? m.workdir : 'project (no workdir recorded)');
    if (m.environment) add('environment', delta.environmentText(m.environment));
    if (m.prologue) add('prologue', `object ${m.prologue}`);
    if (m.epilogue) add('epilogue', `object ${m.epilogue}`);
    const missing = (e: boolean) => (e ? '' : ' (missing)');
    add('run folder', `${p.runDir}${p.runDirCollected !== null ? ` (removed by qdo gc at ${p.runDirCollected})` : missing(p.runDirExists)}`);
    add('script', `${p.script}${missing(p.scriptExists)}`);
    if (!p.array) {
      const l = p.logs[0]!;
      add('stdout', `${l.stdout}${missing(l.stdoutExists)}`);
      add('stderr', `${l.stderr}${missing(l.stderrExists)}`);
      // Every run of the job (spec/submissions.md §Attempts); one run needs no list.
      if (l.attempts.length > 1) for (const a of l.attempts) add(`attempt ${a.attempt}`, attemptText(a));
    } else {
      add('logs', `${p.logs.length} task folder(s) so far: ${p.runDir}/<index>/{stdout,stderr}`);
      const rerun = p.logs.filter((l) => l.attempts.length > 1);
      if (rerun.length > 0) add('attempts', `task(s) run more than once: ${rerun.map((l) => `${l.task} (${l.attempts.length} attempts)`).join(', ')}; qdo logs --task N --attempt K`);
    }
    const width = Math.max(...rows.map(([k]) => k.length));
    io.stdout(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join(''));
    for (const g of r.groups) if (g.problem) io.stderr(`qdo: state not refreshed: ${g.problem}\n`);
  },
};
