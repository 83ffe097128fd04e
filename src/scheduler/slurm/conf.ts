// The Slurm limits packing needs (spec/scheduler-slurm.md §Packed arrays), read from
// slurm.conf the way cluster.ts reads ClusterName: a file read, never a scheduler call.
// Lines pulled in with `Include` are not followed; a limit set only there is not seen
// and the defaults below apply (they are Slurm's own, so only a raised limit is missed).
import { readFile } from 'node:fs/promises';
import { SLURM_DEFAULT_MAX_SCRIPT_BYTES } from '../packing.js';

export interface SlurmLimits {
  /** Most elements one packed array may have: MaxArraySize (indices 0..MaxArraySize-1); 0 = arrays disabled. */
  maxArraySize: number;
  /** SchedulerParameters max_script_size, in bytes. */
  maxScriptBytes: number;
}

/**
 * Without MaxArraySize in slurm.conf: 1000 elements. Slurm's default MaxArraySize is 1001
 * (slurm.conf(5)), so 1001 would fit; 1000 keeps chunks round.
 */
export const SLURM_DEFAULT_MAX_ELEMENTS = 1000;

/** Pure: the limits a slurm.conf text sets (keys case-insensitive, `#` comments), defaults otherwise. */
export function slurmLimits(conf: string | null): SlurmLimits {
  const out: SlurmLimits = { maxArraySize: SLURM_DEFAULT_MAX_ELEMENTS, maxScriptBytes: SLURM_DEFAULT_MAX_SCRIPT_BYTES };
  for (const raw of (conf ?? '').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    let m = /^MaxArraySize\s*=\s*(\d+)\s*$/i.exec(line);
    if (m) out.maxArraySize = Number(m[1]);
    m = /^SchedulerParameters\s*=\s*(\S+)/i.exec(line);
    if (m) {
      const p = /(?:^|,)max_script_size=(\d+)(?:,|$)/.exec(m[1]!);
      if (p) out.maxScriptBytes = Number(p[1]);
    }
  }
  return out;
}

/** The limits of the slurm.conf this environment uses ($SLURM_CONF, else /etc/slurm/slurm.conf). */
export async function readSlurmLimits(env: Readonly<Record<string, string | undefined>>): Promise<SlurmLimits> {
  let conf: string | null = null;
  try {
    conf = await readFile(env.SLURM_CONF ?? '/etc/slurm/slurm.conf', 'utf8');
  } catch {
    conf = null;
  }
  return slurmLimits(conf);
}
