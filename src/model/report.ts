// The data of the status page (spec/porcelain.md §qdo report, qdo serve): made by
// src/core/report.ts, rendered by src/output/html-report.ts. Types only.

export interface VersionEntry {
  version: number;
  id: string;
  latest: boolean;
  state: string;
  exitCode: number | null;
  reason: string | null;
  scheduler: string | null;
  schedId: string | null;
  submitted: string | null;
  stateTime: string | null;
  runDir: string;
  /** The logs, when they exist. */
  stdout: string | null;
  stderr: string | null;
}

export interface JobEntry extends VersionEntry {
  job: string;
  project: string;
  name: string;
  sweep: string | null;
  /** Newest first, the latest included; `more` older ones exist. */
  history: VersionEntry[];
  more: number;
}

export interface SweepProgress {
  id: string;
  total: number;
  ended: number;
  states: Record<string, number>;
}

export interface ReportData {
  generated: string;
  host: string;
  allocations: { path: string; home: boolean; reachable: boolean; problem: string | null; projects: number }[];
  jobs: JobEntry[];
  sweeps: SweepProgress[];
  states: Record<string, number>;
  sources: { scheduler: string; cluster: string; jobs: number; lastQuery: string | null; problem: string | null }[];
  problems: string[];
}
