// Reading a sweep file (spec/sweeps.md §File format): JSON if it ends in .json, else YAML
// (the `yaml` package, loaded only here). YAML values are kept as written (`0.10` stays
// "0.10", not the number 0.1), since they become parameters and job names; the document is
// then checked by model/sweep-file.ts, whose errors name the file and the path in it.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Context } from '../context.js';
import { NotFoundError, UsageError, errnoCode } from '../errors.js';
import { documentShapeProblem, parseSweepDocument, type SweepFileDef } from '../model/sweep-file.js';
import type { SweepGroupRequest } from './sweep.js';

export interface SweepFile {
  path: string;
  def: SweepFileDef;
  groups: SweepGroupRequest[];
}

/** Bounds of a sweep file (spec/sweeps.md §File format): its size, and YAML's aliases. */
export const MAX_SWEEP_FILE_BYTES = 16 * 1024 * 1024;
export const MAX_YAML_ALIASES = 100;

export async function readSweepFile(ctx: Context, file: string): Promise<SweepFile> {
  const path = resolve(ctx.cwd, file);
  let text: string;
  try {
    text = await readBounded(path, file);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (errnoCode(e) === 'ENOENT') throw new NotFoundError('no-such-file', `sweep file ${file}: no such file`);
    throw new UsageError(`sweep file ${file}: cannot read it: ${errnoCode(e) ?? String(e)}`);
  }
  const name = basename(path);
  const doc = path.endsWith('.json') ? parseJson(text, name) : await parseYaml(text, name);
  const shape = documentShapeProblem(doc);
  if (shape) throw new UsageError(`${name}: ${shape}`, { code: 'bad-sweep-file' });
  const def = parseSweepDocument(doc, name);
  const groups: SweepGroupRequest[] = def.groups.map((g) => ({
    field: `${name}: ${g.field}`,
    id: g.id,
    job: g.name,
    ...(g.script !== undefined ? { script: g.script } : {}),
    ...(g.command !== undefined ? { command: g.command } : {}),
    set: g.set,
    grids: g.grids,
    zips: g.zips,
    ...(g.points ? { points: g.points } : {}),
    flags: g.resources,
    env: g.env,
    after: g.afterRevs,
    afterGroups: g.afterGroups,
    prologue: g.prologue,
    epilogue: g.epilogue,
    retryOn: g.retryOn,
    notify: g.notify,
    ...(g.workdir !== undefined ? { workdir: g.workdir } : {}),
    ...(g.envName !== undefined ? { envName: g.envName } : {}),
    ...(g.schedArgs !== undefined ? { schedArgs: g.schedArgs } : {}),
    // Files named in a sweep file are relative to it, wherever qdo runs.
    baseDir: dirname(path),
  }));
  return { path, def, groups };
}

function parseJson(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${name}: not valid JSON: ${(e as Error).message}`, { code: 'bad-sweep-file' });
  }
}

/** The file's text, refused unread when it is not a regular file or is too large. */
async function readBounded(path: string, file: string): Promise<string> {
  // O_NONBLOCK: a FIFO named as a sweep file must not hang the open.
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UsageError(`sweep file ${file}: not a regular file`, { code: 'bad-sweep-file' });
    if (st.size > MAX_SWEEP_FILE_BYTES) {
      throw new UsageError(`sweep file ${file}: ${st.size} bytes; at most ${MAX_SWEEP_FILE_BYTES} (16 MiB) are read`, {
        code: 'bad-sweep-file',
        hint: 'a sweep this large is better written as grids or zips than as listed points',
      });
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * YAML to plain values, scalars as written (plain `0.10` → "0.10"); `~`/empty → null.
 * Aliases are resolved by the yaml package, with its limit on expansion (maxAliasCount:
 * the 295-byte "billion laughs" fails at once), after refusing an alias inside its own
 * anchor (a value that contains itself).
 */
export async function parseYaml(text: string, name: string): Promise<unknown> {
  const Y = await import('yaml');
  const lines = new Y.LineCounter();
  const doc = Y.parseDocument(text, { prettyErrors: true, lineCounter: lines });
  const at = (node: { range?: [number, number, number] | null | undefined } | null | undefined): string => {
    const off = node?.range?.[0];
    if (off === undefined) return '';
    const p = lines.linePos(off);
    return `:${p.line}:${p.col}`;
  };
  const fail = (where: string, what: string, hint?: string): UsageError => new UsageError(`${name}${where}: ${what}`, { code: 'bad-sweep-file', ...(hint ? { hint } : {}) });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    let msg = e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
    if (/call stack/i.test(msg)) msg = 'nested too deeply to read';
    throw fail(pos ? `:${pos.line}:${pos.col}` : '', msg);
  }
  let problem: UsageError | undefined;
  Y.visit(doc, {
    Alias(_key, node, path) {
      const target = node.resolve(doc);
      if (target === undefined) {
        problem = fail(at(node), `alias *${node.source} names no anchor before it`, 'an anchor (&name) must come before its aliases (*name)');
      } else if ((path as readonly unknown[]).includes(target)) {
        problem = fail(at(node), `alias *${node.source} is inside its own anchor &${node.source}: a value cannot contain itself`);
      }
      return problem ? Y.visit.BREAK : undefined;
    },
    Pair(_key, pair) {
      const k = pair.key;
      if (!Y.isScalar(k) || k.value === null || (typeof k.value === 'object' && k.value !== null)) {
        problem = fail(at(k as { range?: [number, number, number] } | null), 'keys must be text');
        return Y.visit.BREAK;
      }
      return undefined;
    },
    Scalar(_key, node) {
      // Kept as written: the value becomes a parameter or a job name.
      if (node.value !== null && typeof node.value !== 'string') {
        node.value = node.type === 'PLAIN' && typeof node.source === 'string' ? node.source : String(node.value);
      }
    },
  });
  if (problem) throw problem;
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown;
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    if (/alias count/i.test(e.message)) {
      throw fail('', `its aliases expand too far (yaml's limit of ${MAX_YAML_ALIASES} per anchor; a "billion laughs" document?)`, 'write the values out, or use fewer aliases of nested aliases');
    }
    throw fail('', e.message);
  }
}
