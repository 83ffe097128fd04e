// Scheduler commands take job ids on their command line, and the OS bounds it: one argument
// at most 128 KiB (Linux MAX_ARG_STRLEN), all of them with the environment at most ARG_MAX
// (often 2 MiB). 20,000 Slurm ids joined by commas are ~250 KB: one `squeue -j` fails with
// E2BIG. Every command that takes many ids therefore asks in batches
// (spec/scheduler-common.md §Many ids).

/** Characters of ids (and separators) per command: well under both limits. */
export const MAX_ID_CHARS = 32_768;
/** Ids per command, whatever their length (a scheduler's own limits on list lengths). */
export const MAX_IDS = 4_000;

/**
 * Splits ids into consecutive batches of at most `maxIds` ids whose total length, counting
 * one separator per id, is at most `maxChars`. Order is kept; an empty list gives no batch.
 */
export function idBatches(ids: readonly string[], maxChars = MAX_ID_CHARS, maxIds = MAX_IDS): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let chars = 0;
  for (const id of ids) {
    const len = id.length + 1;
    if (cur.length > 0 && (chars + len > maxChars || cur.length >= maxIds)) {
      out.push(cur);
      cur = [];
      chars = 0;
    }
    cur.push(id);
    chars += len;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
