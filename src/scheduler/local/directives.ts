// `#QDO_LOCAL key=value` lines: how a rendered local script carries its resources to
// submit, like #SBATCH lines do for Slurm (spec/local-backend.md §Directives). Pure.
import { UsageError } from '../../errors.js';
import { formatMemory } from '../../model/resource-units.js';
import { packedElements, packedRange } from '../packing.js';
import type { RenderSpec } from '../types.js';

export const DIRECTIVE = '#QDO_LOCAL';
/** Most tasks one array job may have locally. */
export const MAX_ARRAY_TASKS = 10_000;

export interface LocalDirectives {
  name: string;
  /** Slots the job (each array task) takes: cpus × tasks, at least 1. */
  slots: number;
  /** Walltime in seconds, 0 = none. */
  time: number;
  /** Array spec as written, e.g. "1-10%2". */
  array?: string;
  /** "afterok:3:4,afterany:5". */
  depend?: string;
  tag?: string;
}

export interface ArrayPlan {
  indices: number[];
  /** 0 = no limit. */
  maxRunning: number;
}

/** "1-10:2,15,20-22%3" → indices (sorted, unique) and the %N limit. */
export function expandArray(spec: string, field = 'array'): ArrayPlan {
  const m = /^([\d,:-]+)(?:%(\d+))?$/.exec(spec.trim());
  const bad = (): UsageError =>
    new UsageError(`${field}: expected an index spec like 1-10, 0-99:2, 1,3,5 or 1-100%10, found ${JSON.stringify(spec)}`, { code: 'bad-resource' });
  if (!m) throw bad();
  const out = new Set<number>();
  for (const part of m[1]!.split(',')) {
    const r = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part);
    if (!r) throw bad();
    const a = Number(r[1]);
    const b = r[2] === undefined ? a : Number(r[2]);
    const step = r[3] === undefined ? 1 : Number(r[3]);
    if (b < a || step < 1) throw bad();
    for (let i = a; i <= b; i += step) {
      out.add(i);
      if (out.size > MAX_ARRAY_TASKS) throw new UsageError(`${field}: at most ${MAX_ARRAY_TASKS} tasks run locally, ${JSON.stringify(spec)} has more`, { code: 'bad-resource' });
    }
  }
  const maxRunning = m[2] === undefined ? 0 : Number(m[2]);
  return { indices: [...out].sort((x, y) => x - y), maxRunning };
}

function oneLine(what: string, v: string): string {
  if (/[\n\r]/.test(v)) throw new UsageError(`${what} must be one line for the local backend, found ${JSON.stringify(v)}`, { code: 'bad-resource' });
  return v;
}

/**
 * The directive lines and the comment about what is not enforced. Throws UsageError for
 * what the local machine cannot do at all (more than one node).
 */
export function renderDirectives(spec: RenderSpec): string[] {
  const r = spec.resources;
  if (r.nodes !== undefined && r.nodes > 1) {
    throw new UsageError(`nodes: the local backend runs jobs on this one machine, found nodes=${r.nodes}`, {
      code: 'local-unsupported',
      hint: 'drop nodes, or submit to a cluster scheduler',
    });
  }
  const lines: string[] = [];
  lines.push(`${DIRECTIVE} name=${oneLine('job name', r.job_name ?? spec.jobName)}`);
  lines.push(`${DIRECTIVE} slots=${Math.max(1, (r.cpus ?? 1) * (r.tasks ?? 1))}`);
  if (r.time !== undefined) lines.push(`${DIRECTIVE} time=${r.time}`);
  // A packed array (spec/local-backend.md §Packed arrays) is the array 0..n-1.
  const elements = packedElements(spec);
  if (r.array !== undefined) {
    expandArray(r.array, 'resources.array');
    lines.push(`${DIRECTIVE} array=${r.array}`);
  } else if (elements !== undefined) {
    const range = packedRange(elements.length);
    expandArray(range, 'elements');
    lines.push(`${DIRECTIVE} array=${range}`);
  }
  if (spec.dependencies !== undefined && spec.dependencies.length > 0) {
    const parts = spec.dependencies.map((d) => {
      for (const id of d.ids) {
        if (!/^\d+(_\d+)?$/.test(id)) {
          throw new UsageError(`dependency: ${JSON.stringify(id)} is not a local job id (a number, or an array task like 7_3)`, { code: 'bad-dependency' });
        }
      }
      return [d.type, ...d.ids].join(':');
    });
    lines.push(`${DIRECTIVE} depend=${parts.join(',')}`);
  }
  if (spec.tag !== undefined) lines.push(`${DIRECTIVE} tag=${oneLine('tag', spec.tag)}`);
  // Accepted so one template works everywhere, but this machine does not enforce them.
  const ignored: string[] = [];
  if (r.mem !== undefined) ignored.push(`mem=${formatMemory(r.mem)}`);
  if (r.mem_per_cpu !== undefined) ignored.push(`mem_per_cpu=${formatMemory(r.mem_per_cpu)}`);
  if (r.gpus !== undefined) ignored.push(`gpus=${r.gpus}`);
  for (const k of ['partition', 'account', 'qos', 'constraint', 'stdout', 'stderr'] as const) {
    const v = r[k];
    if (v !== undefined) ignored.push(`${k}=${v}`);
  }
  if (r.mail !== undefined) ignored.push('mail');
  if (r.extra !== undefined && Object.keys(r.extra).length > 0) ignored.push(`extra (${Object.keys(r.extra).sort().join(', ')})`);
  if (ignored.length > 0) lines.push(`# Not enforced by the local backend (spec/local-backend.md §Resources): ${ignored.join(', ')}`);
  return lines;
}

/** Reads the directives at the top of a script (up to its first non-comment line). */
export function parseDirectives(script: string, file = 'script'): LocalDirectives {
  const d: LocalDirectives = { name: '', slots: 1, time: 0 };
  for (const line of script.split('\n')) {
    if (!line.startsWith('#')) break;
    if (!line.startsWith(`${DIRECTIVE} `)) continue;
    const body = line.slice(DIRECTIVE.length + 1);
    const eq = body.indexOf('=');
    const key = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? '' : body.slice(eq + 1);
    const bad = (expected: string): UsageError =>
      new UsageError(`${file}: ${DIRECTIVE} ${key}: expected ${expected}, found ${JSON.stringify(value)}`, { code: 'bad-local-directive' });
    switch (key) {
      case 'name':
        d.name = value;
        break;
      case 'slots':
      case 'time': {
        if (!/^\d+$/.test(value) || (key === 'slots' && Number(value) < 1)) throw bad(key === 'slots' ? 'an integer >= 1' : 'seconds');
        d[key] = Number(value);
        break;
      }
      case 'array':
        expandArray(value, `${file}: ${DIRECTIVE} array`);
        d.array = value;
        break;
      case 'depend':
        if (!/^(after|afterok|afternotok|afterany)(:\d+(_\d+)?)+(,(after|afterok|afternotok|afterany)(:\d+(_\d+)?)+)*$/.test(value)) throw bad('e.g. afterok:12:13_2,afterany:14');
        d.depend = value;
        break;
      case 'tag':
        d.tag = value;
        break;
      default:
        throw new UsageError(`${file}: unknown directive ${DIRECTIVE} ${key} (known: name, slots, time, array, depend, tag)`, { code: 'bad-local-directive' });
    }
  }
  return d;
}
