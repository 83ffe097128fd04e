// The line PBS's MoM writes into a job's own stderr when it kills the job for a limit
// (spec/scheduler-pbs.md §History): with `-j oe` it lands in the run folder's pbs.out.
// When the server keeps no history (job_history_enable false) this is the only place
// that says "walltime", so core can use it to tell a timeout from a cancel.
//   PBS 2026:           =>> PBS: job killed: walltime 1206 exceeded limit 1200
//   OpenPBS 22.05.11:   PBS: job killed: walltime 10 exceeded limit 1
// TORQUE's MOM writes the same words ("job killed: walltime N exceeded limit M").

export interface KillMessage {
  /** walltime, mem, vmem, cput, ncpus… */
  resource: string;
  used: string;
  limit: string;
}

/** The last kill message in a job's output, or null. */
export function parseKillMessage(text: string): KillMessage | null {
  let found: KillMessage | null = null;
  for (const m of text.matchAll(/(?:^|\n)(?:=>> )?PBS: job killed: (\w+) (\S+) exceeded limit (\S+)/g)) {
    found = { resource: m[1]!, used: m[2]!, limit: m[3]! };
  }
  return found;
}
