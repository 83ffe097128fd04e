// qdo gc [PATTERN…] (spec/porcelain.md §qdo gc; man/qdo-gc.1)
import type { CommandDef } from '../command.js';
import { bool, json, str, strs } from '../command.js';
import { UsageError } from '../../errors.js';
import { widenThreadPool } from '../thread-pool.js';

export const gcCommand: CommandDef = {
  command: 'gc [patterns..]',
  describe: 'Remove run folders of old versions that have ended; --prune also drops unreachable objects',
  builder: (y) =>
    y
      .positional('patterns', { type: 'string', array: true, describe: 'PROJECT, PROJECT/JOB or glob (default: as qdo status)' })
      .option('keep', { type: 'string', describe: 'versions per job whose run folders stay, the latest included (default 2)' })
      .option('prune', { type: 'boolean', describe: 'also drop objects and records no ref reaches (older than an hour)' })
      .option('archived', { type: 'boolean', describe: 'also drop the run folders of archived versions, each verified in its archive first' })
      .option('dry-run', { type: 'boolean', describe: 'list what would be removed; change nothing' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    // Its record marks are fsynced in batches, as a sweep's answers: more in flight share
    // the journal's commits (cli/thread-pool.ts).
    if (!bool(args, 'dry-run')) widenThreadPool();
    const core = await import('../../core/gc.js');
    const keepArg = str(args, 'keep');
    let keep: number | undefined;
    if (keepArg !== undefined) {
      if (!/^\d+$/.test(keepArg) || Number(keepArg) < 1) throw new UsageError(`--keep ${JSON.stringify(keepArg)}: expected a whole number >= 1 (the latest version's run folder is never collected)`, { code: 'bad-keep' });
      keep = Number(keepArg);
    }
    const r = await core.gc(ctx, strs(args, 'patterns'), { keep, prune: bool(args, 'prune'), dryRun: bool(args, 'dry-run') });
    // --archived: a separate step of its own module (src/core/archive.ts, spec/porcelain.md §qdo gc).
    const dropped = bool(args, 'archived') ? await (await import('../../core/archive.js')).dropArchived(ctx, strs(args, 'patterns'), { dryRun: bool(args, 'dry-run'), exclude: new Set(r.runDirs.map((d) => d.id)) }) : null;
    for (const p of r.problems) io.stderr(`qdo: gc: ${p}\n`);
    const code = r.problems.length > 0 ? 1 : 0;
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          dry_run: r.dryRun,
          keep: r.keep,
          prune: r.prune,
          run_dirs: r.runDirs.map((d) => ({ job: d.job, job_version: d.version, id: d.id, path: d.path, bytes: d.bytes, why: d.why })),
          kept: r.kept.map((k) => ({ job: k.job, job_version: k.version, id: k.id, path: k.path, state: k.state, reason: k.reason })),
          objects: r.objects.map((o) => ({ allocation: o.allocation, id: o.id, kind: o.kind, bytes: o.bytes })),
          records: r.records.map((o) => ({ allocation: o.allocation, id: o.id, bytes: o.bytes })),
          bytes: r.bytes,
          problems: r.problems,
          ...(dropped ? archivedJson(dropped) : {}),
        }),
      );
      return code;
    }
    io.stdout(gcSummary(r));
    if (dropped) io.stdout(archivedSummary(dropped, r.dryRun));
    return code;
  },
};

/** The human summary. Pure; porcelain (may change). */
export function gcSummary(r: import('../../core/gc.js').GcResult): string {
  const would = r.dryRun ? 'would remove' : 'removed';
  let out = '';
  for (const d of r.runDirs) out += `${would} ${d.job}@${d.version} ${d.path} (${formatBytes(d.bytes)}${d.why === 'unreachable' ? ', unreachable' : ''})\n`;
  for (const k of r.kept) out += `kept ${k.job}@${k.version} ${k.path}: ${k.state}, ${k.reason}\n`;
  const parts = [`${r.runDirs.length} run folder${r.runDirs.length === 1 ? '' : 's'}`];
  if (r.prune) {
    parts.push(`${r.objects.length} object${r.objects.length === 1 ? '' : 's'}`);
    parts.push(`${r.records.length} submission record${r.records.length === 1 ? '' : 's'}`);
  }
  out += `${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.bytes)}: ${parts.join(', ')} (keeping the newest ${r.keep} version${r.keep === 1 ? '' : 's'} of each job)\n`;
  if (r.dryRun) out += 'dry run: nothing was changed\n';
  return out;
}

type DropReport = import('../../core/archive.js').DropReport;

function archivedJson(d: DropReport): Record<string, unknown> {
  const name = (j: { project: string; name: string }) => `${j.project}/${j.name}`;
  return {
    archived: d.dropped.map((x) => ({ job: name(x.job), job_version: x.job.version, id: x.job.id, path: x.path, archive: x.to, files: x.files, bytes: x.bytes })),
    archived_kept: d.kept.map((k) => ({ job: name(k.job), job_version: k.job.version, id: k.job.id, reason: k.reason })),
  };
}

/** gc --archived: the local copies dropped (their archive verified) and the ones kept. */
export function archivedSummary(d: DropReport, dryRun: boolean): string {
  let out = '';
  for (const x of d.dropped) out += `${dryRun ? 'would drop' : 'dropped'} ${x.job.project}/${x.job.name}@${x.job.version} ${x.path} (${formatBytes(x.bytes)}; verified in ${x.to})\n`;
  for (const k of d.kept) out += `kept ${k.job.project}/${k.job.name}@${k.job.version}: ${k.reason}\n`;
  const bytes = d.dropped.reduce((n, x) => n + x.bytes, 0);
  out += `${dryRun ? 'would free' : 'freed'} ${formatBytes(bytes)} more: ${d.dropped.length} archived run folder${d.dropped.length === 1 ? '' : 's'} (qdo pull REV fetches one back)\n`;
  return out;
}

/** 1023 B, 1.5 KiB, 12 MiB: binary units, one decimal below 10. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${n} B`;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
