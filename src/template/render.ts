// qdo's template layer, the public face (spec/templates.md): job scripts and one-line
// commands are nunjucks templates rendered strictly, with includes from the project's
// resources folder. Nothing else in qdo touches nunjucks; it is loaded on first use.
import { UsageError } from '../errors.js';
import { runTemplate, type RenderOptions, type TemplateSource } from './engine.js';
import { ContainedLoader } from './loader.js';

export type { RenderOptions, TemplateSource } from './engine.js';
export { renderNameTemplate } from './name-template.js';

/** Renders with strict undefined handling. vars is the whole context (core passes params at top level plus params, resources, job, project, allocation objects). */
export async function renderTemplate(src: TemplateSource, vars: Record<string, unknown>, opts?: RenderOptions): Promise<string> {
  return runTemplate(src, vars, opts);
}

/** Checks syntax only (no render), same error shape. Included templates are not read. */
export async function checkTemplate(src: TemplateSource, opts?: RenderOptions): Promise<void> {
  await runTemplate(src, undefined, opts);
}

/**
 * A template named as a resource (`--script train.sh`), read under the rules of includes
 * (spec/templates.md §Includes): the file's real path must lie inside one of `roots`, so a
 * resource that is a symlink to ~/.ssh/id_rsa is refused rather than stored and submitted.
 * Null when no root has it (the caller may then look for a file of that name).
 */
export function readResource(roots: string[], name: string, field: string): { path: string; bytes: Buffer } | null {
  const loader = new ContainedLoader(roots);
  const r = loader.readBytes(name);
  if (r.kind === 'found') return { path: r.path, bytes: r.bytes };
  if (r.kind === 'outside' && r.real !== undefined) {
    throw new UsageError(`${field} ${name}: the resource leads outside ${loader.bases.join(', ')} (to ${r.real})`, {
      code: 'template-forbidden',
      hint: 'a resource is read only if it is inside the resources folder, symlinks resolved (spec/templates.md §Includes)',
    });
  }
  return null;
}
