// Sweep identity and the fields sweeps add to manifests and submission records
// (spec/sweeps.md §Sweep id, §Records). Pure.
import { canonicalBytes } from './canonical-json.js';
import { objectId } from './object-id.js';
import { show } from './resources.js';

export const SWEEP_SCHEMA = 'qdo.sweep/v1';

/** Manifest (and record) field `sweep`: which sweep made this version, and its point's place in it. */
export interface SweepRef {
  id: string;
  index: number;
}

/** Record field `array_job`: the packed array job a point went out in. */
export interface ArrayJobRef {
  /** The array's scheduler id; null while its chunk is being submitted. */
  base: string | null;
  /** The element index of this point in the array. */
  index: number;
  /** The chunk number within the sweep run that submitted it (1-based). */
  chunk: number;
  /** The tag the array was submitted with (recovery looks it up: findByTag). */
  tag: string;
}

/** What a sweep is, normalised: the bytes its id is the hash of (§Sweep id). No clock, no paths of the moment. */
export interface SweepDefinition {
  groups: {
    project: string;
    /** The leaf name template. */
    name: string;
    /** `{kind, object}` for resources and files (bytes, not paths), `{kind: 'command', argv}`. */
    template: Record<string, unknown>;
    points: Record<string, string>[];
    /** Resources from the flags, normalised (`1h` and `60m` are the same). */
    resources: Record<string, unknown>;
    env: Record<string, string>;
    prologue: string | null;
    epilogue: string | null;
    after: string[];
    after_groups: string[];
    retry: unknown;
    notify: string | null;
    scheduler: string;
  }[];
}

export function sweepId(def: SweepDefinition): string {
  return objectId(canonicalBytes({ schema: SWEEP_SCHEMA, ...def }));
}

/**
 * The tag one chunk is submitted with: the sweep, the chunk number and the versions in it,
 * so a chunk submitted again after a failure never matches the array an earlier run left.
 * Letters, digits and `.` only (every scheduler's tag syntax takes it).
 */
export function chunkTag(sweep: string, chunk: number, memberIds: string[]): string {
  return `${sweep.slice(0, 16)}.${chunk}.${objectId(Buffer.from(memberIds.join('\n'))).slice(0, 12)}`;
}

export function isSweepRef(v: unknown): v is SweepRef {
  const o = v as SweepRef;
  return typeof o === 'object' && o !== null && typeof o.id === 'string' && /^[0-9a-f]{64}$/.test(o.id) && Number.isSafeInteger(o.index) && o.index >= 0;
}

/** Problems of the optional record fields `sweep` and `array_job` (for submissionProblems). */
export function sweepFieldProblems(o: Record<string, unknown>): string[] {
  const out: string[] = [];
  if ('sweep' in o && !isSweepRef(o.sweep)) out.push(`sweep: expected {"id": <sweep id>, "index": <integer >= 0>}, found ${show(o.sweep)}`);
  if ('array_job' in o) {
    const a = o.array_job as Record<string, unknown> | null;
    const ok =
      typeof a === 'object' &&
      a !== null &&
      (a.base === null || (typeof a.base === 'string' && a.base !== '' && !/\s/.test(a.base))) &&
      Number.isSafeInteger(a.index) &&
      (a.index as number) >= 0 &&
      Number.isSafeInteger(a.chunk) &&
      (a.chunk as number) >= 1 &&
      typeof a.tag === 'string' &&
      a.tag !== '';
    if (!ok) out.push(`array_job: expected {"base": <scheduler id or null>, "index": <integer >= 0>, "chunk": <integer >= 1>, "tag": <text>}, found ${show(o.array_job)}`);
  }
  return out;
}
