// The built binary and the single-file bundle, run as real processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { BUNDLE, REPO, qdoProcess, tempDir, removeDir } from '../helpers/cli.js';

for (const bundle of [false, true]) {
  const what = bundle ? 'bundle' : 'binary';
  test(`${what}: a short session works end to end`, () => {
    const home = tempDir();
    try {
      assert.is(qdoProcess(['project', 'add', 'demo'], { home, bundle }).code, 0);
      const h = qdoProcess(['hash-object', '-w', '--stdin'], { home, bundle, stdin: 'hello\n' });
      assert.is(h.stdout, '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n');
      assert.is(qdoProcess(['cat-object', '5891b5b5'], { home, bundle }).stdout, 'hello\n');
      const bad = qdoProcess(['project', 'add', 'a//b'], { home, bundle });
      assert.is(bad.code, 2);
      assert.is(bad.stdout, '');
      assert.match(bad.stderr, /^qdo: invalid project name/);
      assert.is(qdoProcess(['show-ref'], { home, bundle }).code, 1);
    } finally {
      removeDir(home);
    }
  });
}

// Each command imports its core modules with import(), whose namespace objects the bundle
// makes when first used (scripts/build.mjs lazyNamespaces): a run through most commands,
// as the bundle, on the local backend.
test("bundle: a job's whole life through most commands", () => {
  const home = tempDir();
  try {
    const env = { QDO_SCHEDULER: 'local' };
    const run = (args: string[], code = 0) => {
      const r = qdoProcess(args, { home, bundle: true, env });
      assert.is(r.code, code, `qdo ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    run(['project', 'add', 'p']);
    writeFileSync(join(home, 'note.txt'), 'kept\n');
    run(['resource', 'add', 'p', join(home, 'note.txt')]);
    assert.match(run(['resource', 'list', 'p']), /note\.txt/);
    run(['submit', 'p/a', '--', 'echo', 'one']);
    run(['wait', 'p/a']);
    assert.is(run(['logs', 'p/a']), 'one\n');
    run(['submit', 'p/a', '--', 'echo', 'two']);
    run(['wait', 'p/a']);
    assert.match(run(['status']), /p\/a/);
    assert.is((JSON.parse(run(['status', '--json'])) as { jobs: unknown[] }).jobs.length, 1);
    assert.match(run(['show', 'p/a@1']), /completed/);
    assert.match(run(['log', 'p/a']), /p\/a@2[\s\S]*p\/a@1/);
    assert.match(run(['diff', 'p/a@1', 'p/a@2']), /one[\s\S]*two|two[\s\S]*one/);
    const dir = run(['path', 'p/a']).trim();
    assert.ok(existsSync(dir), dir);
    assert.match(run(['artifacts', 'p/a']), /\S/);
    assert.match(run(['rev-parse', 'p/a']), /^[0-9a-f]{64}\n$/);
    assert.match(run(['show-ref']), / p\/a\n$/);
    assert.match(run(['retry', 'p/a', '--dry-run']), /echo two/);
    assert.match(run(['gc', '--keep', '1', '--dry-run']), /\S/);
    run(['submit', 'p/b', '--hold', '--', 'true']);
    run(['release', 'p/b']);
    run(['wait', 'p/b']);
    run(['submit', 'p/c', '--hold', '--', 'true']);
    run(['cancel', 'p/c']);
    assert.match(run(['watch', 'p/a']), /p\/a/);
    run(['gc', '--keep', '1']);
    run(['fsck']);
    assert.match(run(['alloc', 'list']), new RegExp(home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.match(run(['sched', 'detect']), /local/);
    assert.match(run(['completion', 'bash']), /complete/);
  } finally {
    removeDir(home);
  }
});

const STANDALONE = join(REPO, 'dist/qdo-standalone.cjs');

test('the bundle runs with no node_modules beside it: qdo-standalone.cjs alone, or qdo.cjs with it', () => {
  const dir = tempDir('qdo-bundle-');
  try {
    const home = join(dir, 'home');
    const env = { PATH: process.env.PATH, QDO_HOME: home, XDG_CACHE_HOME: join(dir, 'cache'), QDO_SCHEDULER: 'local' };
    const run = (file: string, args: string[]) => spawnSync(process.execPath, [file, ...args], { cwd: dir, env, encoding: 'utf8' });
    // The one file to copy anywhere.
    const alone = join(dir, 'alone', 'qdo.cjs');
    mkdirSync(dirname(alone));
    copyFileSync(STANDALONE, alone);
    assert.ok(readFileSync(alone, 'utf8').startsWith('#!/usr/bin/env node\n'));
    let r = run(alone, ['project', 'add', 'x']);
    assert.is(r.status, 0, r.stderr);
    r = run(alone, ['project', 'list']);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^PROJECT\s+ALLOCATION\nx\s+/);
    // Its vendor sections: yargs (help), yaml (a sweep file).
    writeFileSync(join(dir, 'sw.yaml'), 'jobs:\n  - name: "x/j{{ i }}"\n    command: ["true"]\n    grid: {i: [1, 2]}\n');
    for (const file of [alone, BUNDLE]) {
      r = run(file, ['sweep', 'sw.yaml', '--dry-run']);
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stdout, /x\/j2/);
      r = run(file, ['status', '--help']);
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stdout, /--json/);
    }
    // The package's binary with the standalone file beside it, copied elsewhere together.
    const pair = join(dir, 'pair');
    mkdirSync(pair);
    copyFileSync(BUNDLE, join(pair, 'qdo.cjs'));
    copyFileSync(STANDALONE, join(pair, 'qdo-standalone.cjs'));
    r = run(join(pair, 'qdo.cjs'), ['project', 'list']);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^PROJECT\s+ALLOCATION\nx\s+/);
    // Through a link on PATH, even where node keeps the link's folder as __dirname.
    symlinkSync(join(pair, 'qdo.cjs'), join(dir, 'qdo'));
    const linked = spawnSync(process.execPath, ['--preserve-symlinks-main', join(dir, 'qdo'), 'project', 'list'], { cwd: dir, env, encoding: 'utf8' });
    assert.is(linked.status, 0, linked.stderr);
    assert.match(linked.stdout, /^PROJECT\s+ALLOCATION\nx\s+/);
  } finally {
    removeDir(dir);
  }
});

test('bundle: qdo.cjs without its qdo-standalone.cjs or with one others may change: exit 70, broken-install; with one of another build, that one runs', () => {
  const dir = tempDir('qdo-bundle-');
  try {
    const launcher = join(dir, 'qdo.cjs');
    const standalone = join(dir, 'qdo-standalone.cjs');
    copyFileSync(BUNDLE, launcher);
    const env = { PATH: process.env.PATH, QDO_HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'cache') };
    const run = (args: string[]) => spawnSync(process.execPath, [launcher, ...args], { cwd: dir, env, encoding: 'utf8' });
    let r = run(['status']);
    assert.is(r.status, 70);
    assert.match(r.stderr, new RegExp(`^qdo: ${standalone.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is missing`));
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    r = run(['--json', 'status']);
    assert.is(r.status, 70);
    assert.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'broken-install');
    assert.is(run(['--version']).status, 0, '--version needs nothing else');
    // Another build beside it (an upgrade half done): that file runs whole, as Node runs it.
    const other = readFileSync(STANDALONE, 'latin1');
    writeFileSync(standalone, other.replace("const fs = require('node:fs');", "process.stderr.write('the other build\\n');\nconst fs = require('node:fs');"), 'latin1');
    r = run(['project', 'list']);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stderr, 'the other build\n');
    // The same size, another build (its hash differs): the same.
    const hash = /'([0-9a-f]{16})-'/.exec(other)![1]!;
    const otherHash = hash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    writeFileSync(standalone, other.replace(`'${hash}-'`, `'${otherHash}-'`), 'latin1');
    r = run(['project', 'list']);
    assert.is(r.status, 0, r.stderr);
    assert.ok(readdirSync(join(dir, 'cache', 'qdo')).some((f) => f.startsWith(otherHash)), 'its own caches');
    // The right file, but writable by a group that cannot write qdo.cjs: not run.
    copyFileSync(STANDALONE, standalone);
    chmodSync(launcher, 0o755);
    chmodSync(standalone, 0o775);
    r = run(['status']);
    assert.is(r.status, 70);
    assert.match(r.stderr, /may be changed by others/);
    chmodSync(standalone, 0o755);
    r = run(['status']);
    assert.is(r.status, 0, r.stderr);
    // Written over in place while qdo runs (after qdo.cjs looked at it, before a vendor
    // section is read: a preload touches it once the entry file has run): refused.
    const touch = join(dir, 'touch.cjs');
    writeFileSync(touch, `queueMicrotask(() => { const t = new Date(Date.now() + 5000); require('fs').utimesSync(${JSON.stringify(standalone)}, t, t); });\n`);
    const during = spawnSync(process.execPath, ['-r', touch, launcher, 'status', '--help'], { cwd: dir, env, encoding: 'utf8' });
    assert.is(during.status, 70, during.stderr);
    assert.match(during.stderr, /changed while qdo ran/);
    assert.is(spawnSync(process.execPath, ['-r', touch, launcher, 'status'], { cwd: dir, env, encoding: 'utf8' }).status, 0, 'no vendor section read: nothing to refuse');
  } finally {
    removeDir(dir);
  }
});

test('bundle: qdo.cjs reads the vendor sections a command needs only when it needs them; both files share their caches', () =>
  withCacheHome((home, env, dir) => {
    for (let i = 0; i < 2; i++) assert.is(bundleRun(['status'], env, home).code, 0);
    const afterStatus = readdirSync(dir);
    assert.ok(afterStatus.some((x) => /-status\.2\.v8$/.test(x)), afterStatus.join(' '));
    assert.not.ok(afterStatus.some((x) => x.includes('@')), `no vendor section for status: ${afterStatus.join(' ')}`);
    for (let i = 0; i < 2; i++) assert.is(bundleRun(['status', '--help'], env, home).code, 0);
    assert.ok(readdirSync(dir).some((x) => /-@yargs\.2\.v8$/.test(x)), readdirSync(dir).join(' '));
    // The standalone file uses the caches qdo.cjs made (one build, one hash).
    const before = readdirSync(dir).sort();
    const r = spawnSync(process.execPath, [STANDALONE, 'status'], { cwd: home, env: { PATH: process.env.PATH, QDO_HOME: home, ...env }, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    assert.equal(readdirSync(dir).sort(), before);
  }));

test('the bundle keeps no import() of a module: inside its vm.Script Node 20 refuses them (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING)', () => {
  const text = readFileSync(STANDALONE, 'utf8');
  const literal = [...text.matchAll(/\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map((m) => m[1]);
  assert.equal(literal, [], 'every import("…") of a module is bundled or a static import');
});

test('bundle: a YAML sweep file is read (yaml and node:fs load inside the bundle)', () => {
  const home = tempDir();
  try {
    assert.is(qdoProcess(['project', 'add', 'p'], { home, bundle: true }).code, 0);
    writeFileSync(join(home, 'sw.yaml'), 'jobs:\n  - name: "p/j{{ i }}"\n    command: ["true"]\n    grid: {i: [1, 2]}\n');
    const r = qdoProcess(['sweep', 'sw.yaml', '--dry-run'], { home, bundle: true, env: { QDO_SCHEDULER: 'local' } });
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /p\/j1/);
  } finally {
    removeDir(home);
  }
});

function bundleRun(args: string[], env: Record<string, string>, home: string, nodeFlags: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeFlags, BUNDLE, ...args], { cwd: home, env: { PATH: process.env.PATH, QDO_HOME: home, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A code cache's last 4 bytes: FNV-1a in four lanes over the rest's 16-byte blocks (lane k
 * takes each block's k-th little-endian 32-bit word), the lanes folded in order, then FNV-1a
 * over the last bytes (scripts/fnv-lanes.wat).
 */
function checksumGood(b: Buffer): boolean {
  const data = b.subarray(0, b.length - 4);
  const P = 16777619;
  const lanes = [0, 1, 2, 3].map(() => 0x811c9dc5 ^ data.length);
  const blocks = data.length >> 4;
  for (let i = 0; i < blocks; i++) for (let k = 0; k < 4; k++) lanes[k] = Math.imul(lanes[k]! ^ data.readInt32LE(i * 16 + k * 4), P);
  let h = lanes.slice(1).reduce((acc, l) => Math.imul(acc ^ l, P), lanes[0]!);
  for (let i = blocks * 16; i < data.length; i++) h = Math.imul(h ^ data[i]!, P);
  return b.readUInt32LE(b.length - 4) === h >>> 0;
}

/** A temp home, removed afterwards, whose code caches go to its own `cache/qdo` (`dir`). */
function withCacheHome(body: (home: string, env: { XDG_CACHE_HOME: string }, dir: string) => void): void {
  const home = tempDir();
  try {
    body(home, { XDG_CACHE_HOME: join(home, 'cache') }, join(home, 'cache', 'qdo'));
  } finally {
    removeDir(home);
  }
}

test('bundle: output to /dev/null, a pipe or a file loads no node:tty (nor net and the stream modules with it); status and log load no node:fs/promises nor node:os', () => {
  const home = tempDir();
  try {
    assert.is(bundleRun(['project', 'add', 'p'], {}, home).code, 0);
    const out = join(home, 'modules.txt');
    // A preload that writes the built-in modules loaded after it, at exit.
    const probe = join(home, 'probe.cjs');
    writeFileSync(probe, `const seen = new Set(process.moduleLoadList);\nprocess.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.filter((m) => !seen.has(m)).join('\\n')));\n`);
    const loaded = (stdio: 'ignore' | 'pipe' | number, args = ['status']) => {
      const r = spawnSync(process.execPath, ['-r', probe, BUNDLE, ...args], { cwd: home, env: { PATH: process.env.PATH, QDO_HOME: home, HOME: home }, stdio: ['ignore', stdio, stdio] });
      assert.is(r.status, 0);
      return readFileSync(out, 'utf8').split('\n');
    };
    for (const stdio of ['ignore', 'pipe'] as const) {
      const mods = loaded(stdio);
      assert.ok(mods.includes('NativeModule vm'), 'the probe sees what qdo loads');
      assert.not.ok(mods.includes('NativeModule tty'), `${stdio}: ${mods.join(', ')}`);
      assert.not.ok(mods.includes('NativeModule net'), stdio);
      // node:fs/promises (and the ten modules it loads) and node:os come when first called
      // (scripts/build.mjs lightModules): not for status (nor for log, below).
      for (const m of ['fs/promises', 'os', 'readline']) assert.not.ok(mods.includes(`NativeModule ${m}`), `${stdio}: ${mods.join(', ')}`);
    }
    // log of an ended job (a live one is asked of its scheduler first: child_process).
    assert.is(qdoProcess(['submit', 'p/a', '--', 'true'], { home, bundle: true, env: { QDO_SCHEDULER: 'local' } }).code, 0);
    assert.is(qdoProcess(['wait', 'p/a'], { home, bundle: true }).code, 0);
    const mods = loaded('pipe', ['log', 'p/a']);
    for (const m of ['fs/promises', 'os', 'readline']) assert.not.ok(mods.includes(`NativeModule ${m}`), `log: ${mods.join(', ')}`);
    // Where they are needed they load (submit reads its script with node:fs/promises).
    writeFileSync(join(home, 'job.sh'), '#!/bin/sh\ntrue\n');
    const sub = spawnSync(process.execPath, ['-r', probe, BUNDLE, 'submit', 'p/b', '--hold', '--script', 'job.sh'], { cwd: home, env: { PATH: process.env.PATH, QDO_HOME: home, HOME: home, QDO_SCHEDULER: 'local' }, encoding: 'utf8' });
    assert.is(sub.status, 0, sub.stderr);
    assert.ok(readFileSync(out, 'utf8').split('\n').includes('NativeModule fs/promises'));
    assert.is(qdoProcess(['cancel', 'p/*'], { home, bundle: true, env: { QDO_SCHEDULER: 'local' } }).code, 0);
  } finally {
    removeDir(home);
  }
});

test('bundle: --version is answered by the prologue; it is package.json\'s version', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  const home = tempDir();
  try {
    const r = bundleRun(['--version'], { XDG_CACHE_HOME: join(home, 'cache') }, home);
    assert.is(r.stdout, `${pkg.version}\n`);
    assert.not.ok(existsSync(join(home, 'cache')), 'no cache folder for --version');
  } finally {
    removeDir(home);
  }
});

test('bundle: a code cache per command, made by its first two runs, checked before use', () =>
  withCacheHome((home, env, dir) => {
    const outputs = [1, 2, 3].map(() => bundleRun(['project', 'list'], env, home));
    for (const o of outputs) assert.equal(o, outputs[0]);
    let files = readdirSync(dir);
    assert.is(files.length, 1, files.join(' '));
    assert.match(files[0]!, /^[0-9a-f]{16}-v\d+\.\d+\.\d+-\w+-project\.2\.v8$/);
    const f = join(dir, files[0]!);
    const b = readFileSync(f);
    assert.ok(checksumGood(b), 'the checksum');
    // Other flags (node's, or NODE_OPTIONS'): caches of their own, as V8 refuses one made
    // under other flags. Where WebAssembly is off (--jitless) JavaScript checks and sums them.
    for (let i = 0; i < 2; i++) assert.is(bundleRun(['project', 'list'], env, home, ['--jitless']).stdout, outputs[0]!.stdout);
    files = readdirSync(dir);
    assert.is(files.length, 2, files.join(' '));
    const jitlessCache = join(dir, files.find((x) => /-project\+[0-9a-f]+\.2\.v8$/.test(x)) ?? 'none');
    assert.ok(checksumGood(readFileSync(jitlessCache)), 'the JavaScript sum is the same function');
    assert.equal(bundleRun(['project', 'list'], { ...env, NODE_OPTIONS: '--max-old-space-size=300' }, home), outputs[0]);
    assert.is(readdirSync(dir).length, 3);
    assert.ok(existsSync(f), 'the first cache is left alone');
    // A cache V8 refuses (made under --jitless, put in the place of the plain one) is made
    // again at once: the refused second generation goes, so it cannot shadow the new one.
    const refused = readFileSync(jitlessCache);
    copyFileSync(jitlessCache, f);
    for (const x of readdirSync(dir)) if (x.includes('+')) rmSync(join(dir, x));
    assert.equal(bundleRun(['project', 'list'], env, home), outputs[0]);
    assert.equal(readdirSync(dir).map((x) => x.replace(/^.*-project\./, '')), ['1.v8']);
    assert.equal(bundleRun(['project', 'list'], env, home), outputs[0]);
    assert.equal(readdirSync(dir).map((x) => x.replace(/^.*-project\./, '')), ['2.v8']);
    assert.not.ok(readFileSync(f).equals(refused), 'made again');
    // A damaged cache is never handed to V8 (it could crash): it is removed and made again.
    for (let i = 100; i < b.length - 8; i += 997) b[i]! ^= 0x5a;
    writeFileSync(f, b);
    assert.equal(bundleRun(['project', 'list'], env, home), outputs[0]);
    files = readdirSync(dir);
    assert.equal(files.map((x) => x.replace(/^.*-project\./, '')), ['1.v8']);
    // A failed command writes no cache; QDO_CODE_CACHE=0 uses none.
    assert.is(bundleRun(['show'], env, home).code, 2);
    assert.is(bundleRun(['status'], { ...env, QDO_CODE_CACHE: '0' }, home).code, 0);
    assert.equal(readdirSync(dir).length, 1);
  }));

test('bundle: caches not used for a week go as a new one is written (other builds, other flags, a killed run\'s temp file)', () =>
  withCacheHome((home, env, dir) => {
    assert.is(bundleRun(['project', 'list'], env, home).code, 0);
    const [mine] = readdirSync(dir);
    const old = ['0123456789abcdef-v20.0.0-x64-status.2.v8', mine!.replace(/\.1\.v8$/, '+1a2b3c4d.2.v8'), mine!.replace(/\.1\.v8$/, '.4242.tmp')];
    const recent = mine!.replace(/\.1\.v8$/, '+5e6f7a8b.2.v8');
    const weekAgo = new Date(Date.now() - 8 * 86400e3);
    for (const f of [...old, recent]) writeFileSync(join(dir, f), 'x');
    for (const f of old) utimesSync(join(dir, f), weekAgo, weekAgo);
    assert.is(bundleRun(['project', 'list'], env, home).code, 0);
    assert.equal(readdirSync(dir).sort(), [mine!.replace(/\.1\.v8$/, '.2.v8'), recent].sort());
  }));

test('bundle: the completion scripts\' hidden command has its code cache too (it runs at every TAB)', () =>
  withCacheHome((home, env, dir) => {
    assert.is(bundleRun(['project', 'add', 'paper'], env, home).code, 0);
    const outs = [1, 2, 3].map(() => bundleRun(['__complete', 'bash', 'status', 'pa'], env, home));
    for (const o of outs) assert.equal(o, outs[0]);
    assert.match(outs[0]!.stdout, /^paper\//m);
    assert.ok(readdirSync(dir).some((x) => /-__complete\.2\.v8$/.test(x)), readdirSync(dir).join(' '));
  }));

test('bundle: a command answering no (exit 1, as wait on a failed job) makes its code cache; a usage error does not', () =>
  withCacheHome((home, env, dir) => {
    assert.is(bundleRun(['project', 'add', 'p'], env, home).code, 0);
    for (let i = 0; i < 2; i++) assert.is(bundleRun(['show-ref', 'p/nosuch'], env, home).code, 1);
    for (let i = 0; i < 2; i++) assert.is(bundleRun(['diff'], env, home).code, 2);
    const files = readdirSync(dir);
    assert.ok(files.some((x) => /-show-ref\.2\.v8$/.test(x)), files.join(' '));
    assert.not.ok(files.some((x) => /-diff\./.test(x)), files.join(' '));
  }));

test('bundle: object ids are the same without WebAssembly (node --jitless hashes with node:crypto)', () =>
  withCacheHome((home, env) => {
    const file = join(home, 'x.sh');
    writeFileSync(file, 'echo hello\n'.repeat(50));
    const want = createHash('sha256').update(readFileSync(file)).digest('hex');
    assert.is(bundleRun(['hash-object', file], env, home).stdout.trim(), want);
    const jitless = bundleRun(['hash-object', file], env, home, ['--jitless']);
    assert.is(jitless.stdout.trim(), want, jitless.stderr);
  }));

test('bundle: the code caches\' checksum module is what wat2wasm makes of scripts/fnv-lanes.wat', () => {
  if (spawnSync('wat2wasm', ['--version']).status !== 0) return console.log('  wat2wasm not installed: skipped (apt-get install wabt)');
  const r = spawnSync('wat2wasm', [join(REPO, 'scripts/fnv-lanes.wat'), '--output=-'], { maxBuffer: 1 << 20 });
  assert.is(r.status, 0, String(r.stderr));
  const lit = /const FNV_LANES = ((?:'[0-9a-f]+'(?: \+\s*)?)+);/.exec(readFileSync(join(REPO, 'scripts/build.mjs'), 'utf8'));
  assert.ok(lit, 'FNV_LANES in scripts/build.mjs');
  assert.is(lit[1]!.replace(/[^0-9a-f]/g, ''), r.stdout.toString('hex'));
  // And it is what the bundle runs.
  assert.ok(readFileSync(BUNDLE, 'latin1').includes(r.stdout.toString('hex').slice(0, 60)));
});

// V8 reserves ~10 GiB of address space for a WebAssembly memory; under a lower `ulimit -v`
// (as many login nodes set) a failed reservation costs ~15 full garbage collections
// (src/util/limits.ts). qdo reads the limit first: JavaScript sums the code caches
// and node:crypto hashes, with no such collection.
test('bundle: under a ulimit -v too low for WebAssembly memory, no failed reservation (no memory-pressure collections); caches and ids as usual', () =>
  withCacheHome((home, env, dir) => {
    const file = join(home, 'x.sh');
    writeFileSync(file, 'echo hi\n');
    const want = createHash('sha256').update(readFileSync(file)).digest('hex');
    const limited = (args: string[], flags = '') =>
      spawnSync('bash', ['-c', `ulimit -v 6000000 && exec "$0" ${flags} "$@"`, process.execPath, BUNDLE, ...args], {
        cwd: home,
        env: { PATH: process.env.PATH, QDO_HOME: home, ...env },
        encoding: 'utf8',
      });
    const probe = spawnSync('bash', ['-c', 'ulimit -v 6000000 && exec "$0" -e "try { new WebAssembly.Memory({ initial: 1 }); console.log(1) } catch { console.log(0) }"', process.execPath], { encoding: 'utf8' });
    assert.is(probe.stdout.trim(), '0', 'the limit keeps WebAssembly memory out here');
    for (let i = 0; i < 3; i++) {
      const r = limited(['hash-object', file]);
      assert.is(r.status, 0, r.stderr);
      assert.is(r.stdout.trim(), want);
    }
    const cache = readdirSync(dir).find((x) => /-hash-object\.2\.v8$/.test(x));
    assert.ok(cache, readdirSync(dir).join(' '));
    assert.ok(checksumGood(readFileSync(join(dir, cache))), 'summed by JavaScript, the same function');
    const traced = limited(['hash-object', file], '--trace-gc');
    assert.ok(traced.stdout.includes(want), traced.stdout);
    assert.not.match(traced.stdout, /Mark-Compact|memory pressure/);
  }));

test('bundle: a cache folder others may write is not used', () => {
  const home = tempDir();
  const cache = join(home, 'cache');
  try {
    bundleRun(['status'], { XDG_CACHE_HOME: cache }, home);
    chmodSync(join(cache, 'qdo'), 0o777);
    for (const f of readdirSync(join(cache, 'qdo'))) writeFileSync(join(cache, 'qdo', f), 'planted');
    const r = bundleRun(['status'], { XDG_CACHE_HOME: cache }, home);
    assert.is(r.code, 0, r.stderr);
    for (const f of readdirSync(join(cache, 'qdo'))) assert.is(readFileSync(join(cache, 'qdo', f), 'utf8'), 'planted');
  } finally {
    removeDir(home);
  }
});

test.run();
