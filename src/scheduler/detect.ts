// Which scheduler is here (spec/scheduler-common.md §Detection): `sbatch` on PATH → Slurm;
// else `qstat --version` → PBS Pro or Torque; else the local backend.
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { detectPbs } from './pbs/version.js';
import { runCommand, type Runner } from './runner.js';

export interface Detection {
  kind: 'slurm' | 'pbs' | 'torque' | 'local';
  version: string | null;
  /** What was seen, for people: "sbatch at /usr/bin/sbatch". */
  evidence: string;
}

/** The first executable named `cmd` on the PATH given (not the process's: it is passed in). */
export async function findOnPath(cmd: string, path: string | undefined): Promise<string | null> {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

export async function detectScheduler(env: Readonly<Record<string, string | undefined>>, run: Runner = runCommand): Promise<Detection> {
  const sbatch = await findOnPath('sbatch', env.PATH);
  if (sbatch) {
    const r = await run([sbatch, '--version'], { retries: 0, timeoutMs: 10_000, okExitCodes: [0, 1, 2] }).catch(() => null);
    const v = r ? /\b(\d+\.\d+(?:\.\d+)?)/.exec(r.stdout + r.stderr) : null;
    return { kind: 'slurm', version: v ? v[1]! : null, evidence: `sbatch at ${sbatch}` };
  }
  const qstat = await findOnPath('qstat', env.PATH);
  if (qstat) {
    // Run the qstat found on the PATH we were given, not whatever the process's PATH finds.
    const v = await detectPbs((argv, o) => run([qstat, ...argv.slice(1)], o));
    if (v) return { kind: v.flavor === 'pbspro' ? 'pbs' : 'torque', version: v.version, evidence: `qstat --version at ${qstat}` };
  }
  return { kind: 'local', version: null, evidence: 'no sbatch or qstat on PATH' };
}
