// The PBS Pro / OpenPBS backend (spec/scheduler-pbs.md §PBS Pro backend): qsub, one
// `qstat -x -f -F json` for all ids (finished jobs included while the server keeps
// history), qdel, qhold, qrls, and findByTag through the job's Variable_List.
import { SchedulerError, isQdoError } from '../../errors.js';
import type { Backend, JobState, RenderSpec, SubmitOptions } from '../types.js';
import { PbsCommands, splitIds, subjobId, type PbsBackendOptions } from './backend-common.js';
import { parseQstatJson } from './parse-json.js';
import { isPbsJobId } from './parse-qsub.js';
import { TAG_PREFIX, TAG_VARIABLE } from './render-common.js';
import { renderPbsPro } from './render-pbspro.js';
import { pbsproJobState } from './states.js';

export type { PbsBackendOptions } from './backend-common.js';

/** `qstat -x -f -F json` exit codes that still carry an answer for the other ids. */
const QSTAT_PARTIAL = [0, 35, 153];

/** PBS Pro's default max_array_size server attribute (pbs_server_attributes.7B). */
export const PBSPRO_DEFAULT_MAX_ARRAY_SIZE = 10_000;

export class PbsProBackend implements Backend {
  readonly kind = 'pbs';
  readonly maxArraySize: number;
  /** A PBS Pro job cannot wait on one subjob (render-pbspro.ts checkNoSubjobs). */
  readonly elementDependencies = false;
  private readonly cmd: PbsCommands;

  constructor(opts: PbsBackendOptions = {}) {
    this.cmd = new PbsCommands('pbspro', opts);
    this.maxArraySize = opts.maxArraySize ?? PBSPRO_DEFAULT_MAX_ARRAY_SIZE;
  }

  /**
   * "123[].server" → "123[4].server". A one-element packed array is a plain job (PBS Pro
   * has no one-index arrays): its element 0 is the job itself (spec/scheduler-pbs.md §Packed arrays).
   */
  elementId(baseId: string, index: number): string {
    const sub = subjobId(baseId, index);
    if (sub !== undefined) return sub;
    if (index === 0 && isPbsJobId(baseId) && !baseId.includes('[')) return baseId;
    throw new SchedulerError('scheduler-bad-id', `elementId: expected a PBS Pro array id like "123[].server" (or a plain job id with index 0), found ${JSON.stringify(baseId)} and ${index}`);
  }

  render(spec: RenderSpec): string {
    return renderPbsPro(spec);
  }

  submit(scriptPath: string, opts: SubmitOptions): Promise<string> {
    return this.cmd.submit(scriptPath, opts);
  }

  /**
   * One `qstat -x -f -F json id…`. With several ids qstat prints JSON for the ones it
   * knows and one stderr line per other id ("Unknown Job Id X" when history is off or the
   * record was purged), exiting with the last error (153): that is a partial answer.
   * Exit 255 with only the JSON header means the server is down: an error.
   */
  async query(ids: string[]): Promise<Map<string, JobState>> {
    const { valid, invalid } = splitIds(ids, 'PBS Pro');
    if (valid.length === 0) return invalid;
    // -x: finished jobs too, while the server keeps history (§History); not with history off.
    const argv = ['qstat', ...(this.cmd.history === 'off' ? [] : ['-x']), '-f', '-F', 'json'];
    const { jobs, lines } = await this.cmd.qstatBatches(argv, valid, QSTAT_PARTIAL, (out) => parseQstatJson(out).jobs);
    const states = await this.cmd.resolve(valid, jobs, lines, pbsproJobState);
    return new Map([...ids].map((id) => [id, (states.get(id) ?? invalid.get(id))!]));
  }

  cancel(ids: string[]): Promise<void> {
    return this.cmd.cancel(ids);
  }

  async hold(ids: string[]): Promise<void> {
    refuseSubjobs(ids, 'hold');
    return this.cmd.holdOrRelease('qhold', ids);
  }

  async release(ids: string[]): Promise<void> {
    refuseSubjobs(ids, 'release');
    return this.cmd.holdOrRelease('qrls', ids);
  }

  /**
   * The job whose Variable_List has QDO_TAG=qdo:<tag>: `qselect -x -u <user>` lists this
   * user's jobs (history included), then one qstat reads them. Without qselect, qstat
   * lists every job on the server. Several matches (an earlier recovery submitted again):
   * the lowest sequence number, the first one submitted.
   */
  async findByTag(tag: string): Promise<string | null> {
    const want = `${TAG_PREFIX}${tag}`;
    let ids: string[] | null = null;
    try {
      const sel = await this.cmd.exec(['qselect', '-x', '-u', this.cmd.userName()]);
      ids = sel.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => isPbsJobId(l));
    } catch (e) {
      if (!(isQdoError(e) && e.code === 'scheduler-command-missing')) throw e;
    }
    if (ids !== null && ids.length === 0) return null;
    // Jobs that vanished between qselect and qstat are partial answers, not failures; a
    // server that is down is a failure (never "no such job", which would submit twice).
    const argv = ['qstat', '-x', '-f', '-F', 'json'];
    const all = ids === null ? parseQstatJson((await this.cmd.exec(argv, QSTAT_PARTIAL)).stdout).jobs : (await this.cmd.qstatBatches(argv, ids, QSTAT_PARTIAL, (out) => parseQstatJson(out).jobs)).jobs;
    const hits = all
      .filter((j) => j.variables[TAG_VARIABLE] === want)
      .map((j) => j.id);
    return hits.length === 0 ? null : hits.sort((a, b) => parseInt(a, 10) - parseInt(b, 10))[0]!;
  }
}

/**
 * qhold and qrls take jobs and whole arrays, "but not subjobs or ranges of subjobs"
 * (qhold.1B, qrls.1B): refused before any command, naming the array that can be.
 */
function refuseSubjobs(ids: string[], verb: 'hold' | 'release'): void {
  const sub = ids.find((id) => /\[\d+\]/.test(id));
  if (sub === undefined) return;
  throw new SchedulerError('scheduler-unsupported', `${verb}: PBS Pro cannot ${verb} one subjob of an array, found ${JSON.stringify(sub)}`, {
    hint: `${verb} the whole array (${sub.replace(/\[\d+\]/, '[]')}), or cancel the element instead`,
    data: { ids: [sub] },
  });
}
