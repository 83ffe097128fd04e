// R4, the store part (test/reliability/README.md): every file and folder of a `.qdo`,
// damaged in every way (emptied, truncated, garbage, the wrong JSON, a folder where a file
// belongs and the reverse, a symlink loop, no permission), then the everyday commands run
// on it: never an internal error (exit 70) or a stack trace, only the exit codes of
// spec/exit-codes.md, each with a message. Bounded here (four commands a case); every
// command with QDO_RELIABILITY=large.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { qdo, removeDir, tempDir } from '../helpers/cli.js';
import { waitFor } from '../helpers/slurm.js';
import { timeLimit } from '../helpers/uvu-timed.js';
import { LARGE, outcomeProblems } from './harness.js';

const ROOT = process.getuid?.() === 0;
const DOCUMENTED = [0, 1, 2, 3, 4, 5, 6, 7];

type Kind = 'empty' | 'half' | 'garbage' | 'wrong-json' | 'folder-for-file' | 'file-for-folder' | 'emptied-folder' | 'symlink-loop' | 'no-permission';
const FILE_KINDS: Kind[] = ['empty', 'half', 'garbage', 'wrong-json', 'folder-for-file', 'symlink-loop', 'no-permission'];
const DIR_KINDS: Kind[] = ['file-for-folder', 'emptied-folder', 'symlink-loop', 'no-permission'];

function damage(path: string, kind: Kind): void {
  const isDir = lstatSync(path).isDirectory();
  switch (kind) {
    case 'empty':
      writeFileSync(path, '');
      break;
    case 'half': {
      const b = readFileSync(path);
      writeFileSync(path, b.subarray(0, Math.floor(b.length / 2)));
      break;
    }
    case 'garbage':
      writeFileSync(path, randomBytes(64));
      break;
    case 'wrong-json':
      writeFileSync(path, '[1, {"schema": 2}, null]\n');
      break;
    case 'folder-for-file':
    case 'file-for-folder':
      rmSync(path, { recursive: true, force: true });
      if (isDir) writeFileSync(path, 'a file where a folder belongs\n');
      else {
        mkdirSync(path);
        writeFileSync(join(path, 'x'), 'x');
      }
      break;
    case 'emptied-folder':
      for (const n of readdirSync(path)) rmSync(join(path, n), { recursive: true, force: true });
      break;
    case 'symlink-loop':
      rmSync(path, { recursive: true, force: true });
      symlinkSync(path, path);
      break;
    case 'no-permission':
      chmodSync(path, 0);
      break;
  }
}

/** A home allocation with a project, two jobs of two versions, a held sweep, a config, packed refs and a journal, a stale lock. */
async function template(): Promise<{ home: string; targets: string[] }> {
  const home = tempDir('qdo-r4-tpl-');
  const o = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' as const };
  const ok = async (args: string[]) => {
    const r = await qdo(args, o);
    assert.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  await ok(['project', 'add', 'p']);
  await ok(['init', join(home, 'other')]); // the home's allocations list
  writeFileSync(join(home, '.qdo/config.json'), JSON.stringify({ status_interval: 30 }) + '\n');
  mkdirSync(join(home, '.qdo/project-config'), { recursive: true });
  writeFileSync(join(home, '.qdo/project-config/p.json'), JSON.stringify({ defaults: { time: '10m' } }) + '\n');
  for (const j of ['a', 'b']) for (let v = 0; v < 2; v++) await ok(['submit', `p/${j}`, '--hold', '--', 'echo', `${j}${v}`]);
  await ok(['submit', 'p/s{{i}}', '--grid', 'i=1,2', '--hold', '--', 'echo', '{{i}}']);
  await ok(['status']);
  const { packRefs } = await import('../../src/store/refs.js');
  const { layoutOf } = await import('../../src/store/layout.js');
  await packRefs(layoutOf(home), 'p');
  await ok(['submit', 'p/c', '--hold', '--', 'echo', 'c']); // a journal beside the packed refs
  // One file and one folder of every kind qdo keeps.
  const dir = join(home, '.qdo');
  const pick = (sub: string, test: (n: string) => boolean = () => true) => {
    const names = readdirSync(join(dir, sub)).filter(test).sort();
    return join(sub, names[0]!);
  };
  const objShard = pick('objects');
  const recShard = pick('submissions', (n) => /^[0-9a-f]{2}$/.test(n));
  const targets = [
    'format', 'projects', 'allocations', 'config.json', 'project-config', 'project-config/p.json',
    'objects', objShard, pick(objShard), 'refs', 'refs/p.refs', 'refs/p.journal',
    'submissions', recShard, pick(recShard, (n) => n.endsWith('.json')), 'cache', 'cache/queries.json',
    'local', 'local/format', 'local/last-id', 'local/jobs', 'local/jobs/1/job.json',
  ];
  for (const t of targets) assert.ok(existsSync(join(dir, t)), `template has .qdo/${t}`);
  // The local backend's dispatcher may still be making a pass in the background (its `dirty`
  // mark and lock come and go): copies are taken once it is quiet.
  await waitFor('the local spool to be quiet', async () => (!existsSync(join(dir, 'local/dirty')) && !existsSync(join(dir, 'local/lock')) ? true : undefined), 30_000, 50);
  return { home, targets };
}

/** Copies the template; a file that a late dispatcher pass removed mid-copy means copy again. */
function copyTemplate(tpl: string, home: string): void {
  for (let i = 0; ; i++) {
    try {
      cpSync(tpl, home, { recursive: true, verbatimSymlinks: true });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || i >= 20) throw e;
      rmSync(home, { recursive: true, force: true });
      mkdirSync(home, { recursive: true });
    }
  }
}

const COMMANDS: string[][] = LARGE
  ? [['status'], ['status', '-a', '--json'], ['show', 'p/a'], ['log', 'p/a'], ['submit', 'p/new', '--hold', '--', 'true'], ['submit', 'p/a', '--hold'], ['submit', 'p/g{{i}}', '--grid', 'i=1,2', '--hold', '--', 'true'], ['gc'], ['gc', '--prune', '--dry-run'], ['gc', '--prune'], ['fsck'], ['fsck', '--repair'], ['rev-parse', 'p/a'], ['show-ref'], ['cancel', 'p/b'], ['retry', 'p/b'], ['wait', 'p/a', '--timeout', '1s']]
  : [['status'], ['submit', 'p/new', '--hold', '--', 'true'], ['gc', '--prune', '--dry-run'], ['fsck', '--repair']];

test(`R4: every file and folder of .qdo damaged every way, ${COMMANDS.length} commands each: no internal error, no stack trace, documented exit codes`, timeLimit(LARGE ? 3_600_000 : 400_000, async () => {
  const { home: tpl, targets } = await template();
  const problems: string[] = [];
  const seen = new Map<number, number>();
  let cases = 0;
  try {
    for (const target of targets) {
      const isDir = lstatSync(join(tpl, '.qdo', target)).isDirectory();
      for (const kind of isDir ? DIR_KINDS : FILE_KINDS) {
        if (kind === 'no-permission' && ROOT) continue; // root reads and writes everything
        const home = tempDir('qdo-r4-');
        try {
          copyTemplate(tpl, home);
          damage(join(home, '.qdo', target), kind);
          cases++;
          for (const args of COMMANDS) {
            const r = await qdo(args, { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' });
            seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
            for (const p of outcomeProblems({ args, ...r }, DOCUMENTED)) problems.push(`.qdo/${target} ${kind}: ${p}`);
          }
        } finally {
          // Give back what no-permission took, so the folder can be removed.
          try {
            chmodSync(join(home, '.qdo', target), 0o755);
          } catch {
            // gone or a loop
          }
          removeDir(home);
        }
      }
    }
  } finally {
    removeDir(tpl);
  }
  console.log(`R4 store: ${cases} damaged trees x ${COMMANDS.length} commands; exit codes ${JSON.stringify(Object.fromEntries([...seen].sort((a, b) => a[0] - b[0])))}${ROOT ? ' (as root: permission cases skipped)' : ''}`);
  if (process.env.QDO_R4_LOG) writeFileSync(process.env.QDO_R4_LOG, problems.join('\n') + '\n');
  assert.equal(problems, [], `${problems.length} problem(s):\n${problems.slice(0, 15).join('\n')}`);
}));

test.run();
