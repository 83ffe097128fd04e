// Which PBS family answers `qstat --version` (spec/scheduler-pbs.md §Version detection).
// - PBS Pro / OpenPBS: `pbs_version = 2022.1.1.20220926110806` on stdout, exit 0
//   (OPBS src/include/pbs_version.h.in:70); every PBS Pro command answers --version.
// - TORQUE 6/7: `Version: 7.0.1` then `Commit: <sha>` on stderr (TRQ qstat.c:2818-2823).
// - Slurm's TORQUE-dialect wrapper (slurm-wlm-torque): no --version; Perl's Getopt prints
//   `Unknown option: version` and the usage on stderr, exit 2 (captured on this machine,
//   test/fixtures/pbs/slurm-torque-wrapper/).
import type { Runner } from '../runner.js';

export type PbsFlavor = 'pbspro' | 'torque';

export interface PbsVersion {
  flavor: PbsFlavor;
  /** The version string, or null when the command does not say (Slurm's wrapper). */
  version: string | null;
  /** True for Slurm's TORQUE-dialect wrapper scripts (qsub/qstat over sbatch/squeue). */
  slurmWrapper?: boolean;
}

/** Reads the answer of `qstat --version` (or `qsub --version`); null if it is neither family. */
export function parsePbsVersion(stdout: string, stderr: string): PbsVersion | null {
  const both = `${stdout}\n${stderr}`;
  const pro = /^\s*pbs_version\s*=\s*(\S+)\s*$/m.exec(both);
  if (pro) return { flavor: 'pbspro', version: pro[1]! };
  const trq = /^\s*Version:\s*(\S+)\s*$/m.exec(both);
  if (trq) return { flavor: 'torque', version: trq[1]! };
  if (/Unknown option: version/.test(both) && /^\s*qstat \[-f\] \[-a\|-i\|-r\]/m.test(both)) {
    return { flavor: 'torque', version: null, slurmWrapper: true };
  }
  return null;
}

/** Runs `qstat --version` once; null when qstat is missing or answers something else. */
export async function detectPbs(run: Runner): Promise<PbsVersion | null> {
  try {
    const r = await run(['qstat', '--version'], { retries: 0, timeoutMs: 15_000, okExitCodes: Array.from({ length: 256 }, (_, i) => i) });
    return parsePbsVersion(r.stdout, r.stderr);
  } catch {
    return null;
  }
}
