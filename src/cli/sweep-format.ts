// Output of sweeps, shared by `qdo submit --grid` and `qdo sweep` (spec/porcelain.md
// §qdo sweep): a summary line with the sweep id, a line per submitted point, and with
// --dry-run every point and the first chunk's script; --json is the contract.
import type { SweepResult } from '../core/sweep.js';
import { json } from './command.js';
import type { Io } from './io.js';

export function shortSweepId(id: string): string {
  return id.slice(0, 12);
}

function paramsText(p: Record<string, string>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "6 to submit as 1 array job", "4 submitted one by one", "3 submitted as 2 array jobs and 1 job alone". */
function how(r: SweepResult): string {
  const packed = r.chunks.filter((c) => c.packed);
  const alone = r.chunks.filter((c) => !c.packed).reduce((n, c) => n + c.points.length, 0);
  const parts: string[] = [];
  if (packed.length) parts.push(`as ${plural(packed.length, 'array job')}${r.dryRun ? '' : ` (${packed.map((c) => `${c.scheduler} ${c.schedId}`).join(', ')})`}`);
  if (alone) parts.push(packed.length ? `${plural(alone, 'job')} alone` : 'one by one');
  return parts.join(' and ');
}

export function summaryLine(r: SweepResult): string {
  const verb = r.dryRun ? 'to submit' : 'submitted';
  const done = r.skipped ? `${r.skipped} already submitted, ` : '';
  const rest = r.submitted ? `${r.submitted} ${verb} ${how(r)}` : `nothing ${verb}`;
  return `sweep ${shortSweepId(r.sweepId)}: ${plural(r.points.length, 'point')}: ${done}${rest}${r.dryRun ? ' (dry run)' : ''}`;
}

export function printSweep(io: Io, r: SweepResult, asJson: boolean): void {
  if (asJson) {
    io.stdout(
      json({
        version: 1,
        sweep: r.sweepId,
        dry_run: r.dryRun,
        total: r.points.length,
        submitted: r.submitted,
        skipped: r.skipped,
        points: r.points.map((p) => ({
          index: p.index,
          job: `${p.project}/${p.name}`,
          project: p.project,
          name: p.name,
          params: p.params,
          id: p.id,
          job_version: p.version,
          parent: p.parent,
          skipped: p.skipped,
          state: p.state,
          sched_id: p.schedId,
          array_job: p.arrayJob,
          run_dir: p.runDir,
        })),
        chunks: r.chunks.map((c) => ({
          number: c.number,
          scheduler: c.scheduler,
          packed: c.packed,
          tag: c.tag,
          points: c.points,
          sched_id: c.schedId,
          ...(r.dryRun ? { script: c.script } : {}),
        })),
      }),
    );
    return;
  }
  const out: string[] = [summaryLine(r)];
  if (r.dryRun) {
    const width = Math.max(...r.points.map((p) => p.project.length + p.name.length + 1));
    for (const p of r.points) {
      const note = p.skipped ? `  (already submitted: @${p.version} ${p.state})` : '';
      out.push(`  ${`${p.project}/${p.name}`.padEnd(width)}  ${paramsText(p.params)}${note}`);
    }
    io.stdout(out.join('\n') + '\n');
    const first = r.chunks[0];
    if (!first) return;
    const packed = r.chunks.filter((c) => c.packed).length;
    const head = first.packed
      ? `# ---- array script of chunk 1 (${plural(first.points.length, 'point')}); ${plural(packed, 'array script')} in all ----`
      : `# ---- script of ${r.points[first.points[0]!]!.project}/${r.points[first.points[0]!]!.name} (each point is submitted alone) ----`;
    io.stdout(`${head}\n${first.script}`);
    if (r.chunks.length > 1) io.stdout(`# ---- ${plural(r.chunks.length - 1, 'more script')} not shown (qdo … --dry-run --json has them all) ----\n`);
    return;
  }
  for (const p of r.points) {
    if (p.skipped) continue;
    out.push(`${p.project}/${p.name}@${p.version} ${p.state}: ${r.chunks.find((c) => c.points.includes(p.index))?.scheduler ?? ''} job ${p.schedId}${p.parent ? ` (supersedes @${p.version - 1})` : ''}`);
  }
  if (r.submitted) out.push(`follow them with: qdo wait sweep:${shortSweepId(r.sweepId)}`);
  io.stdout(out.join('\n') + '\n');
}
