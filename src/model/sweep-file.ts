// Sweep files (spec/sweeps.md §File format): the document a YAML or JSON file parses to,
// checked and turned into job groups. Pure: the caller parses the text (core/sweep-file.ts)
// and passes the value; every error names the file and the path in the document
// (`sweep.yaml: jobs[1].grid.lr: expected a list`), exit 2.
import { UsageError } from '../errors.js';
import { RESOURCE_FLAGS } from './resource-units.js';
import { show } from './resources.js';
import { schedArgsProblems } from './workspace.js';
import { PARAM_KEY_RE, type ParamList } from './sweep-points.js';

/** One `jobs:` entry with the defaults applied. */
export interface SweepGroupDef {
  /** Where it is in the document, e.g. "jobs[1]". */
  field: string;
  /** What `after:` entries name: `id`, else the name template. */
  id: string;
  /** PROJECT/NAME-TEMPLATE. */
  name: string;
  script?: string;
  command?: string[];
  /** Resource flags as written (`time: 1h`), keys without dashes. */
  resources: Record<string, string>;
  set: Record<string, string>;
  env: Record<string, string>;
  grids: ParamList[];
  zips: ParamList[];
  points?: { params: Record<string, string>; field: string }[];
  /** Indexes of earlier groups this one waits on. */
  afterGroups: number[];
  /** Other `after:` entries: job revisions outside the file. */
  afterRevs: string[];
  prologue?: string;
  epilogue?: string;
  retryOn?: string;
  notify?: string;
  workdir?: string;
  envName?: string;
  /** Raw scheduler arguments: a list, or scheduler → list (spec/sweeps.md §Sweep files). */
  schedArgs?: string[] | Record<string, string[]>;
}

export interface SweepFileDef {
  scheduler?: string;
  groups: SweepGroupDef[];
}

const TOP_KEYS = ['scheduler', 'defaults', 'jobs'];
const SHARED_KEYS = ['script', 'command', 'resources', 'set', 'env', 'after', 'prologue', 'epilogue', 'retry_on', 'notify', 'workdir', 'env_name', 'sched_args'];
const GROUP_KEYS = ['id', 'name', 'grid', 'zip', 'points', ...SHARED_KEYS];

type Obj = Record<string, unknown>;

class At {
  constructor(
    readonly file: string,
    readonly path: string,
  ) {}
  key(k: string): At {
    return new At(this.file, this.path === '' ? k : `${this.path}.${k}`);
  }
  index(i: number): At {
    return new At(this.file, `${this.path}[${i}]`);
  }
  fail(what: string, hint?: string): UsageError {
    return new UsageError(`${this.file}: ${this.path === '' ? '' : `${this.path}: `}${what}`, { code: 'bad-sweep-file', ...(hint ? { hint } : {}) });
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, at: At, keys: string[]): Obj {
  if (!isObj(v)) throw at.fail(`expected a mapping, found ${show(v)}`);
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) throw at.key(k).fail(`unknown key (expected one of ${keys.join(', ')})`);
  }
  return v;
}

/** A scalar as text: YAML values arrive as written, JSON numbers and booleans as JSON writes them. */
function scalar(v: unknown, at: At): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw at.fail(`expected a value (text or number), found ${show(v)}`);
}

function text(v: unknown, at: At): string {
  const s = scalar(v, at);
  if (s === '') throw at.fail('expected a non-empty value');
  return s;
}

function list(v: unknown, at: At): unknown[] {
  if (!Array.isArray(v)) throw at.fail(`expected a list, found ${show(v)}`);
  return v;
}

function strMap(v: unknown, at: At, keyCheck: (k: string, at: At) => void): Record<string, string> {
  if (!isObj(v)) throw at.fail(`expected a mapping, found ${show(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    keyCheck(k, at.key(k));
    out[k] = scalar(x, at.key(k));
  }
  return out;
}

const paramKey = (k: string, at: At) => {
  if (!PARAM_KEY_RE.test(k)) throw at.fail(`"${k}" is not a valid name (letters, digits, "_"; not starting with a digit)`);
};
const envKey = paramKey;
const resourceKey = (k: string, at: At) => {
  if (!(RESOURCE_FLAGS as readonly string[]).includes(k)) throw at.fail(`unknown resource (expected one of ${RESOURCE_FLAGS.join(', ')})`);
};

function paramLists(v: unknown, at: At): ParamList[] {
  if (!isObj(v)) throw at.fail(`expected a mapping of parameter to list of values, found ${show(v)}`);
  return Object.entries(v).map(([k, x]) => {
    paramKey(k, at.key(k));
    const values = list(x, at.key(k)).map((y, i) => scalar(y, at.key(k).index(i)));
    if (values.length === 0) throw at.key(k).fail('expected at least one value');
    return { key: k, values, field: `${at.file}: ${at.key(k).path}` };
  });
}

interface Shared {
  script?: string;
  command?: string[];
  resources: Record<string, string>;
  set: Record<string, string>;
  env: Record<string, string>;
  after: { entry: string; at: At }[];
  prologue?: string;
  epilogue?: string;
  retryOn?: string;
  notify?: string;
  workdir?: string;
  envName?: string;
  schedArgs?: string[] | Record<string, string[]>;
}

function shared(o: Obj, at: At): Shared {
  const out: Shared = { resources: {}, set: {}, env: {}, after: [] };
  if (o.script !== undefined) out.script = text(o.script, at.key('script'));
  if (o.command !== undefined) {
    const words = list(o.command, at.key('command')).map((w, i) => scalar(w, at.key('command').index(i)));
    if (words.length === 0) throw at.key('command').fail('expected at least one word');
    out.command = words;
  }
  if (out.script !== undefined && out.command !== undefined) throw at.fail('give script or command, not both');
  if (o.resources !== undefined) out.resources = strMap(o.resources, at.key('resources'), resourceKey);
  if (o.set !== undefined) out.set = strMap(o.set, at.key('set'), paramKey);
  if (o.env !== undefined) out.env = strMap(o.env, at.key('env'), envKey);
  if (o.after !== undefined) out.after = list(o.after, at.key('after')).map((x, i) => ({ entry: text(x, at.key('after').index(i)), at: at.key('after').index(i) }));
  for (const [k, f] of [
    ['prologue', 'prologue'],
    ['epilogue', 'epilogue'],
    ['retry_on', 'retryOn'],
    ['notify', 'notify'],
    ['workdir', 'workdir'],
    ['env_name', 'envName'],
  ] as const) {
    if (o[k] !== undefined) out[f] = text(o[k], at.key(k));
  }
  if (o.sched_args !== undefined) {
    const problems = schedArgsProblems(o.sched_args, 'sched_args');
    if (problems.length) throw at.fail(problems[0]!);
    out.schedArgs = o.sched_args as string[] | Record<string, string[]>;
  }
  return out;
}

/** Checks a parsed sweep document and applies its defaults to each group. */
export function parseSweepDocument(doc: unknown, file: string): SweepFileDef {
  const root = new At(file, '');
  const top = obj(doc, root, TOP_KEYS);
  const def = top.defaults === undefined ? shared({}, root.key('defaults')) : shared(obj(top.defaults, root.key('defaults'), SHARED_KEYS), root.key('defaults'));
  if (top.jobs === undefined) throw root.fail('no "jobs:" list', 'a sweep file lists its job groups under jobs:, each with a name and a grid, zip or points');
  const jobs = list(top.jobs, root.key('jobs'));
  if (jobs.length === 0) throw root.key('jobs').fail('expected at least one job group');
  const groups: SweepGroupDef[] = [];
  const ids = new Map<string, number>();
  jobs.forEach((j, i) => {
    const at = root.key('jobs').index(i);
    const o = obj(j, at, GROUP_KEYS);
    if (o.name === undefined) throw at.fail('no "name" (PROJECT/NAME-TEMPLATE, e.g. paper/train-lr{{lr}})');
    const name = text(o.name, at.key('name'));
    const id = o.id === undefined ? name : text(o.id, at.key('id'));
    if (ids.has(id)) throw at.key(o.id === undefined ? 'name' : 'id').fail(`"${id}" is also the id of jobs[${ids.get(id)}]; give each group its own id`);
    ids.set(id, i);
    const own = shared(o, at);
    const g: SweepGroupDef = {
      field: at.path,
      id,
      name,
      resources: { ...def.resources, ...own.resources },
      set: { ...def.set, ...own.set },
      env: { ...def.env, ...own.env },
      grids: o.grid === undefined ? [] : paramLists(o.grid, at.key('grid')),
      zips: o.zip === undefined ? [] : paramLists(o.zip, at.key('zip')),
      afterGroups: [],
      afterRevs: [],
    };
    // A group's own script or command replaces the default one, whichever kind it is.
    if (own.script !== undefined || own.command !== undefined) Object.assign(g, own.script !== undefined ? { script: own.script } : { command: own.command });
    else if (def.script !== undefined) g.script = def.script;
    else if (def.command !== undefined) g.command = def.command;
    if (g.script === undefined && g.command === undefined) throw at.fail('no script or command (here or in defaults)');
    for (const k of ['prologue', 'epilogue', 'retryOn', 'notify', 'workdir', 'envName'] as const) {
      const v = own[k] ?? def[k];
      if (v !== undefined) g[k] = v;
    }
    const schedArgs = own.schedArgs ?? def.schedArgs;
    if (schedArgs !== undefined) g.schedArgs = schedArgs;
    if (o.points !== undefined) {
      g.points = list(o.points, at.key('points')).map((p, pi) => ({ params: strMap(p, at.key('points').index(pi), paramKey), field: `${file}: ${at.key('points').index(pi).path}` }));
      if (g.points.length === 0) throw at.key('points').fail('expected at least one point');
    }
    for (const a of [...def.after, ...own.after]) {
      const target = ids.get(a.entry);
      if (target === i) throw a.at.fail(`a group cannot wait on itself`);
      if (target !== undefined) {
        if (!g.afterGroups.includes(target)) g.afterGroups.push(target);
      } else if (jobs.some((x, k) => k > i && isObj(x) && (x.id === a.entry || (x.id === undefined && x.name === a.entry)))) {
        throw a.at.fail(`"${a.entry}" is a group listed after this one; list the groups a group waits on before it`);
      } else g.afterRevs.push(a.entry);
    }
    groups.push(g);
  });
  return { ...(top.scheduler !== undefined ? { scheduler: text(top.scheduler, root.key('scheduler')) } : {}), groups };
}

/** Deepest nesting a sweep document may have; a real one is about 5 deep. */
export const MAX_DOCUMENT_DEPTH = 64;

/**
 * Why a parsed document cannot be a sweep file whatever its keys, or null: nested deeper
 * than MAX_DOCUMENT_DEPTH (JSON.parse takes `[[[[…]]]]` a million deep; messages quoting
 * such a value would overflow the stack) or containing itself. Iterative: no recursion.
 */
export function documentShapeProblem(doc: unknown): string | null {
  const stack: { v: unknown; depth: number; path: unknown[] }[] = [{ v: doc, depth: 0, path: [] }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_DOCUMENT_DEPTH) return `nested deeper than ${MAX_DOCUMENT_DEPTH} levels`;
    if (path.includes(v)) return 'a value contains itself';
    const next = [...path, v];
    for (const c of Array.isArray(v) ? v : Object.values(v)) if (typeof c === 'object' && c !== null) stack.push({ v: c, depth: depth + 1, path: next });
  }
  return null;
}
