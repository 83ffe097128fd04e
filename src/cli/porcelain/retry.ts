// qdo retry REV…|PATTERN (spec/porcelain.md §qdo retry; man/qdo-retry.1)
import type { CommandDef } from '../command.js';
import { bool, json, strs } from '../command.js';
import { formatMemory, formatSlurmTime } from '../../model/resource-units.js';
import type { Resources } from '../../model/resources.js';
import { keyValues, withResourceFlags } from '../plumbing/sched.js';
import { scaleAfterSubmit } from '../pool-flag.js';

/** What changed, for the human line: "time 00:01:00 -> 00:02:00". */
function resourceDiff(a: Resources, b: Resources): string {
  const show = (k: string, v: unknown): string => (v === undefined ? '-' : k === 'time' ? formatSlurmTime(v as number) : k === 'mem' || k === 'mem_per_cpu' ? formatMemory(v as number) : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const out: string[] = [];
  for (const k of keys) {
    const x = (a as Record<string, unknown>)[k];
    const y = (b as Record<string, unknown>)[k];
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${k} ${show(k, x)} -> ${show(k, y)}`);
  }
  return out.join(', ');
}

export const retryCommand: CommandDef = {
  command: 'retry [jobs..]',
  describe: 'Run jobs again as new versions, with changed (also relative) resources',
  builder: (y) =>
    withResourceFlags(
      y
        .positional('jobs', { type: 'string', array: true, describe: 'REV (JOB, JOB@2, id prefix), PROJECT or glob ("paper/*")' })
        .option('failed', { type: 'boolean', describe: 'only jobs that ended failed, timeout, out-of-memory, node-fail or preempted' })
        .option('set', { type: 'string', array: true, describe: 'template parameter KEY=VALUE over the old ones' })
        .option('dry-run', { type: 'boolean', describe: 'print the exact scripts for the scheduler; change nothing' })
        .option('json', { type: 'boolean', describe: 'machine-readable output' }),
    ),
  async run(args, { ctx, io }) {
    const core = await import('../../core/retry.js');
    const r = await core.retry(ctx, {
      targets: strs(args, 'jobs'),
      failed: bool(args, 'failed'),
      flags: args as Record<string, string | undefined>,
      params: keyValues(args, 'set'),
      dryRun: bool(args, 'dry-run'),
    });
    for (const p of r.policy.problems) io.stderr(`qdo: ${p.job.project}/${p.job.name}@${p.job.version}: ${p.message}\n`);
    if (!r.dryRun) await scaleAfterSubmit({ ctx, io }, r.retried.map((i) => i.scheduler));
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          dry_run: r.dryRun,
          retried: r.retried.map((i) => ({
            job: `${i.project}/${i.name}`,
            from: { id: i.from.id, job_version: i.from.version, state: i.fromState },
            id: i.id,
            job_version: i.version,
            parent: i.parent,
            resources: i.resources,
            scheduler: i.scheduler,
            cluster: i.cluster,
            sched_id: i.schedId,
            state: i.state,
            run_dir: i.runDir,
            ...(r.dryRun ? { script: i.script } : {}),
          })),
          skipped: r.skipped.map((s) => ({ job: `${s.job.project}/${s.job.name}`, id: s.job.id, job_version: s.job.version, state: s.state })),
          auto_retried: r.policy.retried.map((x) => ({ job: `${x.to.project}/${x.to.name}`, from: x.from.id, id: x.to.id, job_version: x.to.version })),
        }),
      );
      return;
    }
    if (r.retried.length === 0) {
      io.stdout(`nothing to retry: none of the ${r.skipped.length} selected job(s) ended failed, timeout, out-of-memory, node-fail or preempted\n`);
      return;
    }
    if (r.dryRun) {
      for (const i of r.retried) {
        if (r.retried.length > 1) io.stdout(`# ---- ${i.project}/${i.name}@${i.version} (from @${i.from.version}) ----\n`);
        io.stdout(i.script);
      }
      return;
    }
    for (const i of r.retried) {
      const changed = resourceDiff(i.fromResources, i.resources);
      io.stdout(`${i.project}/${i.name}@${i.version} ${i.state}: ${i.scheduler} job ${i.schedId} (retry of @${i.from.version}, ${i.fromState}${changed ? `; ${changed}` : ''})\n`);
    }
  },
};
