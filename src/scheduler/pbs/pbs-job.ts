// One job as PBS Pro or TORQUE describes it, whatever format it came in (JSON or text
// `qstat -f`), reduced to what qdo reads (spec/scheduler-pbs.md §Job records).
// Pure: the parsers in parse-json.ts and parse-text.ts build these; states.ts maps them.

export interface PbsJob {
  /** Job id exactly as qstat prints it ("6617175.aurora-pbs-0001...", "48[1].torque01...", "8"). */
  id: string;
  /** `job_state`, verbatim ("" when absent). */
  jobState: string;
  /** PBS Pro `substate` (91 terminated, 92 finished, 93 failed, 22 dependency hold...). */
  substate: number | null;
  /** PBS Pro `Exit_status` or TORQUE `exit_status` (number or numeric string in the source). */
  exitStatus: number | null;
  comment: string | null;
  /** `Hold_Types` ("n", "u", "s", "o", ...). */
  holdTypes: string | null;
  depend: string | null;
  name: string | null;
  /** `resources_used.walltime` in seconds. */
  walltimeUsed: number | null;
  /** `Resource_List.walltime` in seconds. */
  walltimeLimit: number | null;
  /** `Variable_List`, split into variables (values unescaped). */
  variables: Record<string, string>;
  /** Every attribute, nested names flattened with "." (`Resource_List.select`), values as text. */
  attributes: Record<string, string>;
  /** Printed by Slurm's TORQUE-dialect wrapper (`Job Id:<TAB>`), not by a PBS server. */
  slurmWrapper: boolean;
}

/** "HH:MM:SS" / "MM:SS" / "SS" (hours may exceed 24) → seconds; null if not that shape. */
export function parseDuration(v: string | undefined): number | null {
  if (v === undefined) return null;
  const t = v.trim();
  if (!/^\d+(:\d+){0,2}$/.test(t)) return null;
  return t.split(':').reduce((acc, p) => acc * 60 + Number(p), 0);
}

/** An integer written as a number or a decimal string (PBS 2025+ may quote Exit_status). */
export function parseIntOrNull(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) ? v : null;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v.trim());
  return null;
}

/**
 * Splits a text `Variable_List` value: entries are separated by commas not preceded by a
 * backslash; each entry is split at its first "=". An entry without "=" is the rest of the
 * previous value (an unescaped comma inside it, e.g. a bash function body).
 */
export function splitVariableList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const entries: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && text[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (c === ',') {
      entries.push(cur);
      cur = '';
    } else cur += c;
  }
  entries.push(cur);
  let last: string | null = null;
  for (const e of entries) {
    const eq = e.indexOf('=');
    if (eq > 0) {
      last = e.slice(0, eq);
      out[last] = e.slice(eq + 1);
    } else if (last !== null) {
      out[last] += ',' + e;
    } else if (e !== '') {
      // A bare name (`qsub -v NAME` exports it with the qsub-time value; qstat shows NAME=…,
      // but be lenient with hand-edited or truncated output).
      out[e] = '';
    }
  }
  return out;
}

/** Builds a PbsJob from flattened attributes (text) and the already-split variables. */
export function jobFromAttributes(
  id: string,
  attributes: Record<string, string>,
  variables: Record<string, string>,
  slurmWrapper = false,
): PbsJob {
  const a = attributes;
  const opt = (k: string): string | null => (a[k] === undefined ? null : a[k]!);
  return {
    id,
    jobState: (a.job_state ?? '').trim(),
    substate: parseIntOrNull(a.substate),
    exitStatus: parseIntOrNull(a.Exit_status ?? a.exit_status),
    comment: opt('comment'),
    holdTypes: opt('Hold_Types'),
    depend: opt('depend'),
    name: opt('Job_Name'),
    walltimeUsed: parseDuration(a['resources_used.walltime']),
    walltimeLimit: parseDuration(a['Resource_List.walltime']),
    variables,
    attributes,
    slurmWrapper,
  };
}

/** The sequence part of a job id: "4256957.pbs02" → "4256957", "10[].Nile-extn" → "10[]". */
export function jobSequence(id: string): string {
  const dot = id.indexOf('.');
  return dot < 0 ? id : id.slice(0, dot);
}

/**
 * Finds the record for an id the user (or qsub) gave: the exact id, else the same sequence
 * number when one server name is a prefix of the other ("1234.pbs01" vs
 * "1234.pbs01.example.org"), because qsub and qstat do not always print the server the same way.
 */
export function findJob<T extends { id: string }>(id: string, jobs: readonly T[]): T | undefined {
  return jobIndex(jobs)(id);
}

/**
 * findJob over many ids in linear time (spec/scheduler-common.md §Many ids): the records
 * indexed once by id and by sequence number, each lookup then looks only at the records of
 * its sequence number. Same answers as findJob: the exact id first, else the first record
 * (in the order given) whose server name matches.
 */
export function jobIndex<T extends { id: string }>(jobs: readonly T[]): (id: string) => T | undefined {
  const exact = new Map<string, T>();
  const bySeq = new Map<string, T[]>();
  for (const j of jobs) {
    if (!exact.has(j.id)) exact.set(j.id, j);
    const seq = jobSequence(j.id);
    const list = bySeq.get(seq);
    if (list) list.push(j);
    else bySeq.set(seq, [j]);
  }
  return (id) => {
    const hit = exact.get(id);
    if (hit) return hit;
    return bySeq.get(jobSequence(id))?.find((j) => sameJobId(id, j.id));
  };
}

/** Two ids of one job: the same sequence number, and one server name is a prefix of the other (or absent). */
export function sameJobId(a: string, b: string): boolean {
  const seq = jobSequence(a);
  if (jobSequence(b) !== seq) return false;
  const x = a.slice(seq.length + 1);
  const y = b.slice(seq.length + 1);
  return x === '' || y === '' || y.startsWith(x + '.') || x.startsWith(y + '.');
}
