// The other points of a sweep group, derived from its first one (spec/sweeps.md §Each
// point is a job). The first point goes through prepareSubmit, which resolves and checks
// everything (project, scheduler, resources and their defaults, template, prologue,
// epilogue, backend, cluster); the points of a group differ only in name, parameters and
// parent, so each of the others only renders the template again, in memory. A thousand
// points then cost a thousand renders, not a thousand rounds of reading configuration,
// allocations and refs. test/core/sweep-prepare.test.ts checks that a derived point is
// byte for byte what prepareSubmit makes.
import type { Context } from '../context.js';
import { encodeManifest, type Manifest } from '../model/manifest.js';
import { objectId } from '../model/object-id.js';
import { readObject } from '../store/objects.js';
import type { RenderSpec } from '../scheduler/types.js';
import { runDirOf } from './runs.js';
import { jobEnv } from './sched.js';
import type { EnvironmentField } from '../model/workspace.js';
import { renderCommand, resourceDirs, templateVars, type Prepared, type TemplateSource } from './submit.js';
import { templateOptions } from './template-options.js';

export interface Sibling {
  name: string;
  params: Record<string, string>;
  /** The name's latest version now (null for a new name). */
  parent: { id: string; manifest: Manifest } | null;
  /** Top-level manifest fields that differ per point (`sweep`). */
  fields: Record<string, unknown>;
}

/** What prepareSubmit would return for `s` with the same request otherwise, writing nothing. */
export async function prepareSibling(ctx: Context, first: Prepared, s: Sibling): Promise<Prepared> {
  const l = first.loc.layout;
  const m0 = first.manifest;
  const version = s.parent ? s.parent.manifest.version + 1 : 1;
  const vars = templateVars(s.params, m0.resources, { name: s.name, version, project: m0.project }, first.spec.submitDir, l.root, first.choice.kind);
  const { renderTemplate } = await import('../template/render.js');
  const renderOpts = templateOptions(ctx, first.choice.config, await resourceDirs(first.loc, first.allocs));
  const src = m0.template as TemplateSource;
  let body: string;
  if (src.kind === 'command') {
    body = await renderCommand(src.argv, '', vars, renderOpts);
  } else {
    const bytes = first.objects.get(src.object) ?? (await readObject(l, src.object));
    const label = src.kind === 'resource' ? `resources/${src.name}` : src.path;
    body = await renderTemplate({ text: bytes.toString('utf8'), name: label }, vars, renderOpts);
  }
  const scriptBytes = Buffer.from(body, 'utf8');
  const scriptId = objectId(scriptBytes);
  // Prologue and epilogue templates render per point too (spec/templates.md §Prologue and epilogue).
  const hooks: { prologue?: string; epilogue?: string } = {};
  const hookIds: { prologue?: string; epilogue?: string } = {};
  const hookBytes = new Map<string, Buffer>();
  for (const field of ['prologue', 'epilogue'] as const) {
    const hs = m0[`${field}_template`] as TemplateSource | undefined;
    if (hs === undefined || hs.kind === 'command') continue;
    const bytes = first.objects.get(hs.object) ?? (await readObject(l, hs.object));
    const text = await renderTemplate({ text: bytes.toString('utf8'), name: `${field} ${hs.kind === 'file' ? hs.path : hs.name}` }, vars, renderOpts);
    const b = Buffer.from(text, 'utf8');
    hooks[field] = text;
    hookIds[field] = objectId(b);
    hookBytes.set(hookIds[field]!, b);
  }
  const manifest: Manifest = {
    ...m0,
    name: s.name,
    version,
    parent: s.parent?.id ?? null,
    script: scriptId,
    params: s.params,
    created: ctx.now().toISOString(),
    ...hookIds,
    ...s.fields,
  };
  const { id } = encodeManifest(manifest);
  const spec: RenderSpec = {
    ...first.spec,
    jobName: s.name,
    script: body,
    runDir: runDirOf(l, manifest, id),
    env: jobEnv(s.params, { ...((m0.environment as EnvironmentField | undefined)?.env ?? {}), ...m0.env }),
    tag: id,
    ...(hooks.prologue !== undefined ? { prologue: hooks.prologue } : {}),
    ...(hooks.epilogue !== undefined ? { epilogue: hooks.epilogue } : {}),
  };
  // Shared with the first point: the template, prologue and epilogue objects; own: the script.
  const shared = new Set([src.kind === 'command' ? '' : src.object, m0.prologue ?? '', m0.epilogue ?? '']);
  for (const field of ['prologue', 'epilogue'] as const) {
    const hs = m0[`${field}_template`] as TemplateSource | undefined;
    if (hs !== undefined && hs.kind !== 'command') shared.add(hs.object);
  }
  const objects = new Map([...first.objects].filter(([oid]) => shared.has(oid)));
  objects.set(scriptId, scriptBytes);
  for (const [oid, b] of hookBytes) objects.set(oid, b);
  return { ...first, manifest, id, parent: s.parent?.manifest ?? null, spec, script: first.backend.render(spec), deps: [...first.deps], objects };
}
