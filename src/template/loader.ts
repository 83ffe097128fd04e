// Where {% include %}, {% import %} and {% extends %} find templates: only inside the
// search paths (the project's resources folder), spec/templates.md §Includes.
//
// nunjucks' own FileSystemLoader checks containment with a string prefix, so a search path
// "/p/res" would admit "../res-old/x" (→ "/p/res-old/x"); this loader compares whole path
// segments instead. It never caches (every render reads the files as they are now).
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import type { NjLoader } from './nunjucks.js';

export type Located = { kind: 'found'; path: string } | { kind: 'missing' } | { kind: 'outside' };

function inside(base: string, p: string): boolean {
  return p.startsWith(base.endsWith(sep) ? base : base + sep);
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export class ContainedLoader implements NjLoader {
  readonly bases: string[];

  constructor(searchPaths: readonly string[]) {
    this.bases = searchPaths.map((p) => resolve(p));
  }

  /** Where a (possibly already resolved) template name lives, if anywhere allowed. */
  locate(name: string): Located {
    let within = false;
    for (const base of this.bases) {
      const p = resolve(base, name);
      if (!inside(base, p)) continue;
      within = true;
      if (isFile(p)) return { kind: 'found', path: p };
    }
    return within ? { kind: 'missing' } : { kind: 'outside' };
  }

  getSource(name: string): { src: string; path: string; noCache: boolean } | null {
    const at = this.locate(name);
    if (at.kind !== 'found') return null;
    return { src: readFileSync(at.path, 'utf8'), path: at.path, noCache: true };
  }

  isRelative(name: string): boolean {
    return name.startsWith('./') || name.startsWith('../');
  }

  /**
   * "./x" inside an included file means next to that file. The top-level template has a
   * display name, not a path (it may not even be a file), so its relative names are
   * resolved against the search paths, like plain names.
   */
  resolve(from: string, to: string): string {
    return isAbsolute(from) && this.bases.some((b) => inside(b, from)) ? resolve(dirname(from), to) : to;
  }
}
