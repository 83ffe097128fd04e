// The job manifest, schema qdo.job/v1 (spec/manifest.md). A manifest is stored as a
// canonical-JSON object; its id is the job version's id.
import { RepositoryError } from '../errors.js';
import { canonicalBytes } from './canonical-json.js';
import { isValidLeafName, isValidProjectName } from './names.js';
import { isObjectId, objectId } from './object-id.js';
import { resourceProblems, show, type Resources } from './resources.js';
import { isSchedulerName } from './pool.js';
import { environmentProblems, workdirProblem } from './workspace.js';

export const MANIFEST_SCHEMA = 'qdo.job/v1';

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  project: string;
  name: string;
  /** 1 for the first version, parent's version + 1 after. */
  version: number;
  parent: string | null;
  /** Object id of the rendered job script. */
  script: string;
  resources: Resources;
  /** Scheduler kind that the job is for: slurm, pbs, torque, local, or a plugin name. */
  scheduler: string;
  params: Record<string, string>;
  env: Record<string, string>;
  prologue: string | null;
  epilogue: string | null;
  /** ISO 8601 UTC with milliseconds, e.g. 2026-11-21T09:30:00.000Z. */
  created: string;
  /** Fields added by later format revisions (spec/manifest.md §Extension) are kept as-is. */
  [extra: string]: unknown;
}

const REQUIRED = ['schema', 'project', 'name', 'version', 'parent', 'script', 'resources', 'scheduler', 'params', 'env', 'prologue', 'epilogue', 'created'] as const;
const CREATED_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** All problems with a parsed manifest, each naming its field. */
export function manifestProblems(m: unknown): string[] {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return [`expected a JSON object, found ${show(m)}`];
  const o = m as Record<string, unknown>;
  const out: string[] = [];
  for (const k of REQUIRED) if (!(k in o)) out.push(`${k}: missing`);
  if ('schema' in o && o.schema !== MANIFEST_SCHEMA) out.push(`schema: expected "${MANIFEST_SCHEMA}", found ${show(o.schema)}`);
  if ('project' in o && (typeof o.project !== 'string' || !isValidProjectName(o.project))) out.push(`project: expected a project name, found ${show(o.project)}`);
  if ('name' in o && (typeof o.name !== 'string' || !isValidLeafName(o.name))) out.push(`name: expected a job name, found ${show(o.name)}`);
  if ('version' in o && (typeof o.version !== 'number' || !Number.isSafeInteger(o.version) || o.version < 1)) out.push(`version: expected an integer >= 1, found ${show(o.version)}`);
  if ('parent' in o && o.parent !== null && (typeof o.parent !== 'string' || !isObjectId(o.parent))) out.push(`parent: expected null or an object id, found ${show(o.parent)}`);
  if (o.parent === null && o.version !== undefined && o.version !== 1) out.push(`version: a manifest without parent must be version 1, found ${show(o.version)}`);
  if (typeof o.parent === 'string' && o.version === 1) out.push(`version: a manifest with a parent cannot be version 1`);
  if ('script' in o && (typeof o.script !== 'string' || !isObjectId(o.script))) out.push(`script: expected an object id, found ${show(o.script)}`);
  for (const k of ['prologue', 'epilogue'] as const) {
    if (k in o && o[k] !== null && (typeof o[k] !== 'string' || !isObjectId(o[k] as string))) out.push(`${k}: expected null or an object id, found ${show(o[k])}`);
  }
  if ('scheduler' in o && (typeof o.scheduler !== 'string' || !isSchedulerName(o.scheduler))) out.push(`scheduler: expected a scheduler name like "slurm" or "pool:gpu", found ${show(o.scheduler)}`);
  if ('created' in o && (typeof o.created !== 'string' || !CREATED_RE.test(o.created) || Number.isNaN(Date.parse(o.created)))) {
    out.push(`created: expected a UTC time like "2026-11-21T09:30:00.000Z", found ${show(o.created)}`);
  }
  for (const k of ['params', 'env'] as const) {
    if (!(k in o)) continue;
    const v = o[k];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      out.push(`${k}: expected an object of strings, found ${show(v)}`);
      continue;
    }
    for (const [kk, vv] of Object.entries(v)) {
      if (typeof vv !== 'string') out.push(`${k}.${kk}: expected a string, found ${show(vv)}`);
      if (k === 'env' && !ENV_KEY_RE.test(kk)) out.push(`env.${kk}: not a valid environment variable name`);
      if (k === 'params' && !ENV_KEY_RE.test(kk)) out.push(`params.${kk}: expected a name of letters, digits and "_" (it becomes QDO_PARAM_${kk})`);
    }
  }
  if ('resources' in o) out.push(...resourceProblems(o.resources, 'resources'));
  // Optional fields of §Extension that change how the job runs: checked when present.
  if ('workdir' in o) {
    const p = workdirProblem(o.workdir);
    if (p) out.push(`workdir: ${p}`);
  }
  if ('environment' in o) out.push(...environmentProblems(o.environment, 'environment', { named: true }));
  return out;
}

/** Parses and validates manifest bytes; errors name the source and the field. */
export function parseManifest(bytes: Buffer, source: string): Manifest {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new RepositoryError('bad-manifest', `${source}: not valid JSON (${(e as Error).message})`);
  }
  const problems = manifestProblems(v);
  if (problems.length > 0) {
    throw new RepositoryError('bad-manifest', `${source}: field ${problems[0]}`, {
      data: { problems },
      hint: problems.length > 1 ? `${problems.length - 1} more problem(s): ${problems.slice(1).join('; ')}` : undefined,
    });
  }
  return v as Manifest;
}

/** True if the bytes look like a manifest (used to tell manifests from other objects). */
export function looksLikeManifest(bytes: Buffer): boolean {
  // Cheap test first; then the member must be top-level (spec/objects.md §Kinds).
  if (bytes.length < 20 || bytes[0] !== 0x7b || !bytes.includes(`"schema":"${MANIFEST_SCHEMA}"`)) return false;
  try {
    const v = JSON.parse(bytes.toString('utf8')) as { schema?: unknown };
    return typeof v === 'object' && v !== null && v.schema === MANIFEST_SCHEMA;
  } catch {
    return false;
  }
}

export function encodeManifest(m: Manifest): { bytes: Buffer; id: string } {
  const bytes = canonicalBytes(m);
  return { bytes, id: objectId(bytes) };
}
