// Packed arrays (spec/scheduler-common.md §Packed arrays): many qdo jobs sent as ONE array
// job, array index i running element i with its own name, run folder, script and env.
// What every renderer shares: checking RenderSpec.elements, the index range, the script
// size limit. Pure.
import { UsageError } from '../errors.js';
import type { ElementSpec, RenderSpec } from './types.js';

/** Element tags are manifest ids; the same characters the schedulers' tags allow. */
const TAG_RE = /^[A-Za-z0-9._:-]+$/;

/**
 * The elements of a packed array, sorted by index, after checking what the wrapper relies
 * on: resources.array unset, at least one element, indices exactly 0..n-1, absolute run
 * folders, one-line tags. Returns undefined for a plain job. Env names are checked by the
 * wrapper (the same rules as RenderSpec.env).
 */
export function packedElements(spec: RenderSpec): ElementSpec[] | undefined {
  const els = spec.elements;
  if (els === undefined) return undefined;
  const bad = (message: string, hint?: string): UsageError => new UsageError(message, { code: 'bad-packed-array', ...(hint !== undefined ? { hint } : {}) });
  if (spec.resources.array !== undefined) {
    throw bad(`resources.array: a packed array sets its own indices (one per element), found array=${JSON.stringify(spec.resources.array)}`, 'drop resources.array, or submit this job unpacked');
  }
  if (!Array.isArray(els) || els.length === 0) throw bad('elements: a packed array needs at least one element, found none');
  const sorted = [...els].sort((a, b) => a.index - b.index);
  sorted.forEach((e, i) => {
    if (!Number.isInteger(e.index) || e.index !== i) {
      throw bad(`elements: indices must be 0..${els.length - 1}, each once; found ${JSON.stringify(sorted.map((x) => x.index).slice(0, 20))}${els.length > 20 ? '…' : ''}`);
    }
    if (typeof e.runDir !== 'string' || !e.runDir.startsWith('/')) {
      throw new UsageError(`elements[${i}].runDir: must be an absolute path, found ${JSON.stringify(e.runDir)}`, { code: 'bad-run-dir' });
    }
    if (typeof e.jobName !== 'string' || e.jobName === '') throw bad(`elements[${i}].jobName: expected a job name, found ${JSON.stringify(e.jobName)}`);
    if (typeof e.script !== 'string') throw bad(`elements[${i}].script: expected the script text, found ${typeof e.script}`);
    if (e.tag !== undefined && !TAG_RE.test(e.tag)) throw new UsageError(`elements[${i}].tag: expected letters, digits and . _ : -, found ${JSON.stringify(e.tag)}`, { code: 'bad-tag' });
  });
  return sorted;
}

/** "0-11" for 12 elements: the index range every scheduler's array directive takes. */
export function packedRange(count: number): string {
  return `0-${count - 1}`;
}

/**
 * Slurm refuses a script above max_script_size (SchedulerParameters, default 4 MiB,
 * slurm.conf(5)); checked at render, so that core can pack fewer elements per array
 * instead of learning it from a failed sbatch.
 */
export function checkScriptSize(script: string, limit: number | undefined, scheduler: string, elements?: number): void {
  if (limit === undefined) return;
  const bytes = Buffer.byteLength(script, 'utf8');
  if (bytes <= limit) return;
  throw new UsageError(`job script: ${bytes} bytes, ${scheduler} takes at most ${limit}${elements !== undefined ? ` (a packed array of ${elements} elements)` : ''}`, {
    code: 'script-too-large',
    hint: elements !== undefined ? 'pack fewer elements into each array job' : 'make the script smaller (read large inputs from files)',
    data: { bytes, limit, ...(elements !== undefined ? { elements } : {}) },
  });
}

/** Slurm's default max_script_size (slurm.conf(5) SchedulerParameters). */
export const SLURM_DEFAULT_MAX_SCRIPT_BYTES = 4 * 1024 * 1024;
