// qdo diff REV [REV] (spec/porcelain.md §qdo diff; man/qdo-diff.1)
import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import type { DiffResult } from '../../core/inspect.js';
import type { KeyedDelta } from '../../core/manifest-delta.js';

type Delta = typeof import('../../core/manifest-delta.js');

function keyedLines(name: string, d: KeyedDelta<unknown>, show: (k: string, v: unknown) => string): string[] {
  const lines = [
    ...Object.entries(d.changed).map(([k, v]) => `  ${k}: ${show(k, v.a)} → ${show(k, v.b)}`),
    ...Object.entries(d.added).map(([k, v]) => `+ ${k}: ${show(k, v)}`),
    ...Object.entries(d.removed).map(([k, v]) => `- ${k}: ${show(k, v)}`),
  ];
  return lines.length ? [`${name}:`, ...lines.map((l) => `  ${l}`)] : [];
}

/** The human form: one block per differing field, then the unified diffs of the texts. */
export function formatDiff(r: DiffResult, md: Delta, color: boolean): string {
  const d = r.delta;
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  if (r.changed.length === 0) return `no differences between ${r.a.label} and ${r.b.label}\n`;
  const out: string[] = [paint('1', `diff ${r.a.label} ${r.b.label}`), paint('1', `index ${r.a.job.id.slice(0, 12)}..${r.b.job.id.slice(0, 12)}`)];
  if (d.scheduler) out.push(`scheduler: ${d.scheduler.a} → ${d.scheduler.b}`);
  out.push(...keyedLines('resources', d.resources, (k, v) => md.resourceText(k, v)));
  out.push(...keyedLines('params', d.params, (_k, v) => md.quoteValue(String(v))));
  out.push(...keyedLines('env', d.env, (_k, v) => md.quoteValue(String(v))));
  if (d.template) {
    const a = md.templateText(d.template.a);
    const b = md.templateText(d.template.b);
    out.push(`template: ${a === b ? `${a} (edited)` : `${a} → ${b}`}`);
  }
  if (d.after) out.push(`after: ${md.afterText(d.after.a)} → ${md.afterText(d.after.b)}`);
  if (d.retry) out.push(`retry: ${md.retryText(d.retry.a)} → ${md.retryText(d.retry.b)}`);
  if (d.notify) out.push(`notify: ${d.notify.a === null ? 'none' : md.quoteValue(d.notify.a)} → ${d.notify.b === null ? 'none' : md.quoteValue(d.notify.b)}`);
  if (d.workdir) out.push(`workdir: ${md.quoteValue(d.workdir.a)} → ${md.quoteValue(d.workdir.b)}`);
  if (d.environment) out.push(`${md.environmentChange(d.environment).replace(/^environment /, 'environment: ')}`);
  if (r.artifacts) {
    const a = r.artifacts;
    const size = (n: number) => `${n} B`;
    const lines = [
      ...a.changed.map((x) => `    ${x.path}: ${size(x.a)} → ${size(x.b)}`),
      ...a.added.map((x) => `  + ${x.path} (${size(x.size)})`),
      ...a.removed.map((x) => `  - ${x.path} (${size(x.size)})`),
    ];
    if (lines.length) out.push('artifacts:', ...lines);
  }
  let text = out.map((l) => l + '\n').join('');
  for (const u of [r.prologue, r.script, r.epilogue]) {
    if (u === '') continue;
    text += u
      .split('\n')
      .map((l, i, all) => {
        if (i === all.length - 1) return l;
        if (!color) return l + '\n';
        if (l.startsWith('--- ') || l.startsWith('+++ ')) return paint('1', l) + '\n';
        if (l.startsWith('@@')) return paint('36', l) + '\n';
        if (l.startsWith('-')) return paint('31', l) + '\n';
        if (l.startsWith('+')) return paint('32', l) + '\n';
        return l + '\n';
      })
      .join('');
  }
  return text;
}

export const diffCommand: CommandDef = {
  command: 'diff <a> [b]',
  describe: 'What differs between two job versions (or one and its parent): script, resources, params, env',
  builder: (y) =>
    y
      .positional('a', { type: 'string', describe: 'a revision: PROJECT/JOB, JOB@N, JOB~N or an id prefix' })
      .positional('b', { type: 'string', describe: 'a second revision (default: compare A with its parent)' })
      .option('artifacts', { type: 'boolean', describe: 'also compare the files the jobs wrote in their run folders, by name and size' })
      .option('exit-code', { type: 'boolean', describe: 'exit 1 if the versions differ, 0 if not' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const core = await import('../../core/inspect.js');
    const md = await import('../../core/manifest-delta.js');
    const r = await core.diffJobs(ctx, str(args, 'a')!, str(args, 'b'), { artifacts: bool(args, 'artifacts') });
    if (bool(args, 'json')) {
      const side = (s: DiffResult['a']) => ({ job: `${s.job.project}/${s.job.name}`, id: s.job.id, job_version: s.job.version, label: s.label });
      const text = (field: 'script' | 'prologue' | 'epilogue') => {
        const p = r.delta[field];
        return p === null ? null : { a: p.a, b: p.b, diff: r[field] };
      };
      io.stdout(
        json({
          version: 1,
          a: side(r.a),
          b: side(r.b),
          different: r.changed.length > 0,
          changed: r.changed,
          scheduler: r.delta.scheduler,
          resources: r.delta.resources,
          params: r.delta.params,
          env: r.delta.env,
          script: text('script'),
          prologue: text('prologue'),
          epilogue: text('epilogue'),
          template: r.delta.template,
          after: r.delta.after,
          retry: r.delta.retry,
          notify: r.delta.notify,
          workdir: r.delta.workdir,
          environment: r.delta.environment,
          ...(r.artifacts ? { artifacts: r.artifacts } : {}),
        }),
      );
    } else {
      io.stdout(formatDiff(r, md, io.color));
    }
    return bool(args, 'exit-code') && r.changed.length > 0 ? 1 : 0;
  },
};
