// How core asks for a render (spec/templates.md §Limits): the include roots, the bounds of
// the merged config (spec/config.md §Limits) and the context's clock for the time bound.
import type { Context } from '../context.js';
import { limitsOf, type AllocationConfig } from '../model/config.js';
import type { RenderOptions } from '../template/render.js';

export function templateOptions(ctx: Context, cfg: AllocationConfig, searchPaths: string[]): RenderOptions {
  const l = limitsOf(cfg);
  return { searchPaths, limits: { bytes: l.template_bytes, seconds: l.template_seconds, depth: l.template_depth }, clock: () => ctx.now().getTime() };
}
