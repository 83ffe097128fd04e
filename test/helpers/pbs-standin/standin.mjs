// A test-only PBS Pro stand-in over the real Slurm: qsub, qstat, qselect, qdel, qhold and
// qrls that take PBS Pro arguments and print PBS Pro's formats (qstat -x -f -F json in the
// 4-space layout, "Unknown Job Id" / "Job has finished" errors with PBS exit codes), so
// the PBS Pro backend can run end to end (test/e2e/pbs-standin.test.ts). It understands
// only what qdo's PBS Pro renderer writes. Not a PBS emulator: states come from Slurm.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';

const SERVER = 'standin';

function sh(cmd, args, ok = false) {
  try {
    return { out: execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), code: 0, err: '' };
  } catch (e) {
    if (!ok) throw e;
    return { out: e.stdout ?? '', code: e.status ?? 1, err: e.stderr ?? '' };
  }
}

function words(line) {
  const out = [];
  for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2]);
  return out;
}

const seqOf = (id) => id.split('.')[0].replace(/\[\]$/, '');

function hms(t) {
  const [h, m, s] = t.split(':').map(Number);
  return Math.ceil((h * 3600 + m * 60 + s) / 60); // sbatch --time in minutes
}

function qsub(argv) {
  const hold = argv.includes('-h');
  const script = resolve(argv.filter((a) => a !== '-h').at(-1));
  const lines = readFileSync(script, 'utf8').split('\n');
  const sb = ['--parsable'];
  const vars = [];
  let array = false;
  let out = null;
  for (const l of lines) {
    if (!l.startsWith('#PBS ')) continue;
    const [opt, val] = words(l.slice(5));
    if (opt === '-N') sb.push(`--job-name=${val}`);
    else if (opt === '-l' && val.startsWith('walltime=')) sb.push(`--time=${hms(val.slice(9))}`);
    else if (opt === '-l' && val.startsWith('select=')) {
      // N:ncpus=C:mpiprocs=T[+…] → ntasks = Σ N×T, cpus-per-task = C/T of the first chunk.
      let tasks = 0;
      let cpt = 1;
      for (const chunk of val.slice(7).split('+')) {
        const parts = chunk.split(':');
        const n = /^\d+$/.test(parts[0]) ? Number(parts.shift()) : 1;
        const kv = Object.fromEntries(parts.map((p) => p.split('=')));
        const t = Number(kv.mpiprocs ?? 1);
        tasks += n * t;
        cpt = Math.max(1, Math.floor(Number(kv.ncpus ?? 1) / t));
      }
      sb.push(`--ntasks=${tasks}`, `--cpus-per-task=${cpt}`);
    } else if (opt === '-q') sb.push(`--partition=${val}`);
    else if (opt === '-J') {
      array = true;
      sb.push(`--array=${val}`);
    } else if (opt === '-W' && val.startsWith('depend=')) {
      const dep = val
        .slice(7)
        .split(',')
        .map((d) => {
          const [type, ...ids] = d.split(':');
          return `${type}:${ids.map(seqOf).join(':')}`;
        })
        .join(',');
      sb.push(`--dependency=${dep}`);
    } else if (opt === '-o') out = val.replace(/\^array_index\^/g, '%a');
    else if (opt === '-v') vars.push(val);
  }
  if (out !== null) sb.push(`--output=${out}`);
  if (hold) sb.push('--hold');
  if (vars.length) sb.push(`--comment=pbsvars:${vars.join(',')}`);
  // The launcher gives the job PBS Pro's variables, then runs the script as PBS would.
  const launcher = `${script}.pbs-standin`;
  writeFileSync(
    launcher,
    [
      '#!/bin/bash',
      `export PBS_O_WORKDIR=${JSON.stringify(process.cwd())}`,
      array
        ? `export PBS_ARRAY_INDEX="$SLURM_ARRAY_TASK_ID" PBS_JOBID="$SLURM_ARRAY_JOB_ID[$SLURM_ARRAY_TASK_ID].${SERVER}"`
        : `export PBS_JOBID="$SLURM_JOB_ID.${SERVER}"`,
      'export NCPUS="${SLURM_CPUS_PER_TASK:-1}"',
      ...vars.map((v) => `export ${v.split('=')[0]}=${JSON.stringify(v.slice(v.indexOf('=') + 1))}`),
      `exec /bin/bash ${JSON.stringify(script)}`,
      '',
    ].join('\n'),
  );
  const r = sh('sbatch', [...sb, launcher], true);
  if (r.code !== 0) {
    process.stderr.write(`qsub: ${r.err.trim().replace(/^sbatch: error: /, '')}\n`);
    return 1;
  }
  const id = r.out.trim().split(';')[0];
  process.stdout.write(`${id}${array ? '[]' : ''}.${SERVER}\n`);
  return 0;
}

/** Slurm records (scontrol while Slurm remembers the job, else sacct) for one sequence number. */
function slurmJobs(seq) {
  const r = sh('scontrol', ['show', 'job', '-o', seq], true);
  if (r.code === 0) {
    return r.out
      .trim()
      .split('\n')
      .map((line) => {
        const kv = {};
        for (const m of line.matchAll(/(\w[\w/:]*)=(\S*)/g)) if (!(m[1] in kv)) kv[m[1]] = m[2];
        kv.Comment = (/Comment=(.*?)(?= \w+=|$)/.exec(line)?.[1] ?? '').trim();
        return kv;
      });
  }
  const a = sh('sacct', ['-n', '-P', '-X', '-j', seq, '-o', 'JobIDRaw,JobName,State,ExitCode,Reason,Start'], true);
  if (a.code !== 0 || a.out.trim() === '') return [];
  return a.out
    .trim()
    .split('\n')
    .map((l) => {
      const [JobId, JobName, st, ExitCode, Reason, Start] = l.split('|');
      return { JobId, JobName, JobState: st.split(' ')[0], ExitCode, Reason, StartTime: Start, Comment: '' };
    });
}

function pbsRecord(id, recs) {
  const states = recs.map((r) => r.JobState);
  const r = recs[0];
  const j = { Job_Name: r.JobName, job_state: 'Q', queue: r.Partition ?? 'batch', server: SERVER, Hold_Types: 'n', substate: 10 };
  const vars = r.Comment.startsWith('pbsvars:') ? r.Comment.slice(8).split(',') : [];
  const started = r.StartTime && r.StartTime !== 'Unknown' && r.StartTime !== 'None';
  const [code, sig] = (r.ExitCode ?? '0:0').split(':').map(Number);
  const live = states.some((s) => s === 'PENDING' || s === 'RUNNING' || s === 'SUSPENDED' || s === 'COMPLETING');
  if (id.includes('[]')) {
    j.array = 'True';
    if (live) Object.assign(j, states.includes('RUNNING') ? { job_state: 'B', substate: 41 } : { job_state: 'Q', substate: 10 });
    else Object.assign(j, { job_state: 'F', substate: 92 });
  } else if (r.JobState === 'PENDING') {
    if (r.Reason === 'JobHeldUser') Object.assign(j, { job_state: 'H', Hold_Types: 'u', substate: 20 });
    else if (r.Reason === 'Dependency') Object.assign(j, { job_state: 'H', Hold_Types: 's', substate: 22, depend: 'afterok' });
  } else if (r.JobState === 'RUNNING' || r.JobState === 'COMPLETING') Object.assign(j, { job_state: 'R', substate: 42 });
  else if (r.JobState === 'SUSPENDED') Object.assign(j, { job_state: 'S', substate: 43 });
  else if (r.JobState === 'COMPLETED') Object.assign(j, { job_state: 'F', substate: 92, Exit_status: code, comment: 'Job run at x and finished' });
  else if (r.JobState === 'FAILED') Object.assign(j, { job_state: 'F', substate: 93, Exit_status: sig ? 256 + sig : code, comment: 'Job run at x and failed' });
  else if (r.JobState === 'TIMEOUT') Object.assign(j, { job_state: 'F', substate: 93, Exit_status: -29, comment: 'Job run at x and exceeded resource walltime' });
  else if (r.JobState === 'OUT_OF_MEMORY') Object.assign(j, { job_state: 'F', substate: 93, Exit_status: -27, comment: 'Job run at x and exceeded resource mem' });
  else if (r.JobState === 'CANCELLED') {
    Object.assign(j, { job_state: 'F', substate: 91, comment: started ? 'Job run at x and terminated' : 'Not Running: x and terminated' });
    if (started) j.Exit_status = 271;
  } else Object.assign(j, { job_state: 'F', substate: 93, Exit_status: -20 });
  j.Variable_List = Object.fromEntries([['PBS_O_WORKDIR', '/'], ...vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)])]);
  return j;
}

/** PBS Pro's pre-cJSON writer: 4-space indents, "key":value (OPBS qstat.c). */
function json4(v, ind = 0) {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  const pad = ' '.repeat(ind + 4);
  const items = Object.entries(v).map(([k, x]) => `${pad}${JSON.stringify(k)}:${json4(x, ind + 4)}`);
  return `{\n${items.join(',\n')}\n${' '.repeat(ind)}}`;
}

function qstat(argv) {
  const ids = argv.filter((a) => !a.startsWith('-') && a !== 'json');
  const jobs = {};
  let rc = 0;
  for (const id of ids) {
    const recs = slurmJobs(seqOf(id));
    if (recs.length === 0) {
      process.stderr.write(`qstat: Unknown Job Id ${id}\n`);
      rc = 153;
      continue;
    }
    jobs[id] = pbsRecord(id, recs);
  }
  const doc = { timestamp: Math.floor(Date.now() / 1000), pbs_version: '2022.1.7-standin', pbs_server: SERVER };
  if (Object.keys(jobs).length) doc.Jobs = jobs;
  process.stdout.write(json4(doc) + '\n');
  return rc;
}

function qselect(argv) {
  const user = argv[argv.indexOf('-u') + 1];
  const r = sh('squeue', ['-h', '-u', user, '-o', '%F %i'], true);
  const seen = new Set();
  for (const l of r.out.trim().split('\n').filter(Boolean)) {
    const [arr, id] = l.split(' ');
    seen.add(id.includes('_') ? `${arr}[].${SERVER}` : `${id}.${SERVER}`);
  }
  process.stdout.write([...seen].map((s) => `${s}\n`).join(''));
  return 0;
}

function control(cmd, argv) {
  let rc = 0;
  for (const id of argv) {
    const recs = slurmJobs(seqOf(id));
    if (recs.length === 0) {
      process.stderr.write(`${cmd}: Unknown Job Id ${id}\n`);
      rc = 153;
      continue;
    }
    const done = recs.every((r) => !['PENDING', 'RUNNING', 'SUSPENDED', 'COMPLETING'].includes(r.JobState));
    if (done) {
      process.stderr.write(cmd === 'qdel' ? `qdel: Job has finished ${id}\n` : `${cmd}: Request invalid for state of job ${id}\n`);
      rc = cmd === 'qdel' ? 35 : 168;
      continue;
    }
    const r = cmd === 'qdel' ? sh('scancel', [seqOf(id)], true) : sh('scontrol', [cmd === 'qhold' ? 'hold' : 'release', seqOf(id)], true);
    if (r.code !== 0) {
      process.stderr.write(`${cmd}: ${r.err.trim()} ${id}\n`);
      rc = 1;
    }
  }
  return rc;
}

export function main() {
  const cmd = basename(process.argv[1]);
  const argv = process.argv.slice(2);
  if (argv[0] === '--version') {
    process.stdout.write('pbs_version = 2022.1.7-standin\n');
    return;
  }
  const rc = cmd === 'qsub' ? qsub(argv) : cmd === 'qstat' ? qstat(argv) : cmd === 'qselect' ? qselect(argv) : control(cmd, argv);
  process.exitCode = rc;
}
