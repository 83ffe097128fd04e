// What differs between two job versions, field by field (spec/porcelain.md §qdo diff and
// §qdo log). Pure: compares manifests as stored; the script texts are diffed by the caller,
// which can read objects. Fields that only say where a version sits in its history
// (version, parent, created) are not differences.
import { canonicalize } from '../model/canonical-json.js';
import type { Manifest } from '../model/manifest.js';
import { formatHms, formatMemory } from '../model/resource-units.js';
import type { Resources } from '../model/resources.js';
import { LEGACY_WORKDIR, type EnvironmentField } from '../model/workspace.js';

/** Keys added, removed and changed between two maps. */
export interface KeyedDelta<V> {
  added: Record<string, V>;
  removed: Record<string, V>;
  changed: Record<string, { a: V; b: V }>;
}

/** Before and after of one field; null in ManifestDelta when equal. */
export interface Pair<V> {
  a: V;
  b: V;
}

export interface ManifestDelta {
  scheduler: Pair<string> | null;
  resources: KeyedDelta<unknown>;
  params: KeyedDelta<string>;
  env: KeyedDelta<string>;
  /** Object ids of the rendered scripts. */
  script: Pair<string> | null;
  prologue: Pair<string | null> | null;
  epilogue: Pair<string | null> | null;
  template: Pair<unknown> | null;
  /** Dependencies as manifest ids (`after`) and as typed (`after_revs`). */
  after: Pair<{ ids: string[]; revs: string[] }> | null;
  retry: Pair<unknown> | null;
  notify: Pair<string | null> | null;
  /** The working folder; a manifest without the field ran in its project folder (`project`). */
  workdir: Pair<string> | null;
  /** The named environment as recorded (name and definition), or null. */
  environment: Pair<unknown> | null;
}

/** The delta's field names in the order they are shown. */
export const DELTA_FIELDS = ['scheduler', 'resources', 'params', 'env', 'script', 'prologue', 'epilogue', 'template', 'after', 'retry', 'notify', 'workdir', 'environment'] as const;

const same = (x: unknown, y: unknown): boolean => canonicalize(x ?? null) === canonicalize(y ?? null);

function keyed<V>(a: Record<string, V>, b: Record<string, V>): KeyedDelta<V> {
  const d: KeyedDelta<V> = { added: {}, removed: {}, changed: {} };
  for (const k of Object.keys(a).sort()) {
    if (!(k in b)) d.removed[k] = a[k]!;
    else if (!same(a[k], b[k])) d.changed[k] = { a: a[k]!, b: b[k]! };
  }
  for (const k of Object.keys(b).sort()) if (!(k in a)) d.added[k] = b[k]!;
  return d;
}

function pair<V>(a: V, b: V): Pair<V> | null {
  return same(a, b) ? null : { a, b };
}

function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function optString(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function compareManifests(a: Manifest, b: Manifest): ManifestDelta {
  return {
    scheduler: pair(a.scheduler, b.scheduler),
    resources: keyed(a.resources as Record<string, unknown>, b.resources as Record<string, unknown>),
    params: keyed(a.params, b.params),
    env: keyed(a.env, b.env),
    script: pair(a.script, b.script),
    prologue: pair(a.prologue, b.prologue),
    epilogue: pair(a.epilogue, b.epilogue),
    template: pair(a.template ?? null, b.template ?? null),
    // Compared by manifest id: the same revs typed again may name other versions now.
    after: same(a.after ?? [], b.after ?? []) ? null : { a: { ids: strs(a.after), revs: strs(a.after_revs) }, b: { ids: strs(b.after), revs: strs(b.after_revs) } },
    retry: pair(a.retry ?? null, b.retry ?? null),
    notify: pair(optString(a.notify), optString(b.notify)),
    workdir: pair(workdirOf(a), workdirOf(b)),
    environment: pair(a.environment ?? null, b.environment ?? null),
  };
}

function workdirOf(m: Manifest): string {
  return typeof m.workdir === 'string' ? m.workdir : LEGACY_WORKDIR;
}

/** An environment in a few words: `gpu (modules gcc/12,cuda; venv /x; container img.sif)`, or `none`. */
export function environmentText(e: unknown): string {
  if (e === null || typeof e !== 'object') return 'none';
  const o = e as EnvironmentField;
  const parts: string[] = [];
  if (o.modules?.length) parts.push(`modules ${o.modules.join(',')}`);
  if (o.venv !== undefined) parts.push(`venv ${o.venv}`);
  if (o.conda !== undefined) parts.push(`conda ${o.conda}`);
  if (o.env && Object.keys(o.env).length) parts.push(`env ${Object.keys(o.env).sort().map((k) => `${k}=${quoteValue(o.env![k]!)}`).join(',')}`);
  if (o.container !== undefined) parts.push(`container ${o.container.image}`);
  return `${o.name}${parts.length ? ` (${parts.join('; ')})` : ''}`;
}

function keyedEmpty(d: KeyedDelta<unknown>): boolean {
  return Object.keys(d.added).length + Object.keys(d.removed).length + Object.keys(d.changed).length === 0;
}

/** Names of the fields that differ, in DELTA_FIELDS order. */
export function changedFields(d: ManifestDelta): string[] {
  return DELTA_FIELDS.filter((f) => {
    const v = d[f];
    if (f === 'resources' || f === 'params' || f === 'env') return !keyedEmpty(v as KeyedDelta<unknown>);
    return v !== null;
  });
}

/** A value as a word: bare if it is one, else JSON-quoted (so spaces and empties show). */
export function quoteValue(v: string): string {
  return /^[A-Za-z0-9_.,:/@%+=-]+$/.test(v) ? v : JSON.stringify(v);
}

/** A resource value in the units users type (`02:00:00`, `4G`). */
export function resourceText(key: string, v: unknown): string {
  if (v === undefined || v === null) return 'unset';
  if (key === 'time' && typeof v === 'number') return formatHms(v);
  if ((key === 'mem' || key === 'mem_per_cpu') && typeof v === 'number') return formatMemory(v);
  if (key === 'mail' && typeof v === 'object') {
    const m = v as NonNullable<Resources['mail']>;
    return [m.user !== undefined ? `user=${m.user}` : null, m.events ? `events=${m.events.join(',')}` : null].filter((x) => x !== null).join(' ') || 'none';
  }
  if (typeof v === 'string') return quoteValue(v);
  if (typeof v === 'number') return String(v);
  return canonicalize(v);
}

/** A template source in a few words: `resource run.sh`, `file /x/run.sh`, `command echo hi`. */
export function templateText(t: unknown): string {
  if (t === null || typeof t !== 'object') return 'none (a manifest made without qdo submit)';
  const o = t as { kind?: unknown; name?: unknown; path?: unknown; argv?: unknown };
  if (o.kind === 'resource') return `resource ${String(o.name)}`;
  if (o.kind === 'file') return `file ${String(o.path)}`;
  if (o.kind === 'command') return `command ${strs(o.argv).map(quoteValue).join(' ')}`;
  return canonicalize(t);
}

export function retryText(r: unknown): string {
  if (r === null || typeof r !== 'object') return 'none';
  const o = r as { on?: unknown; max?: unknown };
  return `${strs(o.on).join(',')}:${String(o.max)}`;
}

export function afterText(x: { ids: string[]; revs: string[] }): string {
  if (x.ids.length === 0) return 'none';
  return x.revs.length === x.ids.length ? x.revs.join(',') : x.ids.map((i) => i.slice(0, 8)).join(',');
}

/** `environment gpu → cpu`, or `environment gpu edited (…)` when only its definition changed. */
export function environmentChange(p: Pair<unknown>): string {
  const name = (e: unknown) => (e !== null && typeof e === 'object' ? (e as EnvironmentField).name : null);
  if (name(p.a) !== null && name(p.a) === name(p.b)) return `environment ${name(p.a)} edited: ${environmentText(p.a)} → ${environmentText(p.b)}`;
  return `environment ${environmentText(p.a)} → ${environmentText(p.b)}`;
}

function keyedParts<V>(d: KeyedDelta<V>, show: (k: string, v: V) => string): string[] {
  return [
    ...Object.entries(d.changed).map(([k, v]) => `${k}=${show(k, v.a)} → ${show(k, v.b)}`),
    ...Object.entries(d.added).map(([k, v]) => `+${k}=${show(k, v)}`),
    ...Object.entries(d.removed).map(([k]) => `-${k}`),
  ];
}

function objectChange(what: string, p: Pair<string | null>): string {
  if (p.a === null) return `${what} added`;
  if (p.b === null) return `${what} removed`;
  return `${what} changed`;
}

/**
 * One line per delta, as `qdo log` shows it: `time 01:00:00 → 02:00:00; params lr=0.1 → 0.2;
 * script changed`. Empty when nothing differs.
 */
export function deltaSummary(d: ManifestDelta): string[] {
  const out: string[] = [];
  if (d.scheduler) out.push(`scheduler ${d.scheduler.a} → ${d.scheduler.b}`);
  const r = d.resources;
  for (const k of Object.keys(r.changed)) out.push(`${k} ${resourceText(k, r.changed[k]!.a)} → ${resourceText(k, r.changed[k]!.b)}`);
  for (const k of Object.keys(r.added)) out.push(`${k} unset → ${resourceText(k, r.added[k])}`);
  for (const k of Object.keys(r.removed)) out.push(`${k} ${resourceText(k, r.removed[k])} → unset`);
  const params = keyedParts(d.params, (_k, v) => quoteValue(v));
  if (params.length) out.push(`params ${params.join(', ')}`);
  const env = keyedParts(d.env, (_k, v) => quoteValue(v));
  if (env.length) out.push(`env ${env.join(', ')}`);
  if (d.script) out.push('script changed');
  if (d.prologue) out.push(objectChange('prologue', d.prologue));
  if (d.epilogue) out.push(objectChange('epilogue', d.epilogue));
  if (d.template) {
    const a = templateText(d.template.a);
    const b = templateText(d.template.b);
    out.push(a === b ? `template ${a} edited` : `template ${a} → ${b}`);
  }
  if (d.after) out.push(`after ${afterText(d.after.a)} → ${afterText(d.after.b)}`);
  if (d.retry) out.push(`retry ${retryText(d.retry.a)} → ${retryText(d.retry.b)}`);
  if (d.notify) out.push(`notify ${d.notify.a === null ? 'none' : quoteValue(d.notify.a)} → ${d.notify.b === null ? 'none' : quoteValue(d.notify.b)}`);
  if (d.workdir) out.push(`workdir ${quoteValue(d.workdir.a)} → ${quoteValue(d.workdir.b)}`);
  if (d.environment) out.push(environmentChange(d.environment));
  return out;
}
