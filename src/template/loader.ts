// Where {% include %}, {% import %} and {% extends %} find templates: only inside the
// allowed roots (the project's resources folder; later more, in search order),
// spec/templates.md §Includes.
//
// Confinement is checked on the file as opened, not on its name: the name is resolved
// against each root by whole path segments (nunjucks' own FileSystemLoader compares string
// prefixes, so a root "/p/res" would admit "../res-old/x"), the file is opened (not
// following a FIFO into a hang), and the real path of what was opened — every symlink
// resolved, read back from the open descriptor — must lie inside the real path of a root.
// So a symlink in resources/ to /etc/passwd is refused, and swapping a symlink between the
// check and the read changes nothing. It never caches (every render reads the files as
// they are now).
import { closeSync, constants, fstatSync, openSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import type { NjLoader } from './nunjucks.js';

export type Located = { kind: 'found'; path: string } | { kind: 'missing' } | { kind: 'outside'; real?: string } | { kind: 'too-large'; path: string; size: number };

function inside(base: string, p: string): boolean {
  return p === base || p.startsWith(base.endsWith(sep) ? base : base + sep);
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** The real path of an open file: Linux names it in /proc; elsewhere realpath, checked to be the same file. */
function realPathOfFd(fd: number, path: string): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    try {
      const real = realpathSync(path);
      const a = fstatSync(fd);
      const b = statSync(real);
      return a.dev === b.dev && a.ino === b.ino ? real : null;
    } catch {
      return null;
    }
  }
}

export class ContainedLoader implements NjLoader {
  /** The roots as given (absolute), for resolving names and for messages. */
  readonly bases: string[];
  /** The same roots with symlinks resolved, for the containment check. */
  private readonly realBases: string[];

  constructor(
    roots: readonly string[],
    private readonly maxBytes = Number.MAX_SAFE_INTEGER,
  ) {
    this.bases = roots.map((p) => resolve(p));
    this.realBases = this.bases.map(realOrSelf);
  }

  /** Where a (possibly already resolved) template name lives, if anywhere allowed. Opens nothing. */
  locate(name: string): Located {
    const r = this.open(name);
    if (r.kind === 'found') {
      closeSync(r.fd);
      return { kind: 'found', path: r.path };
    }
    return r;
  }

  private open(name: string): { kind: 'found'; path: string; fd: number } | Exclude<Located, { kind: 'found' }> {
    let within = false;
    for (const base of this.bases) {
      const p = resolve(base, name);
      if (!inside(base, p)) continue;
      within = true;
      let fd: number;
      try {
        fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch {
        continue; // missing here (or unreadable): the next root may have it
      }
      const st = fstatSync(fd);
      const real = realPathOfFd(fd, p);
      if (!st.isFile() || real === null || !this.realBases.some((b) => inside(b, real))) {
        closeSync(fd);
        if (!st.isFile()) continue;
        return { kind: 'outside', real: real ?? undefined };
      }
      if (st.size > this.maxBytes) {
        closeSync(fd);
        return { kind: 'too-large', path: p, size: st.size };
      }
      return { kind: 'found', path: p, fd };
    }
    return within ? { kind: 'missing' } : { kind: 'outside' };
  }

  /** The bytes of a file under the same rules as an include (core reads a `--script` resource so). */
  readBytes(name: string): { kind: 'found'; path: string; bytes: Buffer } | Exclude<Located, { kind: 'found' }> {
    const at = this.open(name);
    if (at.kind !== 'found') return at;
    try {
      return { kind: 'found', path: at.path, bytes: readFileSync(at.fd) };
    } finally {
      closeSync(at.fd);
    }
  }

  getSource(name: string): { src: string; path: string; noCache: boolean } | null {
    const at = this.open(name);
    if (at.kind !== 'found') return null;
    try {
      return { src: readFileSync(at.fd, 'utf8'), path: at.path, noCache: true };
    } finally {
      closeSync(at.fd);
    }
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
