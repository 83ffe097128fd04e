// `qstat -x -f -F json [ids…]` (PBS Pro / OpenPBS 19+), spec/scheduler-pbs.md §JSON.
// Both writers are plain JSON: before OpenPBS 74106a6 (2023-12) 4-space indents and
// `"key":value`; after it cJSON with TAB indents and `"key":<TAB>value`. JSON.parse reads
// both. Quirks handled here: Exit_status as number or numeric string (PBS 2025+),
// Variable_List already an object whose values may be numbers, nested Resource_List /
// resources_used / estimated objects, and a header-only document when the server is down
// (the reason is on stderr, see parse-errors.ts).
import { SchedulerError } from '../../errors.js';
import { jobFromAttributes, type PbsJob } from './pbs-job.js';

export interface QstatJson {
  pbsVersion: string | null;
  server: string | null;
  timestamp: number | null;
  /** In the order qstat printed them. Empty when qstat printed only the header. */
  jobs: PbsJob[];
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function flatten(prefix: string, v: unknown, out: Record<string, string>): void {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(prefix === '' ? k : `${prefix}.${k}`, x, out);
  } else out[prefix] = text(v);
}

/** Parses one qstat JSON document. Throws SchedulerError (scheduler-bad-output) on anything else. */
export function parseQstatJson(stdout: string): QstatJson {
  if (stdout.trim() === '') return { pbsVersion: null, server: null, timestamp: null, jobs: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (e) {
    // Seen on 19.1.1 with `qsub -V` BASH_FUNC values (openpbs issue #2541).
    throw new SchedulerError('scheduler-bad-output', `qstat -F json printed text that is not JSON (${(e as Error).message}): ${stdout.trim().slice(0, 120)}`, {
      hint: 'a job with unusual environment values can break qstat\'s JSON on old PBS versions',
      data: { scheduler: 'pbspro', stdout },
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SchedulerError('scheduler-bad-output', `qstat -F json: expected a JSON object, found ${text(doc).slice(0, 60)}`, {
      data: { scheduler: 'pbspro', stdout },
    });
  }
  const d = doc as Record<string, unknown>;
  const jobsObj = d.Jobs;
  const jobs: PbsJob[] = [];
  if (jobsObj !== undefined) {
    if (typeof jobsObj !== 'object' || jobsObj === null || Array.isArray(jobsObj)) {
      throw new SchedulerError('scheduler-bad-output', 'qstat -F json: "Jobs" is not an object', { data: { scheduler: 'pbspro', stdout } });
    }
    for (const [id, raw] of Object.entries(jobsObj as Record<string, unknown>)) {
      const attrs: Record<string, string> = {};
      let variables: Record<string, string> = {};
      if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
        for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
          if (k === 'Variable_List' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
            variables = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([n, x]) => [n, text(x)]));
            attrs[k] = Object.entries(variables)
              .map(([n, x]) => `${n}=${x.replace(/,/g, '\\,')}`)
              .join(',');
          } else flatten(k, v, attrs);
        }
      }
      jobs.push(jobFromAttributes(id, attrs, variables));
    }
  }
  return {
    pbsVersion: d.pbs_version === undefined ? null : text(d.pbs_version),
    server: d.pbs_server === undefined ? null : text(d.pbs_server),
    timestamp: typeof d.timestamp === 'number' ? d.timestamp : null,
    jobs,
  };
}
