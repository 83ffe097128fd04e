// Shell completion (man/qdo-completion.1): what `qdo __complete` offers, and the three
// scripts run in their real shells against the built bundle — bash (with and without the
// bash-completion package), zsh (its completion widgets stubbed: only our script's logic
// is under test) and fish (its own `complete -C`). Shells that are not installed are
// reported and skipped; .ci/run installs all three.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BUNDLE, qdo, removeDir, tempDir, testCacheHome, type RunOptions } from '../helpers/cli.js';
import { buildAllocation } from '../../bench/fixture.js';
import { completionScript } from '../../src/cli/completion-scripts.js';

let home = '';
let bin = '';
let opts: RunOptions;

test.before(async () => {
  home = tempDir('qdo-complete-');
  await buildAllocation(home, 3, 3, 'paper/run');
  // A second project, and the projects list naming both.
  writeFileSync(join(home, '.qdo/projects'), 'paper/debug\npaper/run\n');
  mkdirSync(join(home, 'paper/debug'), { recursive: true });
  opts = { home };
  // `qdo` on PATH, as the scripts call it.
  bin = join(home, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'qdo'), `#!/bin/sh\nexec "${process.execPath}" "${BUNDLE}" "$@"\n`);
  chmodSync(join(bin, 'qdo'), 0o755);
});
test.after(() => removeDir(home));

async function complete(...words: string[]): Promise<{ values: string[]; directive: string }> {
  const r = await qdo(['__complete', 'bash', ...words], opts);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  return { values: lines.slice(0, -1), directive: lines[lines.length - 1]! };
}

test('commands, with their aliases', async () => {
  const r = await complete('st');
  assert.equal(r.values, ['status']);
  assert.ok((await complete('')).values.includes('completion'));
  assert.equal((await complete('l')).values.sort(), ['log', 'logs', 'ls']);
});

test("a command's options, from its declaration (global --json too)", async () => {
  assert.equal((await complete('status', '--a')).values, ['--all-versions']);
  assert.ok((await complete('submit', 'p/j', '--')).values.includes('--time'));
  assert.ok((await complete('submit', '--j')).values.includes('--json'));
  assert.ok((await complete('sweep', '--no')).values.includes('--no-array'));
});

test('projects, then their jobs (like paths)', async () => {
  assert.equal(await complete('status', 'pa'), { values: ['paper/debug/', 'paper/run/'], directive: ':nospace' });
  assert.equal((await complete('status', 'paper/run/')).values, ['paper/run/job00000', 'paper/run/job00001', 'paper/run/job00002']);
  assert.equal((await complete('cancel', 'paper/run/job00001')).values, ['paper/run/job00001']);
  assert.equal((await complete('project', 'list', 'x')).values, []);
});

test('revisions: JOB@ lists the versions, JOB~ the ancestors', async () => {
  assert.equal(await complete('show', 'paper/run/job00001@'), { values: ['paper/run/job00001@3', 'paper/run/job00001@2', 'paper/run/job00001@1'], directive: ':' });
  assert.equal((await complete('diff', 'paper/run/job00001@3', 'paper/run/job00001~')).values, ['paper/run/job00001~1', 'paper/run/job00001~2']);
  assert.equal((await complete('log', 'paper/run/nosuch@')).values, []);
});

test('bare job names inside a project folder', async () => {
  const r = await qdo(['__complete', 'bash', 'logs', 'job0000'], { home, cwd: join(home, 'paper/run') });
  assert.match(r.stdout, /^job00000\njob00001\njob00002\n:\n$/);
});

test('option values: schedulers, allocations, jobs; files left to the shell', async () => {
  assert.equal((await complete('submit', 'p/j', '--scheduler', 's')).values, ['slurm']);
  assert.equal((await complete('submit', 'p/j', '--scheduler=t')).values, ['--scheduler=torque']);
  assert.equal((await complete('project', 'add', 'x', '--alloc', '')).values, [home]);
  assert.equal((await complete('submit', 'p/j', '--after', 'paper/run/job00002')).values, ['paper/run/job00002']);
  assert.is((await complete('submit', 'p/j', '--script', '')).directive, ':files');
  assert.is((await complete('submit', 'p/j', '--', 'pyth')).directive, ':files');
  assert.equal((await complete('completion', '')).values, ['bash', 'zsh', 'fish']);
});

test('pools, allocations to remove, resources as PROJECT:NAME; pool and archive are commands', async () => {
  const cmds = (await complete('')).values;
  assert.ok(cmds.includes('pool') && cmds.includes('archive'));
  assert.is((await qdo(['pool', 'add', 'gpu', '--scheduler', 'none'], opts)).code, 0);
  assert.equal((await complete('pool', 'status', 'g')).values, ['gpu']);
  assert.equal((await complete('pool', 'add', 'g')).values, [], 'a new pool has no name yet');
  assert.equal((await complete('submit', 'p/j', '--pool', '')).values, ['gpu']);
  assert.equal((await complete('alloc', 'remove', '')).values, [home]);
  assert.is((await complete('alloc', 'move', '')).directive, ':files');
  assert.equal((await complete('archive', 'paper/run/job0000')).values, ['paper/run/job00000', 'paper/run/job00001', 'paper/run/job00002']);
  writeFileSync(join(home, 'r.txt'), 'r\n');
  assert.is((await qdo(['resource', 'add', 'paper/run', join(home, 'r.txt')], opts)).code, 0);
  assert.equal(await complete('resource', 'show', 'paper/r'), { values: ['paper/run:'], directive: ':nospace' });
  assert.equal((await complete('resource', 'show', 'paper/run:')).values, ['paper/run:r.txt']);
  const inside = await qdo(['__complete', 'bash', 'resource', 'show', 'r'], { home, cwd: join(home, 'paper/run') });
  assert.is(inside.stdout, 'r.txt\n:\n');
});

test('zsh and fish get descriptions; a broken allocation gets no candidates and no noise', async () => {
  const r = await qdo(['__complete', 'fish', 'status', 'pa'], opts);
  assert.is(r.stdout, 'paper/debug/\tproject\npaper/run/\tproject\n:nospace\n');
  const broken = tempDir('qdo-complete-broken-');
  try {
    mkdirSync(join(broken, '.qdo'));
    writeFileSync(join(broken, '.qdo/format'), 'qdo-format 99\n');
    const b = await qdo(['__complete', 'bash', 'status', ''], { home: broken });
    assert.equal(b, { code: 0, stdout: ':\n', stderr: '' });
  } finally {
    removeDir(broken);
  }
});

test('qdo completion SHELL prints the script', async () => {
  for (const sh of ['bash', 'zsh', 'fish'] as const) assert.is((await qdo(['completion', sh], opts)).stdout, completionScript(sh));
  assert.is((await qdo(['completion', 'tcsh'], opts)).code, 2);
});

function shell(cmd: string, args: string[], input: string): { out: string; err: string; code: number | null } {
  const r = spawnSync(cmd, args, {
    input,
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH}`, HOME: home, QDO_HOME: home, XDG_CACHE_HOME: testCacheHome(), XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data') },
    cwd: home,
    timeout: 60_000,
  });
  return { out: r.stdout, err: r.stderr, code: r.status };
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const BASH_COMPLETION = '/usr/share/bash-completion/bash_completion';
for (const withPackage of [false, true]) {
  test(`bash${withPackage ? ' with bash-completion' : ''}: the script completes through qdo`, () => {
    if (withPackage && !existsSync(BASH_COMPLETION)) return console.log('  bash-completion not installed: skipped (apt-get install bash-completion)');
    const script = `${withPackage ? `. ${BASH_COMPLETION}\n` : ''}eval "$(qdo completion bash)"
c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=\${#COMP_LINE}; COMPREPLY=(); _qdo_complete; printf '%s|' "\${COMPREPLY[@]}"; echo; }
c qdo sta
c qdo status pa
c qdo show paper/run/job00002@
c qdo status --all-v
cl() { COMP_LINE=$1; COMP_POINT=\${#1}; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _qdo_complete; printf '%s|' "\${COMPREPLY[@]}"; echo; }
cl 'qdo submit paper/run/x --scheduler=sl' qdo submit paper/run/x --scheduler = sl
cl 'qdo submit p --scheduler=' qdo submit p --scheduler =
cl 'qdo resource show paper/run:' qdo resource show paper/run :
`;
    const r = shell('bash', ['--norc', '--noprofile'], script);
    assert.is(r.err, '');
    // Words as bash splits them at ":" and "=" (COMP_WORDS), the line as typed: the
    // candidates are what follows the last break, whichever way the words were assembled.
    assert.is(r.out, 'status|\npaper/debug/|paper/run/|\npaper/run/job00002@3|paper/run/job00002@2|paper/run/job00002@1|\n--all-versions|\nslurm|\nslurm|pbs|torque|local|\nr.txt|\n'); // r.txt: added by the test above
  });
}

test('zsh: the script hands compadd the values, descriptions and no space after "project/"', () => {
  if (!has('zsh')) return console.log('  zsh not installed: skipped (apt-get install zsh)');
  const script = `compdef() { :; }
compadd() { print -r -- "compadd $*"; }
_files() { print -r -- "_files"; }
eval "$(qdo completion zsh)"
words=(qdo status pa); CURRENT=3; _qdo
words=(qdo submit p/j --script ''); CURRENT=5; _qdo
words=(qdo sta); CURRENT=2; _qdo
`;
  const r = shell('zsh', ['-f'], script);
  assert.is(r.err, '');
  assert.is(r.out, 'compadd -S  -l -d shown -a values\n_files\ncompadd -l -d shown -a values\n');
  // The values themselves:
  const v = shell('zsh', ['-f'], script.replace(/compadd\(\) \{.*\}/, 'compadd() { print -r -- "${(j:,:)values}|${(j:,:)shown}"; }'));
  assert.match(v.out, /^paper\/debug\/,paper\/run\/\|paper\/debug\/  -- project,paper\/run\/  -- project\n_files\nstatus\|status  -- Where every job stands/);
});

test('fish: complete -C gives the candidates with their descriptions', () => {
  if (!has('fish')) return console.log('  fish not installed: skipped (apt-get install fish)');
  const r = shell('fish', ['--no-config', '-c', 'qdo completion fish | source; complete -C"qdo status paper/run/job0000"; complete -C"qdo sta"'], '');
  assert.is(r.err, '');
  assert.is(r.out, 'paper/run/job00000\tjob\npaper/run/job00001\tjob\npaper/run/job00002\tjob\nstatus\tWhere every job stands: one table across allocations, or the current project\n');
});

test.run();
