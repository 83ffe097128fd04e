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
import { openFileBudget } from '../util/limits.js';
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

/**
 * Intents written per group: each holds up to three open temp files until its fsyncs, and
 * two groups overlap, so under a low `ulimit -n` (1,024 is common) groups are smaller
 * (util/limits.ts).
 */
export const intentGroupSize = (): number => Math.max(1, Math.min(256, Math.floor(openFileBudget() / 6)));

/** One group's temp files, written and still open. */
interface Staged {
  intents: readonly Intent[];
  offset: number;
  objects: PendingFile[];
  records: PendingFile[];
  manifests: PendingFile[];
}

const allOf = (g: Staged): PendingFile[] => [...g.objects, ...g.records, ...g.manifests];

/** Closes a staged group's files and removes those not installed. */
function drop(g: Staged): void {
  closePendingFiles(allOf(g));
  discardPendingFiles(allOf(g));
}

/**
 * Writes the intents in batches as above. `created(i)` is called for each record once it is in
 * place, before its manifest is, so a caller that has to take a failed batch back knows which
 * records are its own. A record that exists already goes through createSubmission (the one
 * case it replaces: a version never accepted; otherwise `record-exists`, and the batch stops
 * before any manifest of it is in place).
 *
 * The groups overlap: while one group's files are fsynced (by the thread pool), the next
 * group's temp files are written (by this thread, synchronously); the first group is put in
 * place before anything of the next is. An object is staged once for the whole batch: one
 * staged by an earlier group is in place before any later group's manifest is.
 */
export async function writeIntents(l: Layout, intents: readonly Intent[], created: (i: number) => void): Promise<void> {
  const GROUP = intentGroupSize();
  const seen = new Set<string>();
  let next: Staged | null = intents.length > 0 ? stageGroup(l, intents.slice(0, GROUP), 0, seen) : null;
  while (next !== null) {
    const cur: Staged = next;
    next = null;
    // The fsyncs are queued now; the next group is written while they run.
    const synced = syncPendingFiles(allOf(cur)).then(
      () => null,
      (e: unknown) => ({ e }),
    );
    let staging: { e: unknown } | null = null;
    const at = cur.offset + GROUP;
    if (at < intents.length) {
      try {
        next = stageGroup(l, intents.slice(at, at + GROUP), at, seen);
      } catch (e) {
        staging = { e };
      }
    }
    const failed = (await synced) ?? staging;
    if (failed !== null) {
      drop(cur);
      if (next !== null) drop(next);
      throw failed.e;
    }
    try {
      await installGroup(l, cur, created);
    } catch (e) {
      if (next !== null) drop(next);
      throw e;
    }
  }
}

/** Step 1 for a group: its temp files written (objects not stored nor staged yet, records, manifests). */
function stageGroup(l: Layout, intents: readonly Intent[], offset: number, seen: Set<string>): Staged {
  const g: Staged = { intents, offset, objects: [], records: [], manifests: [] };
  try {
    for (const it of intents) {
      for (const [id, bytes] of it.objects) {
        if (seen.has(id)) continue;
        seen.add(id);
        const pending = stageObject(l, id, bytes);
        if (pending) g.objects.push(pending);
      }
      g.records.push(writePendingFile(submissionPath(l, it.record.id), encodeSubmission(it.record), { how: 'create' }));
      if (seen.has(it.manifest.id)) continue;
      seen.add(it.manifest.id);
      const m = stageObject(l, it.manifest.id, it.manifest.bytes);
      if (m) g.manifests.push(m);
    }
  } catch (e) {
    drop(g);
    throw e;
  }
  return g;
}

/** Steps 3 and 4 for a group whose files are synced (and closed). */
async function installGroup(l: Layout, g: Staged, created: (i: number) => void): Promise<void> {
  const { objects, records, manifests, intents, offset } = g;
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
    discardPendingFiles(allOf(g));
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
