// The pure TORQUE renderer (spec/scheduler-pbs.md §TORQUE directives): `#!/bin/bash`,
// `#PBS` lines in TORQUE's dialect (nodes=N:ppn=C, -t arrays), then the common wrapper.
// Slurm's slurm-wlm-torque qsub hands the script to sbatch, which reads the same `#PBS`
// lines (checked on Slurm 22.05; see the e2e tests).
import { UsageError } from '../../errors.js';
import { formatHms } from '../../model/resource-units.js';
import type { Resources } from '../../model/resources.js';
import { TORQUE_JOB_VARS } from '../job-vars.js';
import { packedElements, packedRange } from '../packing.js';
import type { RenderSpec } from '../types.js';
import { renderWrapper } from '../wrapper.js';
import { directiveValue, extraDirectives, mailDirectives, outputDirectives, pbsJobName, pbsMem, tagDirective } from './render-common.js';
import { pbsDependValue } from './render-pbspro.js';

const S = 'TORQUE';

export function renderTorque(spec: RenderSpec): string {
  const head = torqueDirectives(spec).map((d) => `#PBS ${d}`);
  return `#!/bin/bash\n${head.join('\n')}\n\n${renderWrapper(spec, TORQUE_JOB_VARS)}`;
}

/** An array element id under Slurm's TORQUE wrapper ("123_4"): the wrapper passes it to Slurm. */
export const SLURM_ELEMENT_ID = /^\d+_\d+$/;

export function torqueDirectives(spec: RenderSpec): string[] {
  const r = spec.resources;
  const out: string[] = [];
  // A packed array (spec/scheduler-pbs.md §Packed arrays) is -t 0-(n-1).
  const n = packedElements(spec)?.length;
  out.push(`-N ${directiveValue(pbsJobName(r.job_name ?? spec.jobName, 'torque'), 'resources.job_name', S)}`);
  out.push('-S /bin/bash');
  const nodes = torqueNodes(r);
  if (nodes !== null) out.push(`-l nodes=${nodes}`);
  if (r.time !== undefined) out.push(`-l walltime=${formatHms(r.time)}`);
  // TORQUE's mem is for the whole job; qdo's is per node.
  if (r.mem !== undefined) out.push(`-l mem=${pbsMem(r.mem * (r.nodes ?? 1))}`);
  // pmem is per processor slot (ppn) in TORQUE/Moab.
  if (r.mem_per_cpu !== undefined) out.push(`-l pmem=${pbsMem(r.mem_per_cpu)}`);
  if (r.partition !== undefined) out.push(`-q ${directiveValue(r.partition, 'resources.partition', S)}`);
  if (r.account !== undefined) out.push(`-A ${directiveValue(r.account, 'resources.account', S)}`);
  if (r.qos !== undefined) {
    throw new UsageError(`resources.qos: TORQUE has no QOS directive (found ${JSON.stringify(r.qos)})`, {
      code: 'bad-resource',
      hint: 'remove qos, or pass your site\'s equivalent verbatim: --sched-arg=\'-l qos=high\' under Moab (config and sweep files: sched_args)',
    });
  }
  if (r.array !== undefined) out.push(`-t ${torqueArray(r.array)}`);
  else if (n !== undefined) out.push(`-t ${packedRange(n)}`);
  if (spec.dependencies !== undefined && spec.dependencies.length > 0) out.push(`-W depend=${pbsDependValue(spec.dependencies, S, true, SLURM_ELEMENT_ID)}`);
  // TORQUE appends "-<index>" to the output path of each array task itself.
  out.push(...outputDirectives(spec, 'torque.out', S));
  out.push(...mailDirectives(r, S));
  out.push(...tagDirective(spec.tag));
  out.push(...extraDirectives(r, 'torque'));
  return out;
}

/**
 * `-l nodes=N:ppn=P[:gpus=G][:feature…]` (spec/scheduler-pbs.md §Nodes): ppn counts the
 * processors of one node = its tasks × cpus. With nodes=N the tasks (default N) spread
 * evenly, nodes differing by one task joined with '+'; without nodes everything is on
 * one node. resources.constraint lists node properties joined by '&', ':' or ','.
 */
export function torqueNodes(r: Resources): string | null {
  const wanted = [r.cpus, r.tasks, r.nodes, r.gpus, r.constraint].some((x) => x !== undefined);
  if (!wanted) return null;
  const cpus = r.cpus ?? 1;
  const props = torqueProperties(r.constraint);
  const spec = (count: number, tasks: number): string =>
    [`${count}`, `ppn=${tasks * cpus}`, ...(r.gpus !== undefined && r.gpus > 0 ? [`gpus=${r.gpus}`] : []), ...props].join(':');
  const n = r.nodes ?? 1;
  const tasks = r.tasks ?? n;
  if (tasks < n) {
    throw new UsageError(`resources.tasks: ${tasks} task(s) cannot fill ${n} nodes`, { code: 'bad-resource' });
  }
  const base = Math.floor(tasks / n);
  const more = tasks % n;
  const parts: string[] = [];
  if (n - more > 0) parts.push(spec(n - more, base));
  if (more > 0) parts.push(spec(more, base + 1));
  return parts.join('+');
}

function torqueProperties(c: string | undefined): string[] {
  if (c === undefined) return [];
  const parts = c.split(/[&:,]/).map((p) => p.trim());
  for (const p of parts) {
    if (!/^[A-Za-z][A-Za-z0-9_.\-]*$/.test(p)) {
      throw new UsageError(`resources.constraint: TORQUE takes node properties (names) joined by "&", found ${JSON.stringify(c)}`, {
        code: 'bad-resource',
        hint: 'e.g. "bigmem" or "bigmem&ib"; "|" (either) cannot be expressed in a nodes= request',
      });
    }
  }
  return parts;
}

/**
 * `-t` takes ids, ranges, comma lists and a `%max` slot limit (qsub.1 -t), but no step:
 * "0-9:3" is written out as "0,3,6,9".
 */
export function torqueArray(spec: string): string {
  const [list, max] = spec.split('%') as [string, string | undefined];
  const items = list.split(',').map((item) => {
    const m = /^(\d+)-(\d+):(\d+)$/.exec(item);
    if (!m) return item;
    const [a, b, step] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (step < 1) throw new UsageError(`resources.array: step must be at least 1, found ${JSON.stringify(spec)}`, { code: 'bad-resource' });
    const ids: number[] = [];
    for (let i = a; i <= b; i += step) ids.push(i);
    if (ids.length === 0) throw new UsageError(`resources.array: ${JSON.stringify(item)} holds no index`, { code: 'bad-resource' });
    return ids.join(',');
  });
  return items.join(',') + (max !== undefined ? `%${max}` : '');
}
