// Small file-system questions asked all over core: "is it there?" without try/catch noise.
// Absent (ENOENT, or a path through a non-folder) is an answer; any other error is thrown.
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { errnoCode } from '../errors.js';

export async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await stat(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw e;
  }
}

export async function exists(p: string): Promise<boolean> {
  return (await statOrNull(p)) !== null;
}

export async function isFile(p: string): Promise<boolean> {
  return (await statOrNull(p))?.isFile() ?? false;
}
