// The TORQUE backend (spec/scheduler-pbs.md §TORQUE backend): qsub, one text `qstat -f`
// for all ids (TORQUE has no JSON; `-x` means XML there), qdel, qhold, qrls. Completed
// jobs stay visible as C for keep_completed seconds (default 0), so a job the server
// has forgotten is answered from its own exit record. Also drives Slurm's
// slurm-wlm-torque wrapper scripts (used by the e2e tests).
import type { Backend, JobState, RenderSpec, SubmitOptions } from '../types.js';
import { PbsCommands, splitIds, type PbsBackendOptions } from './backend-common.js';
import { classifyPbsStderr } from './parse-errors.js';
import { parseQstatFull } from './parse-text.js';
import { TAG_PREFIX, TAG_VARIABLE } from './render-common.js';
import { renderTorque } from './render-torque.js';
import { torqueJobState } from './states.js';

export type { PbsBackendOptions } from './backend-common.js';

/** `qstat -f` exits 153 (Unknown Job Id) when an id is unknown, printing the others. */
const QSTAT_PARTIAL = [0, 153];

export class TorqueBackend implements Backend {
  readonly kind = 'torque';
  private readonly cmd: PbsCommands;

  constructor(opts: PbsBackendOptions = {}) {
    this.cmd = new PbsCommands('torque', opts);
  }

  render(spec: RenderSpec): string {
    return renderTorque(spec);
  }

  submit(scriptPath: string, opts: SubmitOptions): Promise<string> {
    return this.cmd.submit(scriptPath, opts);
  }

  async query(ids: string[]): Promise<Map<string, JobState>> {
    const { valid, invalid } = splitIds(ids, 'TORQUE');
    if (valid.length === 0) return invalid;
    const r = await this.cmd.exec(['qstat', '-f', ...valid], QSTAT_PARTIAL);
    const states = await this.cmd.resolve(valid, parseQstatFull(r.stdout), classifyPbsStderr(r.stderr), torqueJobState);
    return new Map([...ids].map((id) => [id, (states.get(id) ?? invalid.get(id))!]));
  }

  cancel(ids: string[]): Promise<void> {
    return this.cmd.cancel(ids);
  }

  hold(ids: string[]): Promise<void> {
    return this.cmd.holdOrRelease('qhold', ids);
  }

  release(ids: string[]): Promise<void> {
    return this.cmd.holdOrRelease('qrls', ids);
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
