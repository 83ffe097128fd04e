// How each scheduler tells a running job who it is (spec/scheduler-common.md §Job
// variables). The wrapper (wrapper.ts) turns these into the QDO_* variables every job
// sees, so a job script never needs to know which scheduler runs it.

/**
 * Bash fragments the wrapper places inside double quotes: `export QDO_JOB_ID="<jobId>"`.
 * So each must be valid inside "..." (parameter expansions, literal text) and must not
 * contain `"` or a newline. An expression that expands to "" means "not known".
 */
export interface JobVarMap {
  /** The scheduler's id of this job (for array tasks: of this task). */
  jobId: string;
  /** The array index of this task; "" outside arrays. */
  arrayIndex: string;
  /**
   * Path of a file listing the job's hosts, one per line, as the scheduler writes it.
   * "" (or a path that is not readable at run time) makes the wrapper write
   * `<task dir>/qdo-nodefile` from `nodeList`, or from `hostname` when that fails.
   */
  nodeFile: string;
  /** CPUs for one task of this job (the thread count to use); "1" when unknown. */
  ncpus: string;
  /** The folder the job was submitted from; used only when RenderSpec.submitDir is "". */
  submitDir: string;
  /**
   * Optional expression (like jobId) giving the job's hosts as a compressed hostlist
   * ("n[01-03],gpu5", Slurm's SLURM_JOB_NODELIST): when nodeFile is "" or unreadable, the
   * wrapper expands it itself, starting no process (§Cost).
   */
  hostList?: string;
  /**
   * Optional bash COMMAND (not an expression) printing the job's hosts one per line,
   * used when nodeFile is "" or unreadable and hostList is absent or has a form the
   * wrapper does not expand (two bracket groups in one name). Runs with stderr discarded.
   */
  nodeList?: string;
}

export const SLURM_JOB_VARS: JobVarMap = {
  jobId: '${SLURM_JOB_ID:-}',
  arrayIndex: '${SLURM_ARRAY_TASK_ID:-}',
  nodeFile: '',
  hostList: '${SLURM_JOB_NODELIST:-}',
  nodeList: 'scontrol show hostnames "${SLURM_JOB_NODELIST:-}"',
  ncpus: '${SLURM_CPUS_PER_TASK:-${SLURM_CPUS_ON_NODE:-1}}',
  submitDir: '${SLURM_SUBMIT_DIR:-}',
};

export const PBS_JOB_VARS: JobVarMap = {
  jobId: '${PBS_JOBID:-}',
  arrayIndex: '${PBS_ARRAY_INDEX:-}',
  nodeFile: '${PBS_NODEFILE:-}',
  ncpus: '${NCPUS:-1}',
  submitDir: '${PBS_O_WORKDIR:-}',
};

/**
 * TORQUE, with Slurm fallbacks: the slurm-wlm-torque qsub wrapper runs jobs under Slurm,
 * where only SLURM_* variables are set.
 */
export const TORQUE_JOB_VARS: JobVarMap = {
  jobId: '${PBS_JOBID:-${SLURM_JOB_ID:-}}',
  arrayIndex: '${PBS_ARRAYID:-${SLURM_ARRAY_TASK_ID:-}}',
  nodeFile: '${PBS_NODEFILE:-}',
  hostList: '${SLURM_JOB_NODELIST:-}',
  nodeList: '[ -n "${SLURM_JOB_NODELIST:-}" ] && scontrol show hostnames "$SLURM_JOB_NODELIST"',
  ncpus: '${PBS_NUM_PPN:-${SLURM_CPUS_PER_TASK:-${SLURM_CPUS_ON_NODE:-1}}}',
  submitDir: '${PBS_O_WORKDIR:-${SLURM_SUBMIT_DIR:-}}',
};

/** The local backend's shepherd sets these before starting the wrapper (spec/local-backend.md). */
export function localJobVars(cpus: number): JobVarMap {
  return {
    jobId: '${QDO_LOCAL_JOB_ID:-}',
    arrayIndex: '${QDO_LOCAL_ARRAY_INDEX:-}',
    nodeFile: '',
    ncpus: String(Math.max(1, Math.floor(cpus))),
    submitDir: '',
  };
}
