// Every command that prints something prints JSON with --json (spec/porcelain.md §--json),
// and every error is one JSON object on stderr when --json is given. The table below names a
// command line for EVERY command: a new command fails this test until it is added here, with
// a line that prints (and prints JSON), or listed as printing nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../../src/cli/commands.js';
import { specOfCommand } from '../../src/cli/main.js';
import { qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { ok, waitDone } from '../helpers/jobs.js';

/** What `qdo <word> … --json` is run as (after the fixture below); `stdin` if it reads one. */
type Case = { argv: string[]; stdin?: string; lines?: boolean };
const SILENT = 'prints nothing on success';
/** Runs until stopped: its --json line is checked where it is run (test/e2e/status-page.test.ts). */
const SERVER = 'a server';

function cases(home: string, scratch: string): Record<string, Case[] | typeof SILENT | typeof SERVER> {
  return {
    init: [{ argv: ['init', scratch] }],
    alloc: [{ argv: ['alloc', 'list'] }],
    project: [{ argv: ['project', 'list'] }, { argv: ['project', 'add', 'q'] }],
    resource: [{ argv: ['resource', 'list'] }, { argv: ['resource', 'show', 'p:t.sh'] }, { argv: ['resource', 'add', 'p', join(home, 'u.sh')] }],
    submit: [{ argv: ['submit', 'p/k', '--dry-run', '--', 'echo', 'k'] }],
    sweep: [{ argv: ['sweep', join(home, 'sweep.yaml'), '--dry-run'] }],
    status: [{ argv: ['status'] }, { argv: ['ls', 'p/*'] }],
    show: [{ argv: ['show', 'p/j'] }],
    log: [{ argv: ['log', 'p/j'] }],
    diff: [{ argv: ['diff', 'p/j@1', 'p/j'] }],
    wait: [{ argv: ['wait', 'p/j'] }],
    watch: [{ argv: ['watch', 'p/j'], lines: true }],
    cancel: [{ argv: ['cancel', 'p/j'] }],
    hold: [{ argv: ['hold', 'p/j'] }],
    release: [{ argv: ['release', 'p/j'] }],
    retry: [{ argv: ['retry', 'p/j', '--dry-run'] }],
    gc: [{ argv: ['gc', '--dry-run'] }],
    logs: [{ argv: ['logs', 'p/j'] }, { argv: ['logs', 'p/j', '--follow'], lines: true }],
    path: [{ argv: ['path', 'p/j'] }],
    artifacts: [{ argv: ['artifacts', 'p/j'] }],
    archive: [{ argv: ['archive', 'p/j', '--dry-run'] }],
    pool: [{ argv: ['pool', 'add', 'w', '--scheduler', 'none'] }, { argv: ['pool', 'status'] }],
    pull: [{ argv: ['pull', join(home, 'p', 'resources'), 'p', '--dry-run'] }],
    'hash-object': [{ argv: ['hash-object', '--stdin'], stdin: 'hello\n' }],
    'cat-object': [{ argv: ['cat-object', 'p/j'] }],
    'rev-parse': [{ argv: ['rev-parse', 'p/j'] }],
    'update-ref': SILENT,
    'show-ref': [{ argv: ['show-ref'] }],
    fsck: [{ argv: ['fsck'] }],
    sched: [{ argv: ['sched', 'detect'] }, { argv: ['sched', 'render', 'p/j'] }],
    completion: [{ argv: ['completion', 'bash'] }],
    doctor: [{ argv: ['doctor'] }],
    report: [{ argv: ['report'] }, { argv: ['report', '--html', join(home, 'status.html')] }],
    serve: SERVER,
  };
}

let home = '';
let scratch = '';
let opts: RunOptions;
test.before(async () => {
  home = tempDir('qdo-json-');
  scratch = tempDir('qdo-json-scratch-');
  opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' };
  await ok(opts, ['project', 'add', 'p']);
  writeFileSync(join(home, 't.sh'), '#!/bin/bash\necho "t {{ x }}"\n');
  writeFileSync(join(home, 'u.sh'), 'echo u\n');
  writeFileSync(join(home, 'sweep.yaml'), 'jobs:\n  - name: p/s-{{ x }}\n    script: t.sh\n    grid: { x: [1, 2] }\n');
  await ok({ ...opts, cwd: home }, ['resource', 'add', 'p', 't.sh']);
  await ok(opts, ['submit', 'p/j', '--script', 't.sh', '--set', 'x=1']);
  await waitDone(opts, 'p/j');
  mkdirSync(join(home, 'p', 'resources', 'sub'), { recursive: true });
});
test.after(() => {
  removeDir(home);
  removeDir(scratch);
});

const words = COMMANDS.map((c) => specOfCommand(c).words[0]!);

test('every command is in the table of --json command lines', () => {
  const known = cases('', '');
  const missing = words.filter((w) => !(w in known));
  assert.equal(missing, [], 'add these commands to test/cli/json-everywhere.test.ts with a command line that prints, and give them --json');
  const gone = Object.keys(known).filter((w) => !words.includes(w));
  assert.equal(gone, [], 'the table names commands that do not exist');
});

for (const word of words) {
  test(`qdo ${word} --json prints JSON with "version": 1`, async () => {
    const c = cases(home, scratch)[word];
    if (c === undefined) return; // reported above
    if (c === SILENT || c === SERVER) return;
    for (const { argv, stdin, lines } of c) {
      // Before a `--`: what follows it is the job's command.
      const dd = argv.indexOf('--');
      const line = dd < 0 ? [...argv, '--json'] : [...argv.slice(0, dd), '--json', ...argv.slice(dd)];
      if (word === 'cat-object') line[1] = JSON.parse((await qdo(['rev-parse', 'p/j', '--json'], opts)).stdout).revs[0].id;
      const r = await qdo(line, { ...opts, stdin });
      assert.ok(r.code === 0 || r.code === 1, `qdo ${argv.join(' ')} --json: exit ${r.code}: ${r.stderr}`);
      const docs = lines ? r.stdout.split('\n').filter((l) => l !== '') : [r.stdout];
      assert.ok(docs.length > 0 && docs[0] !== '', `qdo ${argv.join(' ')} --json printed nothing`);
      for (const d of docs) {
        let v: unknown;
        try {
          v = JSON.parse(d);
        } catch {
          assert.unreachable(`qdo ${argv.join(' ')} --json printed no JSON: ${d.slice(0, 200)}`);
        }
        assert.is((v as { version?: unknown }).version, 1, `qdo ${argv.join(' ')} --json: version`);
      }
      if (!lines) assert.ok(r.stdout.endsWith('}\n'), 'one document, final LF');
    }
  });
}

test('a command that prints nothing prints nothing with --json either', async () => {
  const show = JSON.parse((await qdo(['show-ref', '--json'], opts)).stdout) as { refs: { ref: string; id: string }[] };
  const j = show.refs.find((x) => x.ref === 'p/j')!;
  const r = await qdo(['update-ref', 'p/j2', j.id, '--json'], opts);
  assert.is(r.code === 0 ? r.stdout : r.stderr.length > 0 ? '' : 'x', '');
});

test('errors with --json: one JSON object on stderr with code, message and hint; nothing on stdout', async () => {
  for (const [argv, code, exit] of [
    [['show', 'nosuch/job', '--json'], 'unknown-project', 3],
    [['status', '--tim', '--json'], 'usage', 2],
    [['--json', 'nosuchcommand'], 'usage', 2],
    [['project', 'add', 'a//b', '--json'], 'bad-name', 2],
  ] as [string[], string, number][]) {
    const r = await qdo(argv, opts);
    assert.is(r.code, exit, argv.join(' '));
    assert.is(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    const e = JSON.parse(lines[lines.length - 1]!) as { version: number; error: { code: string; message: string; hint: string | null } };
    assert.is(e.version, 1);
    assert.is(e.error.code, code, argv.join(' '));
    assert.type(e.error.message, 'string');
    assert.ok(e.error.hint === null || typeof e.error.hint === 'string');
  }
});

test('did-you-mean for a mistyped flag, in text and in JSON', async () => {
  const t = await qdo(['submit', 'p/x', '--tim', '5', '--', 'true'], opts);
  assert.is(t.code, 2);
  assert.match(t.stderr, /^qdo: Unknown argument: tim\nhint: --tim: did you mean --time\?\n$/);
  const j = await qdo(['status', '--al-versions', '--json'], opts);
  assert.is(JSON.parse(j.stderr).error.hint, '--al-versions: did you mean --all-versions?');
  // An extra positional is not a misspelt flag.
  const p = await qdo(['path', 'p/j', 'extra'], opts);
  assert.is(p.code, 2);
  assert.not.match(p.stderr, /did you mean/);
  // A mistyped choice: the choice meant; none when nothing is close.
  const c = await qdo(['project', 'ad', 'x'], opts);
  assert.is(c.code, 2);
  assert.match(c.stderr, /\nhint: action "ad": did you mean add\?\n$/);
  const far = await qdo(['project', 'zzzzzz', 'x', '--json'], opts);
  assert.is(far.code, 2);
  assert.is(JSON.parse(far.stderr).error.hint, null);
});

test('the --json option is declared for every command (yargs help lists it)', () => {
  for (const c of COMMANDS) assert.ok(specOfCommand(c).flags.has('json'), specOfCommand(c).words[0]);
});

test.run();
