// Under a low `ulimit -n` (1,024 is a common default): a sweep holds its temp files open until
// they are fsynced together, and its groups were sized for no limit (EMFILE at 2,000 points
// under 1,024). Writers size their groups from the limit (src/util/limits.ts); an EMFILE
// that still happens is named for what it is, not as damage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { BIN, removeDir, tempDir } from '../helpers/cli.js';
import { storeErrorOf } from '../../src/store/damage.js';

function qdoLimited(home: string, nofile: number, args: string[]) {
  const r = spawnSync('bash', ['-c', `ulimit -n ${nofile} && exec "$0" "$@"`, process.execPath, BIN, ...args], {
    cwd: home,
    env: { PATH: process.env.PATH, QDO_HOME: home, HOME: home, QDO_SCHEDULER: 'local' },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('ulimit -n 64 (the budget floor: 8 files for writers): a 2,000-point sweep is submitted, shown and cancelled whole', () => {
  const home = tempDir('qdo-nofile-');
  try {
    assert.is(qdoLimited(home, 64, ['project', 'add', 'p']).code, 0);
    const points = Array.from({ length: 2000 }, (_, i) => i).join(',');
    const s = qdoLimited(home, 64, ['submit', 'p/j{{ i }}', '--grid', `i=${points}`, '--hold', '--json', '--', 'true']);
    assert.is(s.code, 0, s.stderr.slice(0, 500));
    const st = qdoLimited(home, 64, ['status', '--json']);
    assert.is(st.code, 0, st.stderr.slice(0, 500));
    const jobs = (JSON.parse(st.stdout) as { jobs: { state: string }[] }).jobs;
    assert.is(jobs.length, 2000);
    assert.ok(jobs.every((j) => j.state === 'held'));
    const c = qdoLimited(home, 64, ['cancel', 'p/*']);
    assert.is(c.code, 0, c.stderr.slice(0, 500));
    const after = JSON.parse(qdoLimited(home, 64, ['status', '--json', '--refresh']).stdout) as { jobs: { state: string }[] };
    assert.ok(after.jobs.every((j) => j.state === 'cancelled'), JSON.stringify(after.jobs.slice(0, 3)));
  } finally {
    qdoLimited(home, 1024, ['cancel', 'p/*']);
    removeDir(home);
  }
});

test('EMFILE on a path in .qdo: too-many-files, with the limit to raise; not "damaged"', () => {
  const e = Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE', path: '/home/me/.qdo/objects/ab/x.tmp' });
  const r = storeErrorOf(e);
  assert.ok(r);
  assert.is(r.code, 'too-many-files');
  assert.is(r.exitCode, 7);
  assert.match(r.message, /too many open files \(EMFILE\)/);
  assert.match(r.hint ?? '', /ulimit -n, now \d+|ulimit -n, now unknown|ulimit -n, now Infinity/);
  assert.not.match(r.hint ?? '', /damaged/);
});

test.run();
