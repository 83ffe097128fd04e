// A packed chunk's answer (spec/sweeps.md §Answer): what the scheduler said when it took the
// chunk's array job, written once, in one file, instead of into each of its points' records.
// A point's record that still waits for an answer reads as answered by it. Pure.
import { canonicalBytes } from './canonical-json.js';
import { show } from './resources.js';
import { ALL_STATES, TERMINAL_STATES, type JobStateName } from './states.js';
import type { ArrayJobRef } from './sweep.js';
import type { Submission } from './submission.js';

export const CHUNK_ANSWER_SCHEMA = 'qdo.chunk-answer/v1';

export interface ChunkAnswer {
  schema: typeof CHUNK_ANSWER_SCHEMA;
  /** The chunk tag the array was submitted with (the name of its folder). */
  tag: string;
  scheduler: string;
  cluster: string;
  /** The array's scheduler id. */
  base: string;
  /** The scheduler id of each element, by array index. */
  elements: string[];
  /** When the scheduler took it. */
  submitted: string;
  /** The state the elements start in: `held`, or the scheduler's waiting state (`pending`). */
  state: JobStateName;
}

const ID_RE = /^[^\s]+$/;
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The problems of a parsed answer file's value, each naming its field; empty if it is one. */
export function chunkAnswerProblems(v: unknown, tag: string): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`expected an object, found ${show(v)}`];
  const o = v as Record<string, unknown>;
  const out: string[] = [];
  if (o.schema !== CHUNK_ANSWER_SCHEMA) out.push(`schema: expected "${CHUNK_ANSWER_SCHEMA}", found ${show(o.schema)}`);
  if (o.tag !== tag) out.push(`tag: expected "${tag}" (the folder's name), found ${show(o.tag)}`);
  for (const k of ['scheduler', 'cluster'] as const) if (typeof o[k] !== 'string' || o[k] === '') out.push(`${k}: expected text, found ${show(o[k])}`);
  if (typeof o.base !== 'string' || !ID_RE.test(o.base)) out.push(`base: expected a scheduler id, found ${show(o.base)}`);
  if (!Array.isArray(o.elements) || o.elements.length === 0 || !o.elements.every((e) => typeof e === 'string' && ID_RE.test(e))) out.push(`elements: expected a list of scheduler ids, found ${show(o.elements)}`);
  if (typeof o.submitted !== 'string' || !TIME_RE.test(o.submitted)) out.push(`submitted: expected a UTC time, found ${show(o.submitted)}`);
  if (!isWaiting(o.state)) out.push(`state: expected a state a job waits in ("held", "pending"), found ${show(o.state)}`);
  return out;
}

function isWaiting(v: unknown): v is JobStateName {
  return typeof v === 'string' && (ALL_STATES as readonly string[]).includes(v) && !TERMINAL_STATES.has(v) && v !== 'submitting' && v !== 'not-submitted' && v !== 'running' && v !== 'unknown';
}

export function encodeChunkAnswer(a: ChunkAnswer): Buffer {
  return canonicalBytes(a);
}

/**
 * The record as the chunk's answer makes it, or null if the answer does not apply: only a
 * record of that chunk still without a scheduler id, waiting (`submitting`) or guessed
 * `not-submitted` by a refresh that could not find the array meanwhile. The answer is proof
 * that the scheduler took every point of the chunk, so it replaces such a guess, as the
 * submitter's own answer does (submissions.md §Writes).
 */
export function answeredByChunk(s: Submission, a: ChunkAnswer): Submission | null {
  if (waitsOnChunk(s) !== a.tag || s.scheduler !== a.scheduler || s.cluster !== a.cluster) return null;
  const aj = s.array_job as ArrayJobRef;
  const id = a.elements[aj.index];
  if (id === undefined) return null;
  return { ...s, sched_id: id, submitted: a.submitted, state: a.state, state_source: 'qdo', state_time: a.submitted, reason: null, array_job: { ...aj, base: a.base } } as Submission;
}

/** Whether a record waits on a chunk's answer: a packed point with no scheduler id yet. */
export function waitsOnChunk(s: Submission): string | null {
  if (s.sched_id !== null || (s.state !== 'submitting' && s.state !== 'not-submitted')) return null;
  const aj = s.array_job as ArrayJobRef | undefined;
  return aj !== undefined && aj.base === null ? aj.tag : null;
}
