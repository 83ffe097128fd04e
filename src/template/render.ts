// qdo's template layer, the public face (spec/templates.md): job scripts and one-line
// commands are nunjucks templates rendered strictly, with includes from the project's
// resources folder. Nothing else in qdo touches nunjucks; it is loaded on first use.
import { runTemplate, type RenderOptions, type TemplateSource } from './engine.js';

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
