// The world as core code sees it. Only src/cli builds a Context from `process`;
// everything below takes one, so tests inject the clock, env, cwd and process identity.
import type { Liveness, ProcessIdentity } from './util/proc.js';

export type { Liveness, ProcessIdentity };

export interface Context {
  /** Working directory (absolute). */
  cwd: string;
  /** Environment variables. */
  env: Readonly<Record<string, string | undefined>>;
  /** The home allocation root (QDO_HOME, default the user's home directory). */
  home: string;
  /** Wall clock. */
  now(): Date;
  /** This machine's host name (recorded with submissions; spec/submissions.md). */
  host: string;
  /**
   * This process: host, pid and start (boot id, pid namespace, start time). A submission
   * in progress names its submitter by it (record fields `host`, `pid`, `pid_start`).
   */
  self: ProcessIdentity;
  /**
   * Whether a process is alive: `dead` only when provably gone (same host and boot, and no
   * process with that pid and start time); another host is `unknown` (spec/submissions.md §Recovery).
   */
  alive(p: ProcessIdentity): Liveness;
  /** Who runs qdo: what is trusted to run code as them (spec/trust.md). */
  user: UserId;
  /** How to start this qdo again as a process (node and its script): pool pilots run it. */
  command?: string[];
}

/** The invoking user, as the trust rules need it (spec/trust.md). */
export interface UserId {
  uid: number;
  /** Primary group (a group-writable file of one's own private group is not shared). */
  gid: number;
  name: string;
}
