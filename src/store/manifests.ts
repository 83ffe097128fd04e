// Reading and writing job manifests as objects (spec/manifest.md).
import { encodeManifest, parseManifest, type Manifest } from '../model/manifest.js';
import type { Layout } from './layout.js';
import { objectPath, readObject, writeObject } from './objects.js';

export async function readManifest(l: Layout, id: string): Promise<Manifest> {
  const bytes = await readObject(l, id);
  return parseManifest(bytes, objectPath(l, id));
}

export async function writeManifest(l: Layout, m: Manifest): Promise<string> {
  const { bytes } = encodeManifest(m);
  return writeObject(l, bytes);
}
