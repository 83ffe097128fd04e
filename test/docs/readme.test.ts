// README.md's Quickstart, Every day and Many similar jobs sections are a promise: every
// shell block works when pasted in order into a shell on a fresh machine. This test pastes
// them: a fresh HOME, no SCRATCH, `qdo` put on PATH exactly as §Set up says (its `export
// PATH=…` line, run in the checkout), the local backend (a fresh machine has no scheduler;
// this one may have Slurm), `set -e` so any failing command fails the test, naming it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, removeDir, tempDir } from '../helpers/cli.js';

const README = readFileSync(join(REPO, 'README.md'), 'utf8');

/** The ```sh blocks of the part of the README from heading `from` up to heading `to`. */
export function shellBlocks(text: string, from: string, to: string): string[] {
  const a = text.indexOf(`\n## ${from}\n`);
  const b = text.indexOf(`\n## ${to}`, a + 1);
  assert.ok(a >= 0 && b > a, `README has sections ${from} … ${to}`);
  return [...text.slice(a, b).matchAll(/\n```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
}

function bash(script: string, env: Record<string, string>, cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

test('the Quickstart, Every day and Many similar jobs blocks run in order on a fresh machine', async () => {
  const setup = shellBlocks(README, 'Set up on a fresh machine', 'Quickstart').join('\n');
  const pathLine = setup.split('\n').find((l) => l.startsWith('export PATH='));
  assert.ok(pathLine, '§Set up says how to put qdo on PATH');
  const blocks = shellBlocks(README, 'Quickstart', 'Pools');
  assert.is(blocks.length, 3, 'Quickstart, Every day, Many similar jobs');
  const home = tempDir('qdo-readme-');
  const work = join(home, 'work');
  try {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(work);
    // Nothing of this process leaks in: a PATH without qdo, no QDO_* or SCRATCH.
    const env: Record<string, string> = { HOME: home, USER: 'me', PATH: '/usr/local/bin:/usr/bin:/bin', QDO_SCHEDULER: 'local', LANG: 'C.UTF-8' };
    if (process.env.PATH) env.PATH = process.env.PATH.split(':').filter((d) => !existsSync(join(d, 'qdo'))).join(':');
    const script = [
      'set -e',
      `trap 'echo "README command failed (status $?): $BASH_COMMAND" >&2' ERR`,
      `cd ${JSON.stringify(REPO)}`,
      pathLine!,
      `cd ${JSON.stringify(work)}`,
      'command -v qdo >/dev/null',
      ...blocks,
      'echo README-OK',
    ].join('\n');
    const r = await bash(script, env, work);
    assert.is(r.code, 0, r.out.slice(-4000));
    assert.ok(r.out.includes('README-OK'), r.out.slice(-2000));
    // What the blocks say happened, happened: version 1 wrote metrics.csv relatively into
    // its run folder, which was archived (and dropped or collected here afterwards).
    const archived = join(home, 'archive/paper/run/runs/train');
    const v1 = readdirSync(archived).find((v) => v.startsWith('1-'));
    assert.ok(v1, `archived versions: ${readdirSync(archived).join(' ')}`);
    assert.is(readFileSync(join(archived, v1!, 'metrics.csv'), 'utf8'), 'epoch,loss\n1,0.1\n');
    assert.is(readdirSync(join(home, 'scratch/paper/run/runs')).filter((n) => n.startsWith('train-lr')).length, 12);
    assert.not.ok(existsSync(join(work, 'metrics.csv')), 'nothing written where qdo ran');
  } finally {
    removeDir(home);
  }
});

test.run();
