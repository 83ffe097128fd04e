// Issue 10, second part, in-process on the local backend: run folders as working folders
// (--workdir and config), artifacts per version and per array element, diff --artifacts,
// raw scheduler arguments (--sched-arg, config, sweep files), submit --check, and named
// environments with stand-ins for module and apptainer that record their arguments.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { qdo, removeDir, tempDir, type RunResult } from '../helpers/cli.js';

let home = '';
let bin = '';
let env: Record<string, string> = {};
test.before.each(async () => {
  home = tempDir('qdo-ws2-');
  bin = join(home, 'bin');
  mkdirSync(bin);
  env = { QDO_SCHEDULER: 'local', PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  ok(await run(['project', 'add', 'p']));
});
test.after.each(() => removeDir(home));

function run(args: string[], cwd?: string): Promise<RunResult> {
  return qdo(args, { home, env, cwd });
}
function ok(r: RunResult, code = 0): RunResult {
  assert.is(r.code, code, `exit code ${r.code} (stdout: ${r.stdout}; stderr: ${r.stderr})`);
  return r;
}
async function submitJson(args: string[]): Promise<{ id: string; run_dir: string; job_version: number }> {
  return JSON.parse(ok(await run(['submit', '--json', ...args])).stdout);
}
async function manifestOf(rev: string): Promise<Record<string, unknown>> {
  const id = ok(await run(['rev-parse', rev])).stdout.trim();
  return JSON.parse(ok(await run(['cat-object', id])).stdout);
}
function files(dir: string): string[] {
  const out: string[] = [];
  // Entries may vanish while we look (the local dispatcher's lock folder comes and goes).
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.isDirectory()) walk(p);
      else out.push(`${relative(dir, p)} ${st.size}`);
    }
  };
  walk(dir);
  return out.sort();
}
/** A stand-in command on the jobs' PATH that appends its arguments, one a line, to LOG. */
function standIn(name: string, extra = ''): string {
  const log = join(home, `${name}.argv`);
  writeFileSync(join(bin, name), `#!/bin/bash\nprintf '%s\\n' "$@" >>${JSON.stringify(log)}\necho ---- >>${JSON.stringify(log)}\n${extra}`);
  chmodSync(join(bin, name), 0o755);
  return log;
}

test('two versions writing out.csv relatively keep both; artifacts and diff --artifacts tell them apart', async () => {
  const v1 = await submitJson(['p/j', '--', 'bash', '-c', 'echo 1 > out.csv']);
  const v2 = await submitJson(['p/j', '--', 'bash', '-c', 'echo second > out.csv; mkdir -p r; echo x > r/more.csv']);
  ok(await run(['wait', 'p/j@1', 'p/j@2', '--timeout', '60s']));
  assert.is(readFileSync(join(v1.run_dir, 'out.csv'), 'utf8'), '1\n');
  assert.is(readFileSync(join(v2.run_dir, 'out.csv'), 'utf8'), 'second\n');
  assert.not.ok(existsSync(join(home, 'p/out.csv')), 'nothing in the project folder');
  assert.is((await manifestOf('p/j@1')).workdir, 'run');
  const a1 = JSON.parse(ok(await run(['artifacts', 'p/j@1', '*.csv', '--json'])).stdout);
  const a2 = JSON.parse(ok(await run(['artifacts', 'p/j@2', '*.csv', '--json'])).stdout);
  const names = (a: { files: { path: string; size: number }[] }) => a.files.map((f) => `${f.path} ${f.size}`);
  assert.equal(names(a1), ['out.csv 2']);
  assert.equal(names(a2), ['out.csv 7', 'r/more.csv 2']);
  const d = ok(await run(['diff', 'p/j@1', 'p/j@2', '--artifacts']));
  assert.match(d.stdout, /artifacts:\n {4}out\.csv: 2 B → 7 B\n {2}\+ r\/more\.csv \(2 B\)\n/);
  const dj = JSON.parse(ok(await run(['diff', 'p/j@1', 'p/j@2', '--artifacts', '--json'])).stdout);
  assert.equal(dj.artifacts.changed, [{ path: 'out.csv', a: 2, b: 7 }]);
  assert.ok(dj.changed.includes('artifacts'));
  // Without --artifacts the files are not looked at.
  assert.is(JSON.parse(ok(await run(['diff', 'p/j@1', 'p/j@2', '--json'])).stdout).artifacts, undefined);
});

test('--workdir project, a folder, and config workdir; a resubmit keeps the parent\'s; bad values exit 2', async () => {
  const other = join(home, 'elsewhere');
  mkdirSync(other);
  await submitJson(['p/a', '--workdir', 'project', '--', 'bash', '-c', 'pwd > where.txt']);
  await submitJson(['p/b', '--workdir', 'elsewhere', '--', 'bash', '-c', 'pwd > where.txt']);
  ok(await run(['wait', 'p/a', 'p/b', '--timeout', '60s']));
  assert.is(readFileSync(join(home, 'p/where.txt'), 'utf8'), `${join(home, 'p')}\n`);
  assert.is(readFileSync(join(other, 'where.txt'), 'utf8'), `${other}\n`);
  assert.is((await manifestOf('p/b')).workdir, other);
  // A bare resubmit keeps the working folder.
  ok(await run(['submit', 'p/b']));
  assert.is((await manifestOf('p/b')).workdir, other);
  // Config: the project's over the allocation's.
  mkdirSync(join(home, '.qdo/project-config'), { recursive: true });
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ workdir: 'project' }));
  ok(await run(['submit', 'p/c', '--dry-run', '--', 'true']));
  const c = await submitJson(['p/c', '--', 'true']);
  assert.is((await manifestOf('p/c')).workdir, 'project');
  assert.ok(c.id);
  writeFileSync(join(home, '.qdo/project-config/p.json'), JSON.stringify({ workdir: other }));
  await submitJson(['p/d', '--', 'true']);
  assert.is((await manifestOf('p/d')).workdir, other);
  const bad = ok(await run(['submit', 'p/e', '--workdir', 'x\ny', '--', 'true']), 2);
  assert.match(bad.stderr, /--workdir/);
  ok(await run(['wait', 'p', '--timeout', '60s']), 0);
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ workdir: 'relative/path' }));
  assert.match(ok(await run(['submit', 'p/f', '--', 'true']), 7).stderr, /"workdir": expected "run", "project" or an absolute folder path/);
});

test('a manifest without workdir (made before it existed) still runs in its project folder', async () => {
  const { specFromManifest } = await import('../../src/core/sched.js');
  const { renderWrapper, localJobVars } = await import('../../src/scheduler/wrapper.js');
  const { openAllocation } = await import('../../src/store/layout.js');
  const l = await openAllocation(home);
  const m = { schema: 'qdo.job/v1', project: 'p', name: 'old', version: 1, parent: null, script: 'a'.repeat(64), resources: {}, scheduler: 'local', params: {}, env: {}, prologue: null, epilogue: null, created: '2026-11-21T09:30:00.000Z' } as const;
  const spec = await specFromManifest(l, { ...m }, 'b'.repeat(64), { read: async () => Buffer.from('echo hi\n') });
  assert.is(spec.workDir, undefined);
  const text = renderWrapper(spec, localJobVars(1));
  assert.ok(text.includes('if ! cd -- "$QDO_SUBMIT_DIR"; then'));
  const now = renderWrapper((await specFromManifest(l, { ...m, workdir: 'run' }, 'b'.repeat(64), { read: async () => Buffer.from('echo hi\n') })), localJobVars(1));
  assert.ok(now.includes('if ! cd -- "$QDO_TASK_DIR"; then'));
});

test('array elements and packed sweep points each write into their own folder', async () => {
  const arr = await submitJson(['p/arr', '--array', '1-2', '--', 'bash', '-c', 'echo "$QDO_ARRAY_INDEX" > out.csv']);
  ok(await run(['submit', 'p/g-{{ x }}', '--grid', 'x=1,22', '--', 'bash', '-c', 'echo {{ x }} > out.csv']));
  ok(await run(['wait', 'p/arr', 'p/g-1', 'p/g-22', '--timeout', '60s']));
  assert.is(readFileSync(join(arr.run_dir, '1/out.csv'), 'utf8'), '1\n');
  assert.is(readFileSync(join(arr.run_dir, '2/out.csv'), 'utf8'), '2\n');
  const a = JSON.parse(ok(await run(['artifacts', 'p/arr', '*.csv', '--json'])).stdout);
  assert.equal(a.files.map((f: { path: string }) => f.path), ['1/out.csv', '2/out.csv']);
  const g = JSON.parse(ok(await run(['artifacts', 'p/g-22', '*.csv', '--json'])).stdout);
  assert.equal(g.files.map((f: { path: string; size: number }) => `${f.path} ${f.size}`), ['out.csv 3']);
  // A packed array (Slurm; the local backend never packs): each element enters its own run folder, in its environment.
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ environments: { e: { modules: ['m1'] } } }));
  const packed = ok(await run(['submit', 'p/h-{{ x }}', '--grid', 'x=1,2', '--scheduler', 'slurm', '--env-name', 'e', '--dry-run', '--', 'true'])).stdout;
  assert.match(packed, /A packed array of 2 job\(s\)/);
  assert.ok(packed.includes('if ! cd -- "$QDO_TASK_DIR"; then'));
  assert.ok(packed.includes("module load m1 ||"));
  // Every backend renders the same wrapper: PBS Pro and TORQUE scripts enter the task folder too.
  for (const kind of ['pbs', 'torque']) {
    const t = ok(await run(['submit', 'p/r', '--array', '1-2', '--scheduler', kind, '--dry-run', '--', 'true'])).stdout;
    assert.ok(t.includes('export QDO_TASK_DIR="$QDO_RUN_DIR/$QDO_ARRAY_INDEX"') && t.includes('if ! cd -- "$QDO_TASK_DIR"; then'), kind);
  }
});

test('--sched-arg: verbatim in the script, recorded in the manifest, from config and sweep files; a resubmit keeps them', async () => {
  const dry = ok(await run(['submit', 'p/s', '--scheduler', 'slurm', '--sched-arg', '--qos=debug', '--sched-arg=--exclusive', '--dry-run', '--', 'true']));
  assert.match(dry.stdout, /#SBATCH --qos=debug\n#SBATCH --exclusive\n/);
  const tq = ok(await run(['submit', 'p/s', '--scheduler', 'torque', '--sched-arg', '-l qos=high', '--dry-run', '--', 'true']));
  assert.match(tq.stdout, /#PBS -l qos=high\n/);
  // A value that is no option is refused before anything is written.
  assert.match(ok(await run(['submit', 'p/s', '--sched-arg', 'qos=debug', '--', 'true']), 2).stderr, /--sched-arg #1: expected one scheduler option/);
  // Recorded (local ignores extra with a note, as it ignores other directives it has no use for).
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ sched_args: { local: ['--from-config'], slurm: ['--nope'] } }));
  await submitJson(['p/s', '--sched-arg', '--x=1', '--', 'true']);
  assert.equal((await manifestOf('p/s')).resources, { extra: { local: ['--from-config', '--x=1'] } });
  ok(await run(['submit', 'p/s']));
  assert.equal((await manifestOf('p/s')).resources, { extra: { local: ['--from-config', '--x=1'] } });
  await submitJson(['p/t', '--', 'true']);
  assert.equal((await manifestOf('p/t')).resources, { extra: { local: ['--from-config'] } });
  // Sweep files: a list, or scheduler → list.
  writeFileSync(join(home, 'sw.yaml'), 'defaults:\n  command: [true]\n  sched_args: {local: ["--f=1"]}\njobs:\n  - name: p/w{{ i }}\n    grid: {i: [1]}\n    sched_args: ["--g=2"]\n');
  ok(await run(['sweep', join(home, 'sw.yaml'), '--sched-arg', '--h=3']));
  assert.equal((await manifestOf('p/w1')).resources, { extra: { local: ['--from-config', '--g=2', '--h=3'] } });
  writeFileSync(join(home, 'bad.yaml'), 'jobs:\n  - name: p/z\n    command: [true]\n    points: [{}]\n    sched_args: [""]\n');
  assert.match(ok(await run(['sweep', join(home, 'bad.yaml')]), 2).stderr, /sched_args: expected a list of non-empty one-line strings/);
  ok(await run(['wait', 'p', '--timeout', '60s']));
});

test('--check asks the backend and records nothing; TORQUE/PBS say it is not available (exit 2)', async () => {
  ok(await run(['submit', 'p/first', '--', 'true']));
  ok(await run(['wait', 'p/first', '--timeout', '60s']));
  // The local spool (the backend's own area) is compared by its jobs: an ended job's files there may still change.
  const qdoFiles = () => files(join(home, '.qdo')).filter((f) => !f.startsWith('cache/') && !f.startsWith('local/'));
  const spoolJobs = () => readdirSync(join(home, '.qdo/local/jobs')).sort();
  const before = qdoFiles();
  const jobsBefore = spoolJobs();
  const r = ok(await run(['submit', 'p/k', '--check', '--cpus', '2', '--', 'echo', 'hi']));
  assert.match(r.stdout, /^p\/k@1 would be accepted by local: the local backend would run it/);
  const j = JSON.parse(ok(await run(['submit', 'p/first', '--check', '--json'])).stdout);
  assert.is(j.accepted, true);
  assert.is(j.job_version, 2);
  const t = ok(await run(['submit', 'p/k', '--check', '--scheduler', 'torque', '--', 'true']), 2);
  assert.match(t.stderr, /--check: torque has no way to ask/);
  ok(await run(['submit', 'p/k', '--check', '--scheduler', 'pbs', '--', 'true']), 2);
  assert.match(ok(await run(['submit', 'p/k{{ i }}', '--grid', 'i=1,2', '--check', '--', 'true']), 2).stderr, /--check asks about one job/);
  assert.equal(qdoFiles(), before, 'nothing written under .qdo');
  assert.equal(spoolJobs(), jobsBefore, 'no local job');
  assert.not.ok(existsSync(join(home, 'p/runs/k')));
});

test('a named environment: modules, venv, env, container (stand-ins record their arguments); values are data', async () => {
  const moduleLog = standIn('module');
  const apptainerLog = standIn('apptainer', 'shift; while [ "$1" != img.sif ]; do shift; done; shift; exec "$@"\n');
  const venv = join(home, 'venv');
  mkdirSync(join(venv, 'bin'), { recursive: true });
  writeFileSync(join(venv, 'bin/activate'), 'export VENV_ON=yes\n');
  const evil = '$(touch pwned)`touch pwned2`';
  writeFileSync(
    join(home, '.qdo/config.json'),
    JSON.stringify({
      environments: {
        gpu: { modules: ['gcc/12', evil], venv, env: { WHO: 'gpu env', OVER: 'env' }, container: { image: 'img.sif', args: ['--nv'], bind: ['/data'] } },
        plain: { env: { WHO: 'plain' } },
      },
    }),
  );
  const s = await submitJson(['p/e', '--env-name', 'gpu', '--env', 'OVER=flag', '--', 'bash', '-c', 'echo "$WHO|$OVER|$VENV_ON|$PWD" > env.txt']);
  ok(await run(['wait', 'p/e', '--timeout', '60s']));
  assert.is(readFileSync(join(s.run_dir, 'env.txt'), 'utf8'), `gpu env|flag|yes|${s.run_dir}\n`);
  assert.is(readFileSync(moduleLog, 'utf8'), `load\ngcc/12\n----\nload\n${evil}\n----\n`);
  assert.is(readFileSync(apptainerLog, 'utf8'), `exec\n--bind\n${s.run_dir}\n--pwd\n${s.run_dir}\n--bind\n/data\n--nv\nimg.sif\n/bin/bash\n${s.run_dir}/qdo-script\n----\n`);
  assert.not.ok(existsSync(join(s.run_dir, 'pwned')) || existsSync(join(s.run_dir, 'pwned2')), 'config values never run as shell');
  const m = await manifestOf('p/e');
  assert.equal((m.environment as { name: string }).name, 'gpu');
  // diff and log show the change of environment.
  ok(await run(['submit', 'p/e', '--env-name', 'plain']));
  const d = ok(await run(['diff', 'p/e@1', 'p/e@2']));
  assert.match(d.stdout, /environment: gpu \(modules gcc\/12,.*container img\.sif\) → plain \(env WHO=plain\)\n/);
  // Unknown names: exit 3 with the known ones.
  const u = ok(await run(['submit', 'p/e', '--env-name', 'nope']), 3);
  assert.match(u.stderr, /--env-name nope: no environment of that name/);
  assert.match(u.stderr, /known: gpu, plain/);
  ok(await run(['wait', 'p', '--timeout', '60s']));
  // A bad definition is a config error naming the key.
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ environments: { x: { container: { image: 'a', runtime: 'docker' } } } }));
  assert.match(ok(await run(['submit', 'p/e', '--', 'true']), 7).stderr, /environments\.x\.container\.runtime: expected "apptainer" or "singularity"/);
});

test('an environment whose setup fails does not run the script and says why', async () => {
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ environments: { c: { container: { image: 'img.sif', runtime: 'singularity' } } } }));
  const s = await submitJson(['p/n', '--env-name', 'c', '--', 'bash', '-c', 'touch ran']);
  const w = await run(['wait', 'p/n', '--timeout', '60s']);
  assert.is(w.code, 1);
  assert.not.ok(existsSync(join(s.run_dir, 'ran')));
  assert.match(readFileSync(join(s.run_dir, 'stderr'), 'utf8'), /qdo: environment c: no singularity command on this host/);
});

test('prologue and epilogue are templates: rendered with the job\'s variables, exact bytes stored, rendered again by resubmit, retry and each sweep point', async () => {
  writeFileSync(join(home, 'pro.sh'), 'echo "pro {{ job.name }}@{{ job.version }} lr={{ lr }} {{ resources.cpus }}"\n');
  mkdirSync(join(home, 'p/resources'), { recursive: true });
  writeFileSync(join(home, 'p/resources/epi.sh'), '{% include "part.sh" %}echo "epi {{ project.name }}"\n');
  writeFileSync(join(home, 'p/resources/part.sh'), 'echo "included {{ job.version }}"\n');
  const s = await submitJson(['p/pe', '--prologue', join(home, 'pro.sh'), '--epilogue', 'epi.sh', '--set', 'lr=0.5', '--cpus', '1', '--', 'echo', 'main']);
  ok(await run(['wait', 'p/pe', '--timeout', '60s']));
  assert.is(readFileSync(join(s.run_dir, 'stdout'), 'utf8'), 'pro pe@1 lr=0.5 1\nmain\nincluded 1\nepi p\n');
  const m = await manifestOf('p/pe@1');
  const text = async (id: unknown) => ok(await run(['cat-object', String(id)])).stdout;
  assert.is(await text(m.prologue), 'echo "pro pe@1 lr=0.5 1"\n', 'the rendered bytes are the prologue object');
  assert.is(await text((m.prologue_template as { object: string }).object), 'echo "pro {{ job.name }}@{{ job.version }} lr={{ lr }} {{ resources.cpus }}"\n');
  assert.equal({ ...(m.epilogue_template as object), object: 'x' }, { kind: 'resource', name: 'epi.sh', object: 'x' });
  // A bare resubmit renders them again (version 2, an edited file picked up).
  writeFileSync(join(home, 'pro.sh'), 'echo "edited {{ job.version }}"\n');
  ok(await run(['submit', 'p/pe', '--set', 'lr=0.6']));
  assert.is(await text((await manifestOf('p/pe@2')).prologue), 'echo "edited 2"\n');
  // A retry renders the stored bytes of the version it retries with the new version's variables.
  ok(await run(['wait', 'p/pe', '--timeout', '60s']));
  ok(await run(['retry', 'p/pe@1']));
  assert.is(await text((await manifestOf('p/pe@3')).prologue), 'echo "pro pe@3 lr=0.5 1"\n');
  // Each sweep point renders its own.
  writeFileSync(join(home, 'sw.sh'), 'echo "{{ job.name }} {{ lr }}"\n');
  ok(await run(['submit', 'p/sw-{{ lr }}', '--grid', 'lr=1,2', '--prologue', join(home, 'sw.sh'), '--', 'true']));
  assert.is(await text((await manifestOf('p/sw-1')).prologue), 'echo "sw-1 1"\n');
  assert.is(await text((await manifestOf('p/sw-2')).prologue), 'echo "sw-2 2"\n');
  writeFileSync(join(home, 'bad.sh'), 'echo {{ nope }}\n');
  const before = readdirSync(join(home, '.qdo/objects')).length;
  const bad = ok(await run(['submit', 'p/x', '--prologue', join(home, 'bad.sh'), '--', 'true']), 2);
  assert.match(bad.stderr, /nope/);
  assert.is(readdirSync(join(home, '.qdo/objects')).length, before, 'nothing written');
  ok(await run(['wait', 'p', '--timeout', '60s']));
});

test.run();
