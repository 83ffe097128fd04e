// Times in qdo's files (records, lists, archives, pools): UTC with milliseconds, as
// Date.prototype.toISOString writes them ("2026-11-21T09:30:00.000Z"; spec/submissions.md).

/** A time as qdo writes it. */
export const ISO_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
