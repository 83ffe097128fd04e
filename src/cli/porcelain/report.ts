// qdo report --html FILE [PATTERN…] (man/qdo-report.1; src/core/report.ts,
// src/output/html-report.ts): the status page as one self-contained file.
import { rename, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import type { CommandDef } from '../command.js';
import { bool, str, strs } from '../command.js';
import { UsageError } from '../../errors.js';
import { jsonDocument } from '../../output/json.js';

/** A path as a link from the folder of the page: relative, each segment URL-encoded. */
export function relativeHref(fromDir: string, path: string): string {
  const rel = relative(fromDir, path);
  return rel.split(sep).map(encodeURIComponent).join('/') || '.';
}

export const reportCommand: CommandDef = {
  command: 'report [patterns..]',
  describe: 'Write the status page: one self-contained HTML file (jobs, states, sweeps, history, links to logs)',
  builder: (y) =>
    y
      .positional('patterns', { type: 'string', array: true, describe: 'PROJECT, PROJECT/JOB or glob (default: every job of every allocation)' })
      .option('html', { type: 'string', describe: 'the HTML file to write (replaced if it exists)' }),
  async run(args, { ctx, io }) {
    const file = str(args, 'html');
    const asJson = bool(args, 'json');
    if (file === undefined && !asJson) throw new UsageError('qdo report needs --html FILE (or --json for the data)', { code: 'usage', hint: 'qdo report --html status.html' });
    const { reportData } = await import('../../core/report.js');
    const d = await reportData(ctx, { patterns: strs(args, 'patterns') });
    let written: string | null = null;
    if (file !== undefined) {
      const { renderPage } = await import('../../output/html-report.js');
      const path = resolve(ctx.cwd, file);
      const html = renderPage(d, { mode: 'file', href: (p) => relativeHref(dirname(path), p) });
      // Replaced whole (a browser reloading it never sees half a page).
      const tmp = `${path}.qdo-${ctx.self.pid}.tmp`;
      await writeFile(tmp, html);
      await rename(tmp, path);
      written = path;
    }
    if (asJson) io.stdout(jsonDocument({ file: written, report: d }));
    else io.stdout(`wrote ${written} (${d.jobs.length} job(s) in ${d.allocations.length} allocation(s))\n`);
  },
};
