// qdo archive [REV…|PATTERN…] (man/qdo-archive.1; spec/porcelain.md §qdo archive;
// src/core/archive.ts).
import type { CommandDef } from '../command.js';
import { bool, json, str, strs } from '../command.js';
import { formatBytes } from '../../output/table.js';

export const archiveCommand: CommandDef = {
  command: 'archive [revs..]',
  describe: "Copy ended versions' run folders to their project's archive (another allocation or host:path) and record it",
  builder: (y) =>
    y
      .positional('revs', { type: 'string', array: true, describe: 'REV or PATTERN (default: the jobs qdo status would list)' })
      .option('all-versions', { alias: 'a', type: 'boolean', describe: 'every version of the selected jobs, not only the latest' })
      .option('to', { type: 'string', describe: "archive here instead of the project's setting: a registered allocation or host:path" })
      .option('checksum', { type: 'boolean', describe: 'verify the copy by content (rsync --checksum), not size and time' })
      .option('dry-run', { type: 'boolean', describe: 'show what would be copied; copy and record nothing' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const { archive } = await import('../../core/archive.js');
    const { fullName } = await import('../../core/jobs.js');
    const dryRun = bool(args, 'dry-run');
    const r = await archive(ctx, { args: strs(args, 'revs'), allVersions: bool(args, 'all-versions'), to: str(args, 'to'), checksum: bool(args, 'checksum'), dryRun });
    for (const f of r.failed) io.stderr(`qdo: ${fullName(f.job)}@${f.job.version}: ${f.error.message}\n${f.error.hint ? `hint: ${f.error.hint}\n` : ''}`);
    const code = r.failed.length > 0 ? 6 : 0;
    if (bool(args, 'json')) {
      io.stdout(
        json({
          version: 1,
          dry_run: dryRun,
          archived: r.archived.map((a) => ({ job: fullName(a.job), id: a.job.id, job_version: a.job.version, to: a.to, path: a.path, files: a.files, bytes: a.bytes, sent: a.sent })),
          skipped: r.skipped.map((s) => ({ job: fullName(s.job), id: s.job.id, job_version: s.job.version, reason: s.reason })),
          failed: r.failed.map((f) => ({ job: fullName(f.job), id: f.job.id, job_version: f.job.version, code: f.error.code, message: f.error.message })),
        }),
      );
      return code;
    }
    for (const a of r.archived) {
      const what = `${a.files} file(s), ${formatBytes(a.bytes)}`;
      io.stdout(dryRun ? `would archive ${fullName(a.job)}@${a.job.version} to ${a.path} (${a.sent} of ${what} to send)\n` : `archived ${fullName(a.job)}@${a.job.version} to ${a.path} (${what}; ${a.sent} sent, verified)\n`);
    }
    for (const s of r.skipped) io.stdout(`skipped ${fullName(s.job)}@${s.job.version}: ${s.reason}\n`);
    if (r.archived.length + r.skipped.length + r.failed.length === 0) io.stdout('no jobs selected\n');
    return code;
  },
};
