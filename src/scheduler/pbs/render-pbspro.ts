// The pure PBS Pro / OpenPBS renderer (spec/scheduler-pbs.md §PBS Pro directives):
// `#!/bin/bash`, one `#PBS` line per setting, then the common wrapper. submit() sends
// exactly this text, so `--dry-run` shows what will run.
import { UsageError } from '../../errors.js';
import { formatHms } from '../../model/resource-units.js';
import type { Resources } from '../../model/resources.js';
import { PBS_JOB_VARS } from '../job-vars.js';
import { packedElements, packedRange } from '../packing.js';
import type { Dependency, RenderSpec } from '../types.js';
import { renderWrapper } from '../wrapper.js';
import {
  checkDependencyIds,
  directiveValue,
  extraDirectives,
  mailDirectives,
  outputDirectives,
  pbsJobName,
  pbsMem,
  tagDirective,
} from './render-common.js';

const S = 'PBS Pro';

/** The whole job script. Throws UsageError naming the field PBS Pro cannot express. */
export function renderPbsPro(spec: RenderSpec): string {
  const head = pbsproDirectives(spec).map((d) => `#PBS ${d}`);
  return `#!/bin/bash\n${head.join('\n')}\n\n${renderWrapper(spec, PBS_JOB_VARS)}`;
}

/** The qsub options, in a fixed order, without the "#PBS " prefix. */
export function pbsproDirectives(spec: RenderSpec): string[] {
  const r = spec.resources;
  const out: string[] = [];
  // A packed array (spec/scheduler-pbs.md §Packed arrays) is -J 0-(n-1); PBS Pro has no
  // one-index arrays, so a single element is a plain job (its id is the element's).
  const n = packedElements(spec)?.length;
  const packedJ = n !== undefined && n >= 2 ? packedRange(n) : undefined;
  const arrayJob = r.array !== undefined || packedJ !== undefined;
  out.push(`-N ${directiveValue(pbsJobName(r.job_name ?? spec.jobName, 'pbspro'), 'resources.job_name', S)}`);
  // The wrapper is bash; do not depend on the user's login shell.
  out.push('-S /bin/bash');
  const sel = pbsproSelect(r);
  if (sel !== null) {
    out.push(`-l select=${sel.select}`);
    if (sel.place !== undefined) out.push(`-l place=${sel.place}`);
  }
  if (r.time !== undefined) out.push(`-l walltime=${formatHms(r.time)}`);
  if (r.partition !== undefined) out.push(`-q ${directiveValue(r.partition, 'resources.partition', S)}`);
  if (r.account !== undefined) out.push(`-A ${directiveValue(r.account, 'resources.account', S)}`);
  if (r.qos !== undefined) {
    throw new UsageError(`resources.qos: PBS Pro has no QOS (found ${JSON.stringify(r.qos)})`, {
      code: 'bad-resource',
      hint: 'remove qos, or pass your site\'s equivalent verbatim: --sched-arg=\'-l qos=high\' (or -q express; config and sweep files: sched_args)',
    });
  }
  if (r.array !== undefined) out.push(`-J ${pbsproArray(r.array)}`);
  else if (packedJ !== undefined) out.push(`-J ${packedJ}`);
  if (spec.dependencies !== undefined && spec.dependencies.length > 0) {
    checkNoSubjobs(spec.dependencies);
    out.push(`-W depend=${pbsDependValue(spec.dependencies, S)}`);
  }
  // PBS Pro replaces ^array_index^ in -o/-e paths with the subjob index (qsub.1B -o).
  out.push(...outputDirectives(spec, arrayJob ? 'pbs.^array_index^.out' : 'pbs.out', S));
  out.push(...mailDirectives(r, S));
  out.push(...tagDirective(spec.tag));
  out.push(...extraDirectives(r, 'pbs'));
  return out;
}

/**
 * `-l select` (spec/scheduler-pbs.md §Select): a chunk is what one host gives.
 * - nodes=N: N chunks, one per host (place=scatter); the tasks spread evenly, chunks
 *   differing by one task when N does not divide them (`1:…+1:…`); tasks default to N.
 * - no nodes: one chunk per task (PBS may put several on one host); per-node mem or gpus
 *   cannot be placed then, unless there is a single task.
 * Each chunk: ncpus = tasks × cpus, mpiprocs = tasks (PBS_NODEFILE gets one line per MPI
 * rank), ompthreads = cpus when a chunk holds more than one task (so NCPUS and
 * OMP_NUM_THREADS are per task), mem (per node, or mem_per_cpu × ncpus), ngpus, constraint.
 * Returns null when no resource asks for a select statement (the site default applies).
 */
export function pbsproSelect(r: Resources): { select: string; place?: string } | null {
  const wanted = [r.cpus, r.tasks, r.nodes, r.mem, r.mem_per_cpu, r.gpus, r.constraint].some((x) => x !== undefined);
  if (!wanted) return null;
  const cpus = r.cpus ?? 1;
  const extra = constraintResources(r.constraint);
  const chunk = (tasks: number): string => {
    const parts = [`ncpus=${tasks * cpus}`, `mpiprocs=${tasks}`];
    if (tasks > 1) parts.push(`ompthreads=${cpus}`);
    if (r.mem !== undefined) parts.push(`mem=${pbsMem(r.mem)}`);
    if (r.mem_per_cpu !== undefined) parts.push(`mem=${pbsMem(r.mem_per_cpu * tasks * cpus)}`);
    if (r.gpus !== undefined && r.gpus > 0) parts.push(`ngpus=${r.gpus}`);
    parts.push(...extra);
    return parts.join(':');
  };
  if (r.nodes !== undefined) {
    const n = r.nodes;
    const tasks = r.tasks ?? n;
    if (tasks < n) {
      throw new UsageError(`resources.tasks: ${tasks} task(s) cannot fill ${n} nodes (every PBS chunk needs at least one task)`, { code: 'bad-resource' });
    }
    const base = Math.floor(tasks / n);
    const more = tasks % n;
    const groups: string[] = [];
    if (n - more > 0) groups.push(`${n - more}:${chunk(base)}`);
    if (more > 0) groups.push(`${more}:${chunk(base + 1)}`);
    return n > 1 ? { select: groups.join('+'), place: 'scatter' } : { select: groups.join('+') };
  }
  const tasks = r.tasks ?? 1;
  if (tasks > 1 && r.mem !== undefined) {
    throw new UsageError(`resources.mem: memory is per node, but with ${tasks} tasks and no resources.nodes PBS Pro places one chunk per task`, {
      code: 'bad-resource',
      hint: 'set resources.nodes, or use mem_per_cpu',
    });
  }
  if (tasks > 1 && r.gpus !== undefined && r.gpus > 0) {
    throw new UsageError(`resources.gpus: GPUs are per node, but with ${tasks} tasks and no resources.nodes PBS Pro places one chunk per task`, {
      code: 'bad-resource',
      hint: 'set resources.nodes',
    });
  }
  return { select: `${tasks}:${chunk(1)}` };
}

/**
 * resources.constraint on PBS Pro: node features are site-defined chunk resources, so the
 * constraint is written as `res=value` pairs joined by ':' or '&', added to every chunk
 * (e.g. "model=skylake&ib=True" → `:model=skylake:ib=True`).
 */
function constraintResources(c: string | undefined): string[] {
  if (c === undefined) return [];
  const parts = c.split(/[:&]/).map((p) => p.trim());
  for (const p of parts) {
    if (!/^[A-Za-z][A-Za-z0-9_]*=[A-Za-z0-9_.\-]+$/.test(p)) {
      throw new UsageError(`resources.constraint: PBS Pro takes node features as chunk resources "res=value" joined by ":" or "&", found ${JSON.stringify(c)}`, {
        code: 'bad-resource',
        hint: 'e.g. "model=skylake" or "model=skylake&ib=True"; ask your site which host resources exist',
      });
    }
  }
  return parts;
}

/**
 * `-J X-Y[:Z][%N]` (qsub.1B -J; the %N limit needs OpenPBS 20+/PBS Pro 2020+).
 * PBS Pro has no comma lists and no single-index arrays.
 */
export function pbsproArray(spec: string): string {
  const m = /^(\d+)-(\d+)(?::(\d+))?(%\d+)?$/.exec(spec);
  if (!m) {
    throw new UsageError(`resources.array: PBS Pro takes a range "X-Y", "X-Y:step" or "X-Y%max", found ${JSON.stringify(spec)}`, {
      code: 'bad-resource',
      hint: 'PBS Pro cannot submit a list of indices like "1,3,5" or a single index; use a range with a step, or several jobs',
    });
  }
  if (Number(m[1]) >= Number(m[2])) {
    throw new UsageError(`resources.array: PBS Pro needs the first index below the last, found ${JSON.stringify(spec)}`, { code: 'bad-resource' });
  }
  return spec;
}

/**
 * PBS Pro refuses a dependency on a subjob: the server rejects any id with an index
 * between the brackets (OpenPBS src/server/req_register.c depend_on_que, PBSE_IVALREQ).
 * A job can wait on a whole array ("123[].server") only (spec/scheduler-pbs.md §Packed arrays).
 */
export function checkNoSubjobs(deps: Dependency[]): void {
  deps.forEach((d, i) => {
    const sub = d.ids.find((id) => /\[\d+\]/.test(id));
    if (sub !== undefined) {
      throw new UsageError(`dependencies[${i}].ids: PBS Pro cannot make a job wait on one subjob, found ${JSON.stringify(sub)}`, {
        code: 'bad-dependency',
        hint: `wait on the whole array (${sub.replace(/\[\d+\]/, '[]')}), or submit the job it waits on unpacked`,
      });
    }
  });
}

/** "afterok:1.s:2.s,afterany:3.s" (qsub.1B -W depend). Several types: all must hold. */
export function pbsDependValue(deps: Dependency[], scheduler: string, arrayTypes = false, alsoOk?: RegExp): string {
  return deps
    .map((d, i) => {
      checkDependencyIds(d.ids, i, scheduler, alsoOk);
      if (!arrayTypes) return `${d.type}:${d.ids.join(':')}`;
      // TORQUE waits on a whole array with the *array variants (qsub.1 -W depend).
      const plain = d.ids.filter((id) => !id.includes('[]'));
      const arrays = d.ids.filter((id) => id.includes('[]'));
      const arrayType = d.type === 'after' ? 'afterstartarray' : `${d.type}array`;
      return [plain.length > 0 ? `${d.type}:${plain.join(':')}` : null, arrays.length > 0 ? `${arrayType}:${arrays.join(':')}` : null]
        .filter((x) => x !== null)
        .join(',');
    })
    .join(',');
}
