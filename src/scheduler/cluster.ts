// Which scheduler instance this machine talks to (spec/submissions.md §Cluster). Jobs are
// queried only on the cluster that has them: a user whose allocations are shared or synced
// between two clusters must not ask cluster B's scheduler about cluster A's job ids.
// Learned from configuration files, never from a scheduler call, so it costs no process.
import { readFile } from 'node:fs/promises';

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** `ClusterName=` of a slurm.conf (case-insensitive key, `#` comments). */
export function slurmClusterName(conf: string): string | null {
  for (const line of conf.split('\n')) {
    const m = /^\s*ClusterName\s*=\s*([^\s#]+)/i.exec(line);
    if (m) return m[1]!.toLowerCase(); // Slurm lowercases the cluster name itself
  }
  return null;
}

/** `PBS_SERVER=` of a pbs.conf. */
export function pbsConfServer(conf: string): string | null {
  for (const line of conf.split('\n')) {
    const m = /^\s*PBS_SERVER\s*=\s*(\S+)/.exec(line);
    if (m) return m[1]!;
  }
  return null;
}

/**
 * A stable name for the scheduler instance: Slurm's ClusterName, the PBS server, or for the
 * local backend `local@<host>` (its jobs run on this host only). Unknown → the kind itself,
 * so that every job of that scheduler counts as "here".
 */
export async function clusterName(kind: string, env: Readonly<Record<string, string | undefined>>, host: string): Promise<string> {
  const nonEmpty = (s: string | undefined | null) => (s && s.trim() !== '' ? s.trim() : null);
  switch (kind) {
    case 'local':
      return `local@${host}`;
    case 'slurm': {
      const conf = await readText(env.SLURM_CONF ?? '/etc/slurm/slurm.conf');
      return (conf && slurmClusterName(conf)) ?? 'slurm';
    }
    case 'pbs': {
      const fromEnv = nonEmpty(env.PBS_SERVER);
      if (fromEnv) return fromEnv;
      const conf = await readText(env.PBS_CONF_FILE ?? '/etc/pbs.conf');
      return (conf && pbsConfServer(conf)) ?? 'pbs';
    }
    case 'torque': {
      const fromEnv = nonEmpty(env.PBS_DEFAULT) ?? nonEmpty(env.PBS_SERVER);
      if (fromEnv) return fromEnv;
      for (const p of ['/var/spool/torque/server_name', '/var/lib/torque/server_name']) {
        const t = nonEmpty(await readText(p));
        if (t) return t.split('\n')[0]!.trim();
      }
      return 'torque';
    }
    default:
      return kind;
  }
}
