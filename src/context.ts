// The world as core code sees it. Only src/cli builds a Context from `process`;
// everything below takes one, so tests inject the clock, env and cwd.

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
  /** This process's id (a submission in progress names its submitter). */
  pid: number;
  /** True if a process with this id is alive on this host (recovery of interrupted submits). */
  alive(pid: number): boolean;
  /** Who runs qdo: what is trusted to run code as them (spec/trust.md). */
  user: UserId;
  /** How to start this qdo again as a process (node and its script): pool pilots run it. */
  self?: string[];
}

/** The invoking user, as the trust rules need it (spec/trust.md). */
export interface UserId {
  uid: number;
  /** Primary group (a group-writable file of one's own private group is not shared). */
  gid: number;
  name: string;
}
