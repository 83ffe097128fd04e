// The scheduler seam (spec/scheduler.md): a pure renderer, a thin submit, one batched
// query, and cancel/hold/release. Every backend (slurm, pbs, torque, local, plugins)
// implements Backend; core code sees nothing else of a scheduler.
import type { Resources } from '../model/resources.js';

export const BUILTIN_SCHEDULERS = ['slurm', 'pbs', 'torque', 'local'] as const;
export type BuiltinScheduler = (typeof BUILTIN_SCHEDULERS)[number];

import type { NormalState, StateSource } from '../model/states.js';
export { NORMAL_STATES, TERMINAL_STATES, type NormalState, type StateSource } from '../model/states.js';

export interface JobState {
  /** Scheduler job id as the scheduler prints it (e.g. "1234", "1234_7", "56.server"). */
  id: string;
  state: NormalState;
  /** The scheduler's own state word/code, verbatim (e.g. "TIMEOUT", "F", "C"). */
  raw: string;
  source: StateSource;
  exitCode?: number | null;
  signal?: number | null;
  /** Scheduler's reason/comment, if any. */
  reason?: string;
}

export type DependencyType = 'afterok' | 'afternotok' | 'afterany' | 'after';
export interface Dependency {
  type: DependencyType;
  /** Scheduler ids. */
  ids: string[];
}

/**
 * One job of a packed array (RenderSpec.elements; spec/scheduler-common.md §Packed arrays):
 * array element `index` runs its own job, with its own name, run folder, script and env.
 */
export interface ElementSpec {
  /** The array index the scheduler gives this element (0-based, dense within one array job). */
  index: number;
  /** The element's qdo job name (QDO_JOB_NAME). */
  jobName: string;
  /** Absolute: the element's own run folder; its records and logs go here (not runDir/<index>). */
  runDir: string;
  /** The element's rendered script body. */
  script: string;
  /** The element's QDO_PARAM_* and --env, exported after (so over) RenderSpec.env. */
  env: Record<string, string>;
  /** The element's manifest id, shown in the rendered script (the array job carries RenderSpec.tag). */
  tag?: string;
}

/** Everything a renderer needs; rendering is a pure function of this. */
export interface RenderSpec {
  /** qdo job name (used as the scheduler job name unless resources.job_name is set). */
  jobName: string;
  resources: Resources;
  /** The user's job script body (already rendered from its template). */
  script: string;
  /** Absolute run folder: the wrapper writes its records and the job's logs here. */
  runDir: string;
  /** Absolute folder the job starts in (QDO_SUBMIT_DIR). */
  submitDir: string;
  /** Extra environment for the job (QDO_PARAM_*, --env). */
  env: Record<string, string>;
  dependencies?: Dependency[];
  /** Opaque tag (the manifest id) the scheduler keeps with the job, for idempotent submit. */
  tag?: string;
  prologue?: string;
  epilogue?: string;
  /** Shell command the wrapper runs after the job ends, with the QDO_* variables and QDO_STATE. */
  notify?: string;
  /**
   * Packed array (§Packed arrays): one array job, indices 0..n-1, element i running
   * elements[i]. resources.array must be unset. runDir is then the array's own folder (the
   * scheduler's output files), `script` is unused, `env` is shared by every element, `tag`
   * tags the whole array job; prologue, epilogue and notify apply to every element.
   */
  elements?: ElementSpec[];
  /** Where the script runs: the task folder (`run`) or a path; absent: submitDir (versions made before `workdir`). */
  workDir?: WorkDirSpec;
  /** Modules, venv/conda and container to set up before the prologue (§Environments). */
  environment?: EnvironmentSetup;
}

/** Where the job script runs (spec/scheduler-common.md §Working folder); absent: the submit folder. */
export type WorkDirSpec = { kind: 'task' } | { kind: 'path'; path: string };

/** A named environment as the wrapper sets it up (spec/scheduler-common.md §Environments); its variables are in RenderSpec.env. */
export interface EnvironmentSetup {
  name: string;
  modules?: string[];
  venv?: string;
  conda?: string;
  container?: { image: string; runtime?: 'apptainer' | 'singularity'; bind?: string[]; args?: string[] };
}

export interface SubmitOptions {
  /** Folder to run the submit command in. */
  cwd: string;
  /** Submit in held state. */
  hold?: boolean;
}

/** The answer of Backend.check. */
export interface CheckAnswer {
  accepted: boolean;
  /** The scheduler's own words (e.g. "Requested node configuration is not available"). */
  message: string;
}

export interface Backend {
  readonly kind: string;
  /** Pure: the exact script that submit() would send. Throws UsageError for inexpressible resources. */
  render(spec: RenderSpec): string;
  /** Submits a rendered script file; returns the scheduler's job id. */
  submit(scriptPath: string, opts: SubmitOptions): Promise<string>;
  /** States of any number of ids in ONE scheduler call (plus at most one accounting call). */
  query(ids: string[]): Promise<Map<string, JobState>>;
  cancel(ids: string[]): Promise<void>;
  hold(ids: string[]): Promise<void>;
  release(ids: string[]): Promise<void>;
  /**
   * Asks the scheduler whether it would take this script, submitting nothing (`sbatch
   * --test-only`; spec/scheduler-common.md §Check). Absent: the scheduler has no such question.
   */
  check?(script: string, opts: SubmitOptions): Promise<CheckAnswer>;
  /** Finds a job submitted with this tag, for recovery after an ambiguous submit. */
  findByTag?(tag: string): Promise<string | null>;
  /**
   * Scheduler id of element `index` of the packed array job whose submit returned `baseId`
   * (Slurm and local `42_3`, PBS Pro and TORQUE `42[3].server`); query, cancel, hold and
   * release take it, within each scheduler's limits (spec/scheduler-*.md §Packed arrays).
   * Absent: this backend cannot pack (a plugin without it); submit one job per element.
   */
  elementId?(baseId: string, index: number): string;
  /** Most elements one packed array may have here (the scheduler's array size limit). */
  maxArraySize?: number;
  /**
   * Largest job script the scheduler takes, in bytes (Slurm: max_script_size, 4 MiB by
   * default); undefined when there is no known limit. render() throws UsageError
   * `script-too-large` (data: bytes, limit) above it: pack fewer elements per array.
   */
  maxScriptBytes?: number;
  /**
   * Whether RenderSpec.dependencies may name single elements (ids from elementId). Absent
   * means yes; PBS Pro says false: its jobs can wait on a whole array only.
   */
  elementDependencies?: boolean;
  /**
   * The state of a job the scheduler has taken but not started, as submit records it:
   * `pending` when absent; a pool says `queued` (spec/pools.md §States).
   */
  waitingState?: NormalState;
}
