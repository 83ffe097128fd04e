// The pure Slurm renderer (spec/scheduler-slurm.md §Directives): `#!/bin/bash`, one
// `#SBATCH` line per resource, then the common wrapper. submit() sends exactly this text,
// so `--dry-run` shows what will run.
import { UsageError } from '../../errors.js';
import { formatMemory, formatSlurmTime } from '../../model/resource-units.js';
import { SLURM_JOB_VARS } from '../job-vars.js';
import { packedElements, packedRange } from '../packing.js';
import type { Dependency, RenderSpec } from '../types.js';
import { renderWrapper } from '../wrapper.js';
import { SLURM_ID_RE } from './parse.js';

/** Prefix of the --comment that carries RenderSpec.tag (spec/scheduler-slurm.md §Tag). */
export const TAG_PREFIX = 'qdo:';
const TAG_RE = /^[A-Za-z0-9._:-]+$/;
const MAIL_TYPES: Record<string, string> = { begin: 'BEGIN', end: 'END', fail: 'FAIL', all: 'ALL' };

/** The whole job script. Throws UsageError naming the field Slurm cannot express. */
export function renderSlurm(spec: RenderSpec): string {
  const head = slurmDirectives(spec).map((d) => `#SBATCH ${d}`);
  return `#!/bin/bash\n${head.join('\n')}\n\n${renderWrapper(spec, SLURM_JOB_VARS)}`;
}

/** The sbatch options, in a fixed order, without the "#SBATCH " prefix. */
export function slurmDirectives(spec: RenderSpec): string[] {
  const r = spec.resources;
  const out: string[] = [];
  const opt = (name: string, value: string, field: string) => out.push(`--${name}=${directiveValue(value, field)}`);
  // A packed array (spec/scheduler-slurm.md §Packed arrays) is an array job 0..n-1.
  const elements = packedElements(spec);
  const array = r.array ?? (elements !== undefined ? packedRange(elements.length) : undefined);

  opt('job-name', r.job_name ?? spec.jobName, r.job_name !== undefined ? 'resources.job_name' : 'job name');
  if (r.cpus !== undefined) opt('cpus-per-task', String(r.cpus), 'resources.cpus');
  if (r.tasks !== undefined) opt('ntasks', String(r.tasks), 'resources.tasks');
  if (r.nodes !== undefined) opt('nodes', String(r.nodes), 'resources.nodes');
  if (r.mem !== undefined) opt('mem', formatMemory(r.mem), 'resources.mem');
  if (r.mem_per_cpu !== undefined) opt('mem-per-cpu', formatMemory(r.mem_per_cpu), 'resources.mem_per_cpu');
  // --gres=gpu:N rather than --gpus-per-node: it also works under select/cons_res and on
  // Slurm before 19.05, and it is what site documentation shows.
  if (r.gpus !== undefined && r.gpus > 0) opt('gres', `gpu:${r.gpus}`, 'resources.gpus');
  if (r.time !== undefined) opt('time', formatSlurmTime(r.time), 'resources.time');
  if (r.partition !== undefined) opt('partition', r.partition, 'resources.partition');
  if (r.account !== undefined) opt('account', r.account, 'resources.account');
  if (r.qos !== undefined) opt('qos', r.qos, 'resources.qos');
  if (r.constraint !== undefined) opt('constraint', r.constraint, 'resources.constraint');
  if (array !== undefined) opt('array', array, r.array !== undefined ? 'resources.array' : 'elements');
  if (spec.dependencies !== undefined && spec.dependencies.length > 0) opt('dependency', dependencyValue(spec.dependencies), 'dependencies');
  // Slurm's own output (what the wrapper cannot capture: a failure before it redirects,
  // slurmstepd's "CANCELLED ... DUE TO TIME LIMIT") goes to the run folder, never to the
  // submit folder (§Output). '%' is Slurm's pattern character, so a literal one is doubled.
  const own = `${spec.runDir.replace(/%/g, '%%')}/${array !== undefined ? 'slurm-%A_%a.out' : 'slurm-%j.out'}`;
  opt('output', r.stdout ?? own, r.stdout !== undefined ? 'resources.stdout' : 'runDir');
  if (r.stderr !== undefined) opt('error', r.stderr, 'resources.stderr');
  if (r.mail?.user !== undefined) opt('mail-user', r.mail.user, 'resources.mail.user');
  if (r.mail?.events !== undefined && r.mail.events.length > 0) {
    const types = r.mail.events.map((e) => {
      const t = MAIL_TYPES[e];
      if (t === undefined) throw new UsageError(`resources.mail.events: Slurm has no mail type for ${JSON.stringify(e)} (known: begin, end, fail, all)`, { code: 'bad-resource' });
      return t;
    });
    opt('mail-type', [...new Set(types)].join(','), 'resources.mail.events');
  }
  if (spec.tag !== undefined) {
    if (!TAG_RE.test(spec.tag)) throw new UsageError(`tag: expected letters, digits and . _ : -, found ${JSON.stringify(spec.tag)}`, { code: 'bad-tag' });
    opt('comment', `${TAG_PREFIX}${spec.tag}`, 'tag');
  }
  if (spec.submitDir !== '') opt('chdir', spec.submitDir, 'submitDir');
  (r.extra?.slurm ?? []).forEach((x, i) => {
    const field = `resources.extra.slurm[${i}]`;
    if (!x.startsWith('-')) throw new UsageError(`${field}: expected an sbatch option such as "--exclusive", found ${JSON.stringify(x)}`, { code: 'bad-resource' });
    out.push(x);
  });
  return out;
}

/**
 * "afterok:12:13_4,afterany:20". Slurm joins types with ',' (all must hold); ids must be
 * Slurm job ids or array elements.
 */
export function dependencyValue(deps: Dependency[]): string {
  return deps
    .map((d, i) => {
      if (d.ids.length === 0) throw new UsageError(`dependencies[${i}].ids: expected at least one Slurm job id, found none`, { code: 'bad-dependency' });
      for (const id of d.ids) {
        if (!SLURM_ID_RE.test(id)) {
          throw new UsageError(`dependencies[${i}].ids: expected Slurm job ids like "12" or "12_3", found ${JSON.stringify(id)}`, { code: 'bad-dependency' });
        }
      }
      return `${d.type}:${d.ids.join(':')}`;
    })
    .join(',');
}

/**
 * sbatch reads `#SBATCH` lines itself: an unquoted '#' starts a comment and whitespace ends
 * the value, while "..." keeps both (checked on Slurm 22.05). It has no escape for '"', so
 * values with '"' (or '\', which turns off filename patterns) cannot be written.
 */
function directiveValue(value: string, field: string): string {
  if (/[\n\r]/.test(value)) throw new UsageError(`${field}: Slurm directives are one line, found a line break in ${JSON.stringify(value)}`, { code: 'bad-resource' });
  if (/["\\]/.test(value)) throw new UsageError(`${field}: Slurm cannot take '"' or '\\' in a directive value, found ${JSON.stringify(value)}`, { code: 'bad-resource' });
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `"${value}"`;
}
