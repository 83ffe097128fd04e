// The job wrapper: the bash body every rendered job script carries after its scheduler
// directives (spec/scheduler-common.md §Wrapper). It gives the job its QDO_* variables,
// writes the start and end records core reads (§Records), captures the job's stdout and
// stderr in the run folder as it runs (§Logs), runs prologue, script and epilogue, and
// forwards signals (§Signals), and keeps each attempt's records and logs when the job is
// run again (§Attempts). Cheap (§Cost): in the common path it starts no process but the
// job's own script. Pure: same RenderSpec and JobVarMap, same text.
import { UsageError } from '../errors.js';
import type { JobVarMap } from './job-vars.js';
import { packedElements, packedRange } from './packing.js';
import type { ElementSpec, EnvironmentSetup, RenderSpec } from './types.js';

export type { JobVarMap } from './job-vars.js';
export { SLURM_JOB_VARS, PBS_JOB_VARS, TORQUE_JOB_VARS, localJobVars } from './job-vars.js';

/** Record and log file names in the task folder (a contract with core: §Records). */
export const START_RECORD = 'qdo-start.json';
export const END_RECORD = 'qdo-end.json';
export const STDOUT_LOG = 'stdout';
export const STDERR_LOG = 'stderr';
/** Written by the wrapper just before its final end record when it will run the notify command (§Notify). */
export const NOTIFY_MARKER = 'qdo-notified';
/** Written into the run folder when a task starts again after an earlier attempt (§Attempts). */
export const RERUN_MARKER = 'qdo-rerun.json';
/** An earlier attempt N's files: `qdo-start.N.json`, `qdo-end.N.json`, `stdout.N`, `stderr.N`, `qdo-notified.N`. */
export function attemptFile(name: string, attempt: number): string {
  return name.endsWith('.json') ? `${name.slice(0, -5)}.${attempt}.json` : `${name}.${attempt}`;
}
/** How long the notify command may run before it is stopped (TERM, then KILL 5 s later). */
export const NOTIFY_TIMEOUT_SEC = 60;
/** Signals the wrapper traps and forwards to the job (§Signals). */
export const TRAPPED_SIGNALS = ['TERM', 'INT', 'USR1', 'USR2', 'XCPU'] as const;
/** Of those, the ones that mean "stop": they trigger the provisional end record. */
export const TERMINATING_SIGNALS = ['TERM', 'INT', 'XCPU'] as const;

/** Variables the wrapper sets itself; RenderSpec.env may not set them. */
export const WRAPPER_VARS = [
  'QDO_JOB_ID',
  'QDO_JOB_NAME',
  'QDO_ARRAY_INDEX',
  'QDO_NODEFILE',
  'QDO_NCPUS',
  'QDO_SUBMIT_DIR',
  'QDO_RUN_DIR',
  'QDO_TASK_DIR',
  'QDO_EXIT_CODE',
  'QDO_SIGNAL',
  'QDO_STATE',
] as const;

/** Single-quotes a string for bash: safe for any content (spaces, quotes, $, newlines). */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A heredoc delimiter that is not a line of `text` (a heredoc ends at an exact match). */
export function heredocDelimiter(text: string, base = 'QDO_EOF'): string {
  const lines = new Set(text.split('\n'));
  let d = base;
  for (let i = 1; lines.has(d); i++) d = `${base}_${i}`;
  return d;
}

function checkVars(vars: JobVarMap): void {
  for (const k of ['jobId', 'arrayIndex', 'nodeFile', 'ncpus', 'submitDir', 'hostList'] as const) {
    const v = vars[k];
    if (k === 'hostList' && v === undefined) continue;
    // A programming error in a renderer, not a user mistake.
    if (typeof v !== 'string' || /["\n\r`]/.test(v)) throw new Error(`JobVarMap.${k} must be a one-line fragment without " or \`: ${JSON.stringify(v)}`);
  }
  if (vars.nodeList !== undefined && /[\n\r]/.test(vars.nodeList)) throw new Error('JobVarMap.nodeList must be one line');
}

function checkSpec(spec: RenderSpec): void {
  if (!spec.runDir.startsWith('/')) throw new UsageError(`run folder must be an absolute path, found ${JSON.stringify(spec.runDir)}`, { code: 'bad-run-dir' });
  if (spec.submitDir !== '' && !spec.submitDir.startsWith('/')) {
    throw new UsageError(`submit folder must be an absolute path, found ${JSON.stringify(spec.submitDir)}`, { code: 'bad-submit-dir' });
  }
  checkEnv(spec.env, 'env');
  if (spec.workDir?.kind === 'path' && (!spec.workDir.path.startsWith('/') || /[\n\r\0]/.test(spec.workDir.path))) {
    throw new UsageError(`working folder must be an absolute one-line path, found ${JSON.stringify(spec.workDir.path)}`, { code: 'bad-workdir' });
  }
}

function checkEnv(env: Record<string, string>, field: string): void {
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      throw new UsageError(`${field}: ${JSON.stringify(k)} is not a valid variable name (letters, digits, _; not starting with a digit)`, { code: 'bad-env' });
    }
    if ((WRAPPER_VARS as readonly string[]).includes(k) || k.startsWith('qdo_')) {
      throw new UsageError(`${field}: ${k} is set by qdo itself and cannot be given`, { code: 'bad-env' });
    }
    if (typeof v !== 'string' || v.includes('\0')) throw new UsageError(`${field}: ${k} must be a string without NUL bytes`, { code: 'bad-env' });
  }
}

/**
 * Bash that writes `text` (plus a final newline if it has none) to `path` at run time,
 * readable as written in `--dry-run`: without a `'` in it, a single-quoted literal printed by
 * printf (no process: §Cost); with one, a quoted heredoc through `cat` (a literal would
 * show every `'` as `'\''`; bash reads a heredoc into a variable a byte at a time, slower
 * than the one process).
 */
function writeText(path: string, text: string): string {
  const body = text.endsWith('\n') || text === '' ? text : `${text}\n`;
  if (!body.includes("'")) return `printf '%s' '${body}' >${path}\n`;
  const d = heredocDelimiter(body);
  return `cat >${path} <<'${d}'\n${body}${d}\n`;
}

/**
 * How the wrapper runs a script file, in the child it forks for it (§Cost). A script without
 * `#!`, or whose `#!` line names the wrapper's own bash with no argument, is sourced there:
 * the same bash, without starting another one. Any other `#!` line is run as the Linux
 * kernel does, by the interpreter it names with the optional argument, so the file needs no
 * execute bit (no `chmod`).
 */
export function scriptCommand(script: string, file: string): string {
  if (!script.startsWith('#!')) return `. ${file}`;
  const line = script.slice(2).split('\n', 1)[0]!.replace(/[ \t\r]+$/, '').replace(/^[ \t]+/, '');
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) return `. ${file}`; // "#!" alone: the kernel refuses it; bash is the kind reading
  const interp = m[1]!;
  const arg = m[2] !== undefined && m[2] !== '' ? m[2] : undefined;
  const exec = `exec ${shellQuote(interp)}${arg !== undefined ? ` ${shellQuote(arg)}` : ''} ${file}`;
  // Only when it is the very bash running the wrapper (a `#!/usr/bin/env bash` may mean another).
  if (arg === undefined && /^\/(usr\/)?(local\/)?bin\/bash$/.test(interp)) return `if [ ${shellQuote(interp)} -ef "$BASH" ]; then . ${file}; else ${exec}; fi`;
  return exec;
}

/** The interpreter and its argument a script file runs by (its #! line; bash without one). */
function interpreterOf(script: string): string[] {
  if (!script.startsWith('#!')) return ['bash'];
  const line = script.slice(2).split('\n', 1)[0]!.replace(/[ \t\r]+$/, '').replace(/^[ \t]+/, '');
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) return ['bash'];
  return m[2] !== undefined && m[2] !== '' ? [m[1]!, m[2]] : [m[1]!];
}

/**
 * How the wrapper runs a script file inside the environment's container (§Environments):
 * `RUNTIME exec` with the task folder and the working folder bound and entered, the script
 * run by its interpreter. Every value from config is one quoted word.
 */
export function containerCommand(script: string, file: string, c: NonNullable<EnvironmentSetup['container']>): string {
  const words = [
    shellQuote(c.runtime ?? 'apptainer'),
    'exec',
    '"${qdo_cbind[@]}"',
    '--pwd',
    '"$PWD"',
    ...(c.bind ?? []).flatMap((b) => ['--bind', shellQuote(b)]),
    ...(c.args ?? []).map(shellQuote),
    shellQuote(c.image),
    ...interpreterOf(script).map(shellQuote),
    file,
  ];
  return `exec ${words.join(' ')}`;
}

/**
 * Bash that sets up a named environment in the wrapper's shell (§Environments): modules,
 * then a venv or a conda environment. Returns 1 (after a message) if a step fails. Config
 * values are data: each one is a single-quoted word, never shell text.
 */
function environmentFunction(e: EnvironmentSetup): string {
  const say = (msg: string) => `printf 'qdo: %s\\n' ${shellQuote(`environment ${e.name}: ${msg}`)} >&2`;
  const lines: string[] = ['qdo_setup_env() {'];
  if (e.modules !== undefined && e.modules.length > 0) {
    lines.push(`  # A batch shell may not have the module command yet: the usual init files define it.
  if ! type module >/dev/null 2>&1; then
    for qdo_f in /etc/profile.d/lmod.sh /etc/profile.d/modules.sh /usr/share/lmod/lmod/init/bash /usr/share/modules/init/bash; do
      if [ -r "$qdo_f" ]; then . "$qdo_f"; break; fi
    done
  fi
  type module >/dev/null 2>&1 || { ${say('no module command (environment modules or Lmod) on this host')}; return 1; }`);
    for (const m of e.modules) lines.push(`  module load ${shellQuote(m)} || { ${say(`module load ${m} failed`)}; return 1; }`);
  }
  if (e.venv !== undefined) {
    lines.push(`  . ${shellQuote(`${e.venv.replace(/\/+$/, '')}/bin/activate`)} || { ${say(`cannot activate the venv ${e.venv}`)}; return 1; }`);
  }
  if (e.conda !== undefined) {
    lines.push(`  if ! type conda >/dev/null 2>&1; then ${say('no conda command on this host')}; return 1; fi
  eval "$(conda shell.bash hook)" && conda activate ${shellQuote(e.conda)} || { ${say(`conda activate ${e.conda} failed`)}; return 1; }`);
  }
  if (e.container !== undefined) {
    const rt = e.container.runtime ?? 'apptainer';
    lines.push(`  type ${shellQuote(rt)} >/dev/null 2>&1 || { ${say(`no ${rt} command on this host`)}; return 1; }`);
  }
  lines.push('  return 0', '}');
  return lines.join('\n') + '\n';
}

/**
 * The element table of a packed array (spec/scheduler-common.md §Packed arrays): a case on
 * the scheduler's array index that sets the element's name, run folder and env, and which
 * script it runs (identical scripts are written once). Unknown index: exit 2 before any
 * record, the message going to the scheduler's own output file.
 */
function packedSelect(elements: ElementSpec[], arrayIndex: string): { text: string; scripts: string[] } {
  const scripts: string[] = [];
  const scriptNo = new Map<string, number>();
  const lines: string[] = [];
  const n = elements.length;
  lines.push(`# Which job this array task runs (§Packed arrays): element i for array index i.`);
  lines.push(`qdo_index="${arrayIndex}"`);
  if (n === 1) {
    // A single element may run as a plain job (PBS Pro has no one-index arrays).
    lines.push(`[ -n "$qdo_index" ] || qdo_index=0`);
  } else {
    lines.push(`if [ -z "$qdo_index" ]; then
  echo "qdo: this is a packed array job but the scheduler gave no array index" >&2
  exit 2
fi`);
  }
  lines.push('case $qdo_index in');
  for (const e of elements) {
    let no = scriptNo.get(e.script);
    if (no === undefined) {
      no = scripts.length;
      scripts.push(e.script);
      scriptNo.set(e.script, no);
    }
    checkEnv(e.env, `elements[${e.index}].env`);
    lines.push(`  ${e.index})${e.tag !== undefined ? ` # manifest ${e.tag}` : ''}`);
    lines.push(`    export QDO_JOB_NAME=${shellQuote(e.jobName)}`);
    lines.push(`    export QDO_RUN_DIR=${shellQuote(e.runDir)}`);
    for (const k of Object.keys(e.env).sort()) lines.push(`    export ${k}=${shellQuote(e.env[k]!)}`);
    lines.push(`    qdo_script=${no} ;;`);
  }
  lines.push(`  *)
    echo "qdo: this packed array job has no element for array index $qdo_index (it has ${packedRange(n)})" >&2
    exit 2 ;;
esac
`);
  return { text: lines.join('\n'), scripts };
}

/**
 * The EXIT trap of a job with a notify command (spec/scheduler-common.md §Notify): the
 * marker, the final end record, then the command, whose status never changes the job's.
 */
function notifyFinish(notify: string, timeLimit: number | undefined): string {
  // What the wrapper can tell of a stop: XCPU is a limit; TERM or INT near the time limit
  // is the limit (the 60 s margin refresh.ts uses too), earlier a cancel; no limit: unknown.
  const stopped =
    timeLimit === undefined
      ? 'qdo_state=stopped'
      : `if [ "$SECONDS" -ge ${Math.max(0, timeLimit - 60)} ]; then qdo_state=timeout; else qdo_state=cancelled; fi`;
  return `# From here on the end record is written however the wrapper exits (§Records), and
# then the notify command runs (§Notify).
qdo_notify() {
  # Its output goes where the wrapper's own stderr goes (the stderr log), through the same
  # open file, so nothing written there later can overwrite it.
  "$BASH" -c ${shellQuote(notify)} </dev/null >&2 &
  local cmd=$! ticks=0 rc
  # At most ${NOTIFY_TIMEOUT_SEC} s, then TERM, KILL 5 s later. Polled in tenths of a second
  # rather than watched by a sleeping helper, so nothing is left behind when it ends. Bash's
  # own notes about its background job ("Killed") are dropped; ours go to fd 3, the log.
  {
    while kill -0 "$cmd"; do
      if [ "$ticks" = ${NOTIFY_TIMEOUT_SEC * 10} ]; then
        echo "qdo: the notify command ran for ${NOTIFY_TIMEOUT_SEC} s and is stopped" >&3
        kill -TERM "$cmd"
      elif [ "$ticks" = ${NOTIFY_TIMEOUT_SEC * 10 + 50} ]; then
        kill -KILL "$cmd"
      fi
      sleep 0.1
      ticks=$((ticks + 1))
    done
    wait "$cmd"
  } 3>&2 2>/dev/null
  rc=$?
  [ "$rc" = 0 ] || echo "qdo: the notify command exited with status $rc" >&2
}
qdo_finish() {
  local code=$1 qdo_state
  # No signal may rewrite the final record; the notify command may be stopped as usual.
  trap '' ${TRAPPED_SIGNALS.join(' ')}
  if [ -z "$qdo_signal" ]; then
    if [ "$code" = 0 ]; then qdo_state=completed; else qdo_state=failed; fi
  elif [ "$qdo_signal" = XCPU ]; then
    qdo_state=timeout
  else
    ${stopped}
  fi
  qdo_now
  qdo_record ${NOTIFY_MARKER} "{\\"state\\":\\"$qdo_state\\",\\"exit_code\\":$code,\\"time\\":\\"$qdo_t\\"}"
  qdo_write_end "$code"
  trap - ${TRAPPED_SIGNALS.join(' ')}
  export QDO_STATE=$qdo_state QDO_EXIT_CODE=$code QDO_SIGNAL=$qdo_signal
  qdo_notify
  exit "$code"
}
trap 'qdo_finish $?' EXIT`;
}

/**
 * Bash that sets qdo_hosts to the hosts of a compressed hostlist ("n[01-03,7],gpu5"), one per
 * line, with builtins only (§Cost: no \`scontrol show hostnames\` per job). Returns 1 for a
 * name with two bracket groups ("r[1-2]n[1-4]"): the caller then asks the scheduler's tool.
 */
const HOSTLIST_FUNCTIONS = `# Hosts of a compressed hostlist, one per line, into qdo_hosts (builtins only).
qdo_expand_item() {
  local item=$1 prefix rest body suffix r lo hi w i h IFS=,
  case $item in
    *'['*']'*'['*) return 1 ;;
    *'['*']'*) ;;
    *) qdo_hosts+=$item$'\\n'; return 0 ;;
  esac
  prefix=\${item%%'['*}; rest=\${item#*'['}; body=\${rest%%']'*}; suffix=\${rest#*']'}
  for r in $body; do
    lo=\${r%%-*}; hi=\${r#*-}
    case $lo$hi in *[!0-9]*|'') return 1 ;; esac
    w=0; [ "\${lo:0:1}" != 0 ] || w=\${#lo}
    for ((i = 10#$lo; i <= 10#$hi; i++)); do
      printf -v h '%0*d' "$w" "$i"
      qdo_hosts+=$prefix$h$suffix$'\\n'
    done
  done
}
qdo_expand_hosts() {
  local s=$1 item='' depth=0 i c
  qdo_hosts=''
  for ((i = 0; i < \${#s}; i++)); do
    c=\${s:i:1}
    case $c in '[') depth=$((depth + 1)) ;; ']') depth=$((depth - 1)) ;; esac
    if [ "$c" = , ] && [ "$depth" = 0 ]; then
      qdo_expand_item "$item" || return 1
      item=''
    else
      item+=$c
    fi
  done
  [ -z "$item" ] || qdo_expand_item "$item"
}
`;

/**
 * The bash text that follows a scheduler's `#!/bin/bash` line and directives.
 * Throws UsageError for a bad env name or a relative run/submit folder.
 */
export function renderWrapper(spec: RenderSpec, vars: JobVarMap): string {
  checkVars(vars);
  checkSpec(spec);
  const elements = packedElements(spec);
  const packed = elements !== undefined ? packedSelect(elements, vars.arrayIndex) : undefined;
  const isArray = spec.resources.array !== undefined;
  const out: string[] = [];
  const add = (s: string): void => {
    out.push(s);
  };
  const env = Object.keys(spec.env).sort();
  const script = spec.script;
  const prologue = spec.prologue ?? '';
  const epilogue = spec.epilogue ?? '';
  const notify = spec.notify !== undefined && spec.notify.trim() !== '' ? spec.notify : undefined;
  const hostList = vars.hostList !== undefined && vars.hostList !== '';
  const nodeList = vars.nodeList !== undefined && vars.nodeList.trim() !== '' ? vars.nodeList : undefined;

  add(
    packed === undefined
      ? `# ---- qdo job wrapper (spec/scheduler-common.md §Wrapper) ----
# Generated by qdo. Your script is further down, written to qdo-script; the wrapper runs it
# with its records (qdo-start.json, qdo-end.json) and logs (stdout, stderr) in the run
# folder, starting no other process in the common case (§Cost).
`
      : `# ---- qdo job wrapper (spec/scheduler-common.md §Wrapper) ----
# Generated by qdo. A packed array of ${elements!.length} job(s) (§Packed arrays): array index i runs
# element i, a job of its own, with its records (qdo-start.json, qdo-end.json) and logs
# (stdout, stderr) in its own run folder. The elements and their scripts are further down.
`,
  );
  add(`
# Who and where this job is, in this scheduler's words (§Job variables).
export QDO_JOB_ID="${vars.jobId}"
export QDO_ARRAY_INDEX=${isArray ? `"${vars.arrayIndex}"` : "''"}
export QDO_NCPUS="${vars.ncpus}"
[ -n "$QDO_NCPUS" ] || QDO_NCPUS=1
${packed === undefined ? `export QDO_JOB_NAME=${shellQuote(spec.jobName)}\nexport QDO_RUN_DIR=${shellQuote(spec.runDir)}\n` : ''}export QDO_SUBMIT_DIR=${spec.submitDir !== '' ? shellQuote(spec.submitDir) : `"${vars.submitDir}"`}
[ -n "$QDO_SUBMIT_DIR" ] || QDO_SUBMIT_DIR=$PWD
`);
  if (env.length > 0) {
    add(packed === undefined ? `# The job's environment: parameters and --env (§Environment).\n` : `# The environment every element shares (§Packed arrays).\n`);
    for (const k of env) add(`export ${k}=${shellQuote(spec.env[k]!)}\n`);
    add('\n');
  }
  if (packed !== undefined) {
    if (env.length === 0) add('\n');
    add(packed.text);
    add(`# Each element keeps its records and logs in its own run folder, as a single job does.
export QDO_TASK_DIR="$QDO_RUN_DIR"
`);
  } else if (isArray) {
    add(`# Each array task keeps its records and logs in <run folder>/<index> (§Array jobs).
if [ -z "$QDO_ARRAY_INDEX" ]; then
  echo "qdo: this is an array job but the scheduler gave no array index" >&2
  exit 2
fi
export QDO_TASK_DIR="$QDO_RUN_DIR/$QDO_ARRAY_INDEX"
`);
  } else {
    add(`export QDO_TASK_DIR="$QDO_RUN_DIR"\n`);
  }
  add(`if [ ! -d "$QDO_TASK_DIR" ] && ! mkdir -p -- "$QDO_TASK_DIR"; then
  echo "qdo: cannot create the run folder $QDO_TASK_DIR" >&2
  exit 1
fi
qdo_host=\${HOSTNAME:-}
[ -n "$qdo_host" ] || qdo_host=$(uname -n 2>/dev/null || echo unknown)

# A JSON string from a shell string, into qdo_j (no subshell: §Cost).
qdo_json() {
  local s=$1
  s=\${s//\\\\/\\\\\\\\}
  s=\${s//\\"/\\\\\\"}
  s=\${s//$'\\n'/\\\\n}
  s=\${s//$'\\t'/\\\\t}
  s=\${s//[[:cntrl:]]/}
  qdo_j="\\"$s\\""
}
# The time now, UTC, into qdo_t (printf's own clock: no date process).
qdo_now() { TZ=UTC0 printf -v qdo_t '%(%Y-%m-%dT%H:%M:%SZ)T' -1; }
# A record is one line written by one printf straight into its file (§Records): a reader
# finds the whole record, or a file that does not parse, which it takes as no record yet.
qdo_record() { printf '%s\\n' "$2" >"$QDO_TASK_DIR/$1"; }
qdo_signal=''   # first terminating signal received (TERM, INT, XCPU), '' if none
qdo_signals=''  # every trapped signal received, as JSON list items
qdo_recording=0 # 1 once the start record is written: from then on a stop writes an end record
qdo_json "$qdo_host"; qdo_host_json=$qdo_j
qdo_write_end() {  # $1: exit code, or null while the job is still being stopped
  local sig=null
  [ -z "$qdo_signal" ] || sig="\\"$qdo_signal\\""
  qdo_now
  qdo_record ${END_RECORD} "{\\"exit_code\\":$1,\\"signal\\":$sig,\\"signals\\":[$qdo_signals],\\"time\\":\\"$qdo_t\\",\\"host\\":$qdo_host_json,\\"attempt\\":$qdo_attempt}"
}
${hostList ? HOSTLIST_FUNCTIONS : ''}
# Which attempt this is (§Attempts): a start record already here means the job runs again
# (a requeue, a PBS rerun). Only builtins are used unless it does.
qdo_attempt=1
if [ -e "$QDO_TASK_DIR/${START_RECORD}" ]; then
  while [ -e "$QDO_TASK_DIR/qdo-start.$qdo_attempt.json" ]; do qdo_attempt=$((qdo_attempt + 1)); done
  qdo_attempt=$((qdo_attempt + 1))
fi

# Signals are recorded and passed on to the running script (§Signals). Trapped before
# anything slow: a scheduler may cancel a job the moment it starts running. A terminating
# signal also writes a provisional end record (exit_code null): if the scheduler kills
# the wrapper before the script ends, that record says why.
qdo_child=''
qdo_interrupted=0
qdo_on_signal() {
  qdo_interrupted=1
  qdo_signals="$qdo_signals\${qdo_signals:+,}\\"$1\\""
  [ -z "$qdo_child" ] || kill -s "$1" "$qdo_child" 2>/dev/null
  case $1 in
    ${TERMINATING_SIGNALS.join('|')})
      if [ -z "$qdo_signal" ]; then
        qdo_signal=$1
        [ "$qdo_recording" = 0 ] || qdo_write_end null
      fi
      ;;
  esac
}
${TRAPPED_SIGNALS.map((s) => `trap 'qdo_on_signal ${s}' ${s}`).join('\n')}

if [ "$qdo_attempt" -gt 1 ]; then
  # The earlier attempt's records and logs keep their files, numbered (§Attempts); the run
  # folder will say a task started again (qdo-rerun.json), for qdo's one cheap look at ended jobs.
  qdo_prev=$((qdo_attempt - 1))
  [ ! -e "$QDO_TASK_DIR/${END_RECORD}" ] || mv -f -- "$QDO_TASK_DIR/${END_RECORD}" "$QDO_TASK_DIR/qdo-end.$qdo_prev.json"
  mv -f -- "$QDO_TASK_DIR/${START_RECORD}" "$QDO_TASK_DIR/qdo-start.$qdo_prev.json"
  for qdo_f in ${STDOUT_LOG} ${STDERR_LOG}${notify !== undefined ? ` ${NOTIFY_MARKER}` : ''}; do
    [ ! -e "$QDO_TASK_DIR/$qdo_f" ] || mv -f -- "$QDO_TASK_DIR/$qdo_f" "$QDO_TASK_DIR/$qdo_f.$qdo_prev"
  done
else
  # A stale end record or notify marker without a start record is no attempt's: dropped.
  for qdo_f in ${END_RECORD}${notify !== undefined ? ` ${NOTIFY_MARKER}` : ''}; do
    [ ! -e "$QDO_TASK_DIR/$qdo_f" ] || rm -f -- "$QDO_TASK_DIR/$qdo_f"
  done
fi

qdo_now
qdo_json "$QDO_JOB_ID"; qdo_id_json=$qdo_j
${isArray ? 'qdo_json "$QDO_ARRAY_INDEX"; qdo_index_json=$qdo_j' : 'qdo_index_json=null'}
qdo_record ${START_RECORD} "{\\"host\\":$qdo_host_json,\\"time\\":\\"$qdo_t\\",\\"job_id\\":$qdo_id_json,\\"array_index\\":$qdo_index_json,\\"pid\\":$$,\\"attempt\\":$qdo_attempt}"
qdo_recording=1
[ -z "$qdo_signal" ] || qdo_write_end null
if [ "$qdo_attempt" -gt 1 ]; then
  # Told after the new start record, so whoever sees the marker change finds the new attempt.
  qdo_now
${isArray ? '  qdo_json "$QDO_ARRAY_INDEX"\n' : ''}  printf '%s\\n' "{\\"task\\":${isArray ? '$qdo_j' : 'null'},\\"attempt\\":$qdo_attempt,\\"time\\":\\"$qdo_t\\",\\"host\\":$qdo_host_json}" >"$QDO_RUN_DIR/.${RERUN_MARKER}.tmp-$$" &&
    mv -f -- "$QDO_RUN_DIR/.${RERUN_MARKER}.tmp-$$" "$QDO_RUN_DIR/${RERUN_MARKER}"
fi
${notify === undefined ? `# From here on the end record is written however the wrapper exits (§Records).
trap 'qdo_write_end $?' EXIT` : notifyFinish(notify, spec.resources.time)}

# The job's output goes to the run folder as it is produced (§Logs). Stdin stays as it
# is: PBS and TORQUE feed this very script to bash on stdin; whatever we start gets
# /dev/null instead.
exec >"$QDO_TASK_DIR/${STDOUT_LOG}" 2>"$QDO_TASK_DIR/${STDERR_LOG}"

# Hosts of this job, one per line (§Job variables): the scheduler's node file, else written
# from its host list without starting a process${nodeList !== undefined ? ' (its own tool only for a list that needs it)' : ''}.
export QDO_NODEFILE="${vars.nodeFile}"
if [ -z "$QDO_NODEFILE" ] || [ ! -r "$QDO_NODEFILE" ]; then
  QDO_NODEFILE="$QDO_TASK_DIR/qdo-nodefile"
  qdo_hosts=''
${
    hostList
      ? `  qdo_expand_hosts "${vars.hostList}"${nodeList !== undefined ? ` ||\n    qdo_hosts=$( { ${nodeList}; } </dev/null 2>/dev/null)$'\\n'` : ''}\n`
      : nodeList !== undefined
        ? `  qdo_hosts=$( { ${nodeList}; } </dev/null 2>/dev/null)$'\\n'\n`
        : ''
  }  [ -n "\${qdo_hosts//[[:space:]]/}" ] || qdo_hosts=$qdo_host$'\\n'
  printf '%s' "$qdo_hosts" >"$QDO_NODEFILE"
fi

`);
  if (packed === undefined) {
    add(`# The job script, exactly as rendered${script.startsWith('#!') ? ' (run by the interpreter its #! line names)' : ' (run by bash: it has no #! line)'}.\n`);
    add(writeText('"$QDO_TASK_DIR/qdo-script"', script));
  } else {
    add(`# The elements' scripts, exactly as rendered (identical ones once): this element's goes to
# its run folder. One with a #! line runs by the interpreter it names, others by bash.
case $qdo_script in
`);
    packed.scripts.forEach((text, i) => {
      add(`${i}) ${writeText('"$QDO_TASK_DIR/qdo-script"', text)};;\n`);
    });
    add(`esac
`);
  }
  if (prologue !== '') {
    add(`# Prologue and epilogue (§Prologue and epilogue).\n`);
    add(writeText('"$QDO_TASK_DIR/qdo-prologue.sh"', prologue));
  }
  if (epilogue !== '') {
    if (prologue === '') add(`# Epilogue (§Prologue and epilogue).\n`);
    add(writeText('"$QDO_TASK_DIR/qdo-epilogue.sh"', epilogue));
  }
  const file = '"$QDO_TASK_DIR/qdo-script"';
  const container = spec.environment?.container;
  const command = (t: string) => (container !== undefined ? containerCommand(t, file, container) : scriptCommand(t, file));
  const exec = packed !== undefined ? `case $qdo_script in ${packed.scripts.map((t, i) => `${i}) ${command(t)} ;;`).join(' ')} esac` : command(script);
  const work = spec.workDir;
  add(`
qdo_status=0
`);
  if (work === undefined) {
    add(`if ! cd -- "$QDO_SUBMIT_DIR"; then
  echo "qdo: cannot enter the submit folder $QDO_SUBMIT_DIR" >&2
  qdo_status=1
fi
`);
  } else {
    // The working folder (§Working folder): what the job writes with relative paths lands here.
    const dir = work.kind === 'task' ? '"$QDO_TASK_DIR"' : shellQuote(work.path);
    add(`if ! cd -- ${dir}; then
  printf 'qdo: cannot enter the working folder %s\\n' ${dir} >&2
  qdo_status=1
fi
`);
  }
  if (spec.environment !== undefined) {
    add(`# The named environment ${JSON.stringify(spec.environment.name).replace(/\n/g, ' ')} (§Environments), set up in this shell so it reaches the script.
${environmentFunction(spec.environment)}if [ "$qdo_status" = 0 ] && [ -z "$qdo_signal" ]; then
  qdo_setup_env </dev/null
  qdo_status=$?
  [ "$qdo_status" = 0 ] || echo "qdo: the environment could not be set up; the script was not run" >&2
fi
`);
    if (container !== undefined) add(`qdo_cbind=(--bind "$QDO_TASK_DIR")
[ "$PWD" = "$QDO_TASK_DIR" ] || qdo_cbind+=(--bind "$PWD")
`);
  }
  if (prologue !== '') {
    add(`# The prologue runs in this shell, so what it sets (module load, exports) reaches the script.
if [ "$qdo_status" = 0 ] && [ -z "$qdo_signal" ]; then
  . "$QDO_TASK_DIR/qdo-prologue.sh" </dev/null
  qdo_status=$?
  [ "$qdo_status" = 0 ] || echo "qdo: the prologue failed with status $qdo_status; the script was not run" >&2
fi
`);
  }
  add(`if [ "$qdo_status" = 0 ] && [ -z "$qdo_signal" ]; then
  # In the background so traps run while it works; a background job would ignore INT,
  # hence the reset before exec.
  ( trap - INT QUIT; ${exec} ) </dev/null &
  qdo_child=$!
  while :; do
    qdo_interrupted=0
    wait "$qdo_child"
    qdo_status=$?
    [ "$qdo_interrupted" = 1 ] || break
    # A trapped signal cut the wait short (status 128+n): wait again for the real
    # status, unless the script has already ended and been reaped.
    if ! kill -0 "$qdo_child" 2>/dev/null; then
      wait "$qdo_child" 2>/dev/null
      qdo_last=$?
      # 127: already reaped. bash 5.2 can also answer -1 here when the whole process
      # group got the signal (scancel); then the interrupted wait's 128+n stands.
      case $qdo_last in 127 | -*) ;; *) qdo_status=$qdo_last ;; esac
      break
    fi
  done
  qdo_child=''
elif [ -n "$qdo_signal" ]; then
  # Stopped before the script started (what failed in the set-up then is the stop's doing).
  # No $(kill -l) here: a command substitution is a subshell with TERM at its default, and
  # a scancel signals every process again and again, so it could die and leave status 0.
  case $qdo_signal in INT) qdo_status=130 ;; XCPU) qdo_status=152 ;; *) qdo_status=143 ;; esac
fi
`);
  if (epilogue !== '') {
    add(`# The epilogue runs whatever happened, in a subshell so that an exit in it cannot skip
# the end record; its failure is reported but does not change the job's status.
export QDO_EXIT_CODE=$qdo_status QDO_SIGNAL=$qdo_signal
( . "$QDO_TASK_DIR/qdo-epilogue.sh" ) </dev/null || echo "qdo: the epilogue failed with status $?" >&2
`);
  }
  add(`exit "$qdo_status"
`);
  return out.join('');
}
