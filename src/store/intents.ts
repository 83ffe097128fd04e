// The intents of many new versions written together (spec/submissions.md §Writes, batches;
// spec/sweeps.md §Intent): a sweep chunk's objects, records and manifests in the order
// `qdo submit` writes one version's — objects, then the record (`submitting`), then the
// manifest — but each step for the whole batch before the next, so their fsyncs are shared:
//  1. every temp file written (objects not stored yet, records, manifests);
//  2. all fsynced together;
//  3. the records linked into place (a create: refuses to replace) and the objects renamed;
//     each of their folders fsynced once;
//  4. the manifests renamed; each of their folders fsynced once.
// A writer killed at any point leaves objects no manifest names yet, records without their
// manifest (a killed submit's leftovers: submissions.md §Recovery, plumbing/fsck.md), and
// temp files fsck recognises; never a manifest without its record, nor one naming an object
// that is not stored. The refs move after this returns (refs.md), so no ref names anything
// of a batch before all of it is durable.
import { existsSync, utimesSync } from 'node:fs';
import { dirname } from 'node:path';
import { errnoCode } from '../errors.js';
import { objectId } from '../model/object-id.js';
import { encodeSubmission, type Submission } from '../model/submission.js';
import { closePendingFiles, discardPendingFiles, fsyncDirs, installPendingFile, syncPendingFiles, writePendingFile, type PendingFile } from './atomic.js';
import type { Layout } from './layout.js';
import { objectPath } from './objects.js';
import { createSubmission, submissionPath } from './submissions.js';

export interface Intent {
  /** Objects the version needs (script, template, prologue, …), by id; shared ones are written once. */
  objects: Iterable<[string, Buffer]>;
  /** The manifest's canonical bytes and id. */
  manifest: { id: string; bytes: Buffer };
  /** The record in state `submitting`. */
  record: Submission;
}

/** Intents written per group (each holds up to three open temp files until its fsyncs). */
const GROUP = 256;

/**
 * Writes the intents in batches as above. `created(i)` is called for each record once it is in
 * place, before its manifest is, so a caller that has to take a failed batch back knows which
 * records are its own. A record that exists already goes through createSubmission (the one
 * case it replaces: a version never accepted; otherwise `record-exists`, and the batch stops
 * before any manifest of it is in place).
 */
export async function writeIntents(l: Layout, intents: readonly Intent[], created: (i: number) => void): Promise<void> {
  for (let k = 0; k < intents.length; k += GROUP) await writeGroup(l, intents.slice(k, k + GROUP), k, created);
}

async function writeGroup(l: Layout, intents: readonly Intent[], offset: number, created: (i: number) => void): Promise<void> {
  const objects: PendingFile[] = [];
  const records: PendingFile[] = [];
  const manifests: PendingFile[] = [];
  const all = () => [...objects, ...records, ...manifests];
  const seen = new Set<string>();
  try {
    for (const it of intents) {
      for (const [id, bytes] of it.objects) {
        if (seen.has(id)) continue;
        seen.add(id);
        const pending = stageObject(l, id, bytes);
        if (pending) objects.push(pending);
      }
      records.push(writePendingFile(submissionPath(l, it.record.id), encodeSubmission(it.record), { how: 'create' }));
      if (seen.has(it.manifest.id)) continue;
      seen.add(it.manifest.id);
      const m = stageObject(l, it.manifest.id, it.manifest.bytes);
      if (m) manifests.push(m);
    }
    await syncPendingFiles(all());
  } catch (e) {
    closePendingFiles(all());
    discardPendingFiles(all());
    throw e;
  }
  try {
    for (const f of objects) installPendingFile(f);
    const clashes: number[] = [];
    for (const [i, f] of records.entries()) {
      try {
        installPendingFile(f);
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e;
        clashes.push(i);
        continue;
      }
      created(offset + i);
    }
    await fsyncDirs([...objects, ...records].map((f) => dirname(f.target)));
    // A record already there: the ordinary create decides (and writes it durably) under its lock.
    for (const i of clashes) {
      discardPendingFiles([records[i]!]);
      await createSubmission(l, intents[i]!.record);
      created(offset + i);
    }
    for (const f of manifests) installPendingFile(f);
    await fsyncDirs(manifests.map((f) => dirname(f.target)));
  } catch (e) {
    discardPendingFiles(all());
    throw e;
  }
}

/**
 * An object to store: a temp file if it is not stored yet; null if it is (it only gets a fresh
 * mtime, as writeObject gives it: gc's grace, spec/porcelain.md §qdo gc).
 */
function stageObject(l: Layout, id: string, bytes: Buffer): PendingFile | null {
  if (objectId(bytes) !== id) throw new Error(`writeIntents: object ${id} has other bytes`);
  const target = objectPath(l, id);
  if (existsSync(target)) {
    try {
      const now = new Date();
      utimesSync(target, now, now);
    } catch {
      // read-only or gone meanwhile: the object is there or will be made again by its writer
    }
    return null;
  }
  return writePendingFile(target, bytes, { mode: 0o444 });
}
