// The TORQUE backend (spec/scheduler-pbs.md §TORQUE backend): qsub, one text `qstat -f`
// for all ids (TORQUE has no JSON; `-x` means XML there), qdel, qhold, qrls. Completed
// jobs stay visible as C for keep_completed seconds (default 0), so a job the server
// has forgotten is answered from its own exit record. Also drives Slurm's
// slurm-wlm-torque wrapper scripts (used by the e2e tests).
import { SchedulerError } from '../../errors.js';
import { SlurmBackend } from '../slurm/backend.js';
import type { Backend, JobState, RenderSpec, SubmitOptions } from '../types.js';
import { PbsCommands, splitIds, subjobId, type PbsBackendOptions } from './backend-common.js';
import { parseQstatFull } from './parse-text.js';
import { TAG_PREFIX, TAG_VARIABLE } from './render-common.js';
import { SLURM_ELEMENT_ID, renderTorque } from './render-torque.js';
import { torqueJobState } from './states.js';

export type { PbsBackendOptions } from './backend-common.js';

/** `qstat -f` exits 153 (Unknown Job Id) when an id is unknown, printing the others. */
const QSTAT_PARTIAL = [0, 153];

/**
 * TORQUE checks max_job_array_size only when a site sets it (unset: no limit; TORQUE
 * src/server/array_func.c). 1000 keeps chunks round and fits Slurm's default MaxArraySize
 * (1001) under Slurm's TORQUE wrapper.
 */
export const TORQUE_DEFAULT_MAX_ARRAY_SIZE = 1000;

export class TorqueBackend implements Backend {
  readonly kind = 'torque';
  readonly maxArraySize: number;
  private readonly cmd: PbsCommands;
  /**
   * Element ids of Slurm's TORQUE wrapper ("123_4") go to Slurm's own commands: the
   * wrapper's qstat/qdel/qhold take only numbers, and read "123_4" as 123, the whole array
   * (spec/scheduler-pbs.md §Packed arrays).
   */
  private readonly slurm: SlurmBackend;

  constructor(opts: PbsBackendOptions = {}) {
    this.cmd = new PbsCommands('torque', opts);
    this.maxArraySize = opts.maxArraySize ?? TORQUE_DEFAULT_MAX_ARRAY_SIZE;
    this.slurm = new SlurmBackend({ runner: opts.runner, readExitRecord: opts.readExitRecord, timeoutMs: opts.timeoutMs, isArrayJob: opts.isArrayJob, accounting: opts.slurmAccounting, jobcomp: opts.slurmJobcomp });
  }

  /**
   * TORQUE: "123[].server" → "123[4].server". Slurm's wrapper prints a bare Slurm id for
   * an array ("123"): its elements are Slurm's "123_4".
   */
  elementId(baseId: string, index: number): string {
    const sub = subjobId(baseId, index);
    if (sub !== undefined) return sub;
    if (/^\d+$/.test(baseId) && Number.isInteger(index) && index >= 0) return `${baseId}_${index}`;
    throw new SchedulerError('scheduler-bad-id', `elementId: expected a TORQUE array id like "123[].server" (or Slurm's wrapper's "123"), found ${JSON.stringify(baseId)} and ${index}`);
  }

  render(spec: RenderSpec): string {
    return renderTorque(spec);
  }

  submit(scriptPath: string, opts: SubmitOptions): Promise<string> {
    return this.cmd.submit(scriptPath, opts);
  }

  async query(ids: string[]): Promise<Map<string, JobState>> {
    const elements = ids.filter((id) => SLURM_ELEMENT_ID.test(id));
    const { valid, invalid } = splitIds(
      ids.filter((id) => !SLURM_ELEMENT_ID.test(id)),
      'TORQUE',
    );
    const fromSlurm = elements.length > 0 ? await this.slurm.query(elements) : new Map<string, JobState>();
    let states = new Map<string, JobState>();
    if (valid.length > 0) {
      const { jobs, lines } = await this.cmd.qstatBatches(['qstat', '-f'], valid, QSTAT_PARTIAL, parseQstatFull);
      states = await this.cmd.resolve(valid, jobs, lines, torqueJobState);
    }
    return new Map([...ids].map((id) => [id, (fromSlurm.get(id) ?? states.get(id) ?? invalid.get(id))!]));
  }

  async cancel(ids: string[]): Promise<void> {
    const { torque, slurm } = this.split(ids);
    if (slurm.length > 0) await this.slurm.cancel(slurm);
    if (torque.length > 0) await this.cmd.cancel(torque);
  }

  async hold(ids: string[]): Promise<void> {
    const { torque, slurm } = this.split(ids);
    if (slurm.length > 0) await this.slurm.hold(slurm);
    if (torque.length > 0) await this.cmd.holdOrRelease('qhold', torque);
  }

  async release(ids: string[]): Promise<void> {
    const { torque, slurm } = this.split(ids);
    if (slurm.length > 0) await this.slurm.release(slurm);
    if (torque.length > 0) await this.cmd.holdOrRelease('qrls', torque);
  }

  private split(ids: string[]): { torque: string[]; slurm: string[] } {
    return { torque: ids.filter((id) => !SLURM_ELEMENT_ID.test(id)), slurm: ids.filter((id) => SLURM_ELEMENT_ID.test(id)) };
  }

  /**
   * The job whose Variable_List has QDO_TAG=qdo:<tag>, from `qstat -f` of every job the
   * server still lists. Slurm's wrapper prints no Variable_List, so there it finds nothing.
   */
  async findByTag(tag: string): Promise<string | null> {
    const want = `${TAG_PREFIX}${tag}`;
    const r = await this.cmd.exec(['qstat', '-f'], QSTAT_PARTIAL);
    const hits = parseQstatFull(r.stdout)
      .filter((j) => j.variables[TAG_VARIABLE] === want)
      .map((j) => j.id);
    return hits.length === 0 ? null : hits.sort((a, b) => parseInt(a, 10) - parseInt(b, 10))[0]!;
  }
}
