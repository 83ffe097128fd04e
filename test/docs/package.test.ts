// The package users install: one version number everywhere; `npm pack` from a clean
// checkout builds and ships the single-file bundle; `npm install -g` of the tarball gives a
// working `qdo` and its man pages, with nothing else to install.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { BIN, BUNDLE, REPO, qdo, removeDir, tempDir } from '../helpers/cli.js';

interface Pkg {
  version: string;
  bin: Record<string, string>;
  man: string[];
  files: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  scripts: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as Pkg;

function run(cmd: string, args: string[], o: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(cmd, args, { cwd: o.cwd ?? REPO, env: { ...process.env, ...(o.env ?? {}) }, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

test('one version: package.json, package-lock.json, the man pages, the tree and the bundle', async () => {
  const v = pkg.version;
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { version: string; packages: Record<string, { version?: string }> };
  assert.is(lock.version, v, 'package-lock.json version');
  assert.is(lock.packages['']?.version, v, 'package-lock.json packages[""].version');
  for (const f of readdirSync(join(REPO, 'man'))) {
    const th = /^\.TH \S+ \d \S+ "qdo ([^"]+)"/m.exec(readFileSync(join(REPO, 'man', f), 'utf8'));
    assert.ok(th, `man/${f}: no .TH with "qdo VERSION"`);
    assert.is(th![1], v, `man/${f}`);
  }
  const home = tempDir();
  try {
    assert.is((await qdo(['--version'], { home })).stdout, `${v}\n`, 'in-process');
    assert.is(run(process.execPath, [BIN, '--version']).stdout, `${v}\n`, 'dist/src/cli/bin.js');
    assert.is(run(process.execPath, [BUNDLE, '--version']).stdout, `${v}\n`, 'dist/qdo.cjs');
    assert.is(run(process.execPath, [BUNDLE, 'status', '--version'], { env: { QDO_HOME: home } }).stdout, `${v}\n`, 'bundle, through yargs');
  } finally {
    removeDir(home);
  }
});

test('package.json: the bundle is the binary, no runtime dependency, every man page listed', () => {
  assert.equal(pkg.bin, { qdo: 'dist/qdo.cjs' });
  assert.equal(pkg.dependencies ?? {}, {}, 'everything is bundled: nothing for users to install');
  assert.equal(pkg.peerDependencies ?? {}, {});
  const pages = readdirSync(join(REPO, 'man'))
    .filter((f) => /\.[1-8]$/.test(f))
    .map((f) => `./man/${f}`)
    .sort();
  assert.equal([...pkg.man].sort(), pages, 'package.json "man" must list every page in man/');
  assert.ok(pkg.scripts.prepack, 'npm pack builds the bundle (prepack)');
});

test('npm pack from a clean checkout, npm install -g --prefix P: P/bin/qdo and man qdo-submit work', () => {
  const tmp = tempDir('qdo-pack-');
  try {
    // A clean checkout: the files git would have, without dist/ (node_modules linked, as
    // `npm ci` would install them).
    const src = join(tmp, 'src');
    const listed = run('git', ['ls-files', '-co', '--exclude-standard', '-z']);
    assert.is(listed.code, 0, listed.stderr);
    for (const f of listed.stdout.split('\0').filter((x) => x !== '' && existsSync(join(REPO, x)))) {
      mkdirSync(dirname(join(src, f)), { recursive: true });
      copyFileSync(join(REPO, f), join(src, f));
    }
    assert.not.ok(existsSync(join(src, 'dist')), 'no dist/ in a clean checkout');
    symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'));
    const out = join(tmp, 'out');
    mkdirSync(out);
    const pack = run('npm', ['pack', '--pack-destination', out, '--json'], { cwd: src });
    assert.is(pack.code, 0, pack.stderr);
    const info = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info[0]!.files.map((f) => f.path);
    assert.ok(files.includes('dist/qdo.cjs'), 'the bundle is in the package');
    assert.ok(files.includes('dist/qdo-standalone.cjs'), 'and the file it reads its sections from');
    assert.ok(files.includes('man/qdo-submit.1'));
    assert.ok(files.includes('dist/THIRD-PARTY-LICENSES.txt'));
    assert.not.ok(files.some((f) => f.startsWith('dist/src/') || f.startsWith('src/')), 'only the bundle, not the compiled tree or sources');
    const prefix = join(tmp, 'P');
    const inst = run('npm', ['install', '-g', join(out, info[0]!.filename), '--prefix', prefix, '--offline', '--no-audit', '--no-fund'], { cwd: tmp });
    assert.is(inst.code, 0, inst.stderr);
    assert.not.match(inst.stderr, /ERESOLVE|peer|WARN/i, 'no warning when installing');
    const v = run(join(prefix, 'bin', 'qdo'), ['--version']);
    assert.is(v.stdout, `${pkg.version}\n`);
    const home = join(tmp, 'home');
    const s = run(join(prefix, 'bin', 'qdo'), ['status'], { env: { QDO_HOME: home, XDG_CACHE_HOME: join(tmp, 'cache') } });
    assert.is(s.code, 0, s.stderr);
    assert.match(s.stdout, /no jobs yet/);
    const man = run('man', ['qdo-submit'], { env: { MANPATH: join(prefix, 'share', 'man'), MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' } });
    if (man.code === 127 || /not found/.test(man.stderr) && !/No manual entry/.test(man.stderr)) return console.log('  man not installed: man page not checked (apt-get install man-db)');
    assert.is(man.code, 0, man.stderr);
    assert.match(man.stdout, /qdo-submit - submit a job/);
  } finally {
    removeDir(tmp);
  }
});

test.run();
