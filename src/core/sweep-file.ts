// Reading a sweep file (spec/sweeps.md §File format): JSON if it ends in .json, else YAML
// (the `yaml` package, loaded only here). YAML values are kept as written (`0.10` stays
// "0.10", not the number 0.1), since they become parameters and job names; the document is
// then checked by model/sweep-file.ts, whose errors name the file and the path in it.
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Context } from '../context.js';
import { NotFoundError, UsageError, errnoCode } from '../errors.js';
import { parseSweepDocument, type SweepFileDef } from '../model/sweep-file.js';
import type { SweepGroupRequest } from './sweep.js';

export interface SweepFile {
  path: string;
  def: SweepFileDef;
  groups: SweepGroupRequest[];
}

export async function readSweepFile(ctx: Context, file: string): Promise<SweepFile> {
  const path = resolve(ctx.cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new NotFoundError('no-such-file', `sweep file ${file}: no such file`);
    throw new UsageError(`sweep file ${file}: cannot read it: ${errnoCode(e) ?? String(e)}`);
  }
  const name = basename(path);
  const doc = path.endsWith('.json') ? parseJson(text, name) : await parseYaml(text, name);
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

/** YAML to plain values, scalars as written (plain `0.10` → "0.10"); `~`/empty → null. */
export async function parseYaml(text: string, name: string): Promise<unknown> {
  const Y = await import('yaml');
  const doc = Y.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const at = e.linePos?.[0];
    const msg = e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
    throw new UsageError(`${name}${at ? `:${at.line}:${at.col}` : ''}: ${msg}`, { code: 'bad-sweep-file' });
  }
  const conv = (n: unknown): unknown => {
    if (n === null || n === undefined) return null;
    if (Y.isAlias(n)) return conv(n.resolve(doc));
    if (Y.isMap(n)) {
      const o: Record<string, unknown> = {};
      for (const it of n.items) {
        const k = conv(it.key);
        if (typeof k !== 'string') throw new UsageError(`${name}: keys must be text, found ${JSON.stringify(k)}`, { code: 'bad-sweep-file' });
        o[k] = conv(it.value);
      }
      return o;
    }
    if (Y.isSeq(n)) return n.items.map(conv);
    if (Y.isScalar(n)) {
      if (n.value === null) return null;
      if (typeof n.value === 'string') return n.value;
      return n.type === 'PLAIN' && typeof n.source === 'string' ? n.source : String(n.value);
    }
    return null;
  };
  return conv(doc.contents);
}
