// R1, records (issue 9 §1): `qdo status --refresh` racing `qdo submit --hold` in other
// processes, with a scheduler whose squeue and sacct answer nothing (stand-in commands on
// PATH). Before records were changed only under their lock against what is on disk, a
// refresh that had read a record mid-submit wrote its stale copy back: held jobs became
// pending, or not-submitted with no id. Now no record ever goes back: every submit that
// said yes ends `held` with its id.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir } from '../helpers/cli.js';
import { layoutOf } from '../../src/store/layout.js';
import { listSubmissionIds, readSubmission } from '../../src/store/submissions.js';
import { LARGE, outcomeProblems, startWorker } from './harness.js';

const SUBMITTERS = LARGE ? 8 : 3;
const EACH = LARGE ? 100 : 15;

/** sbatch hands out ids (under flock) and remembers each job's tag; squeue and sacct know nothing. */
function standIns(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const put = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  put('sbatch', `script="\${@: -1}"
exec 9>"${dir}/sbatch.lock"; flock 9
n=$(cat "${dir}/next" 2>/dev/null || echo 1000); echo $((n + 1)) >"${dir}/next"
echo "$n $(grep -o -- '--comment=qdo:[^ ]*' "$script" | head -1)" >>"${dir}/jobs"
echo "$n"`);
  put('squeue', 'exit 0');
  put('sacct', 'exit 0');
  return bin;
}

test(`R1 records: ${SUBMITTERS} processes x ${EACH} held submits while two others run status --refresh; squeue answers nothing: no record goes back`, async () => {
  const home = tempDir('qdo-r1-rec-');
  try {
    const bin = standIns(home);
    writeFileSync(join(home, 'slurm.conf'), 'ClusterName=standin\n');
    const env = { PATH: `${bin}:${process.env.PATH}`, SLURM_CONF: join(home, 'slurm.conf'), QDO_SCHEDULER: 'slurm' };
    assert.is((await qdo(['project', 'add', 'p'], { home, env })).code, 0);
    // Never the real Slurm: the workers' sbatch must be the stand-in.
    const which = spawnSync('bash', ['-c', 'command -v sbatch'], { env: { ...process.env, PATH: env.PATH }, encoding: 'utf8' });
    assert.is(which.stdout.trim(), join(bin, 'sbatch'));
    const plan = (commands: string[][]) => ({ cwd: home, env, commands });
    const workers = [];
    for (let k = 0; k < SUBMITTERS; k++) workers.push(startWorker(home, plan(Array.from({ length: EACH }, (_, i) => ['submit', `p/k${k}-${i % 5}`, '--hold', '--json', '--', 'echo', `${k}.${i}`])), `s${k}`, { PATH: env.PATH }));
    for (let k = 0; k < 2; k++) workers.push(startWorker(home, plan(Array.from({ length: EACH * 2 }, () => ['status', '--refresh', '-a', '--json'])), `st${k}`, { PATH: env.PATH }));
    await Promise.all(workers.map((w) => w.exit));
    const outcomes = workers.flatMap((w) => w.outcomes);
    const problems = outcomes.flatMap((o) => outcomeProblems(o, [0]));
    assert.equal(problems, [], problems.slice(0, 5).join('\n'));
    const l = layoutOf(home);
    const said = new Map<string, string>();
    for (const o of outcomes) if (o.args[0] === 'submit') said.set(JSON.parse(o.stdout).id, JSON.parse(o.stdout).sched_id);
    const wrong: string[] = [];
    for (const id of await listSubmissionIds(l)) {
      const r = (await readSubmission(l, id))!;
      if (r.state !== 'held' || r.sched_id !== said.get(id)) wrong.push(`${r.name}@${r.version}: ${r.state} ${r.sched_id} (said ${said.get(id)}): ${r.reason}`);
    }
    assert.equal(wrong, [], `${wrong.length} record(s) went back`);
    assert.is(said.size, SUBMITTERS * EACH);
    // The stand-in's job list: each tag once, each the id its record names.
    const jobs = readFileSync(join(home, 'jobs'), 'utf8').trim().split('\n').map((line) => line.split(' '));
    assert.is(jobs.length, said.size);
    for (const [n, c] of jobs) assert.is(said.get(c!.replace('--comment=qdo:', '')), n);
    console.log(`R1 records: ${said.size} held submits raced by ${outcomes.filter((o) => o.args[0] === 'status').length} refreshing statuses: 0 records went back`);
  } finally {
    removeDir(home);
  }
});

test.run();
