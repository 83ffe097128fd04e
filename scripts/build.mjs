// Builds dist/qdo.cjs, the one file users run (package.json "bin"; bench/README.md §Start-up).
//
// The file is a short prologue followed by the whole CLI bundled by esbuild (qdo and every
// dependency, minified, CommonJS) inside one block comment. Node compiles only the
// prologue (a comment is scanned, not parsed), so `qdo --version` costs about `node -e 0`.
// For any other command the prologue compiles the comment's text, a slice of its own file
// (no copy), with vm.Script and a V8 code cache (~/.cache/qdo), so the megabyte of
// JavaScript is neither parsed nor compiled again after the first runs of a command.
// Node 20 has no module.enableCompileCache; this works from 20 on.
//
// A block comment ends at the first "*/": the bundle's own are rewritten away, token by
// token (commentSafe below), and the build checks that none is left.
//
// Also writes dist/THIRD-PARTY-LICENSES.txt: the licences of the packages the bundle
// contains (the package ships them, as their licences ask).
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';
import vm from 'node:vm';
import * as fsPromises from 'node:fs/promises';
import * as os from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const out = join(root, 'dist/qdo.cjs');
const MARK = '/*@qdo-bundle';

const r = await build({
  entryPoints: [join(root, 'src/cli/bin.ts')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  // ASCII: the prologue reads the file as latin1, and Node reads it as UTF-8; both give
  // one-byte strings only for ASCII.
  charset: 'ascii',
  legalComments: 'none',
  write: false,
  metafile: true,
  logLevel: 'warning',
  define: {
    __QDO_VERSION__: JSON.stringify(pkg.version),
    // yargs-parser calls createRequire(import.meta.url); CommonJS has no import.meta. Made
    // when first asked (yargs, on help and mistakes), not on every start.
    'import.meta.url': '__qdoMeta.url',
  },
  banner: { js: "var __qdoMeta={get url(){return require('node:url').pathToFileURL(__filename).href}};" },
  plugins: [lightModules()],
  outfile: out,
});

/**
 * Modules the bundle gets in a lighter form than the tree (bench/README.md, stop 24): each
 * cost every command that loads it milliseconds for code it never runs.
 * - node:module: only its createRequire is used, to require Node's own modules (or a file,
 *   from yargs) when first needed; in the bundle the CommonJS require of the bundle file does
 *   exactly that, without loading node:module and the ESM loader behind it.
 * - graceful-fs, as proper-lockfile imports it: proper-lockfile uses it only as the default
 *   of its `fs` option, and store/locks.ts always passes its own; graceful-fs patches node:fs
 *   and loads the stream modules as it loads.
 * - assert, as signal-exit (proper-lockfile's) imports it: one assert.equal on its argument.
 * - node:fs/promises and node:os, as qdo's own modules import them: loaded when one of their
 *   functions is first called, not as the bundle starts. node:fs/promises brings ten more of
 *   Node's modules (readline, watchers, fs/dir...), ~1 ms and ~200 KB of young objects on
 *   every start, enough to cost `qdo log` a scavenge (bench/README.md, stop 25). Only their
 *   functions are exported (and fs/promises' `constants`, node:fs's own): importing anything
 *   else from them fails the build.
 */
function lightModules() {
  const lazy = (spec, mod, extra = '') =>
    `let m;\nconst get = () => (m ??= require(${JSON.stringify(spec)}));\n` +
    Object.keys(mod)
      .filter((k) => k !== 'default' && typeof mod[k] === 'function' && /^[a-z]\w*$/i.test(k))
      .map((k) => `export function ${k}(...a) { return get().${k}(...a); }\n`)
      .join('') +
    extra;
  const shims = {
    'node:module': 'module.exports = { createRequire: () => require };',
    'graceful-fs': "module.exports = require('node:fs');",
    assert: "function equal(a, b, m) { if (a != b) throw new Error(m); }\nmodule.exports = { equal };",
    'node:fs/promises': lazy('node:fs/promises', fsPromises, "export { constants } from 'node:fs';\n"),
    'node:os': lazy('node:os', os),
  };
  const ownModule = /\/src\//;
  const importers = { 'graceful-fs': /\/node_modules\/proper-lockfile\//, assert: /\/node_modules\/signal-exit\//, 'node:fs/promises': ownModule, 'node:os': ownModule };
  return {
    name: 'qdo-light-modules',
    setup(b) {
      b.onResolve({ filter: /^(node:module|graceful-fs|assert|node:fs\/promises|node:os)$/ }, (a) => {
        const only = importers[a.path];
        if (only && !only.test(a.importer)) return undefined;
        return { path: a.path, namespace: 'qdo-light' };
      });
      b.onLoad({ filter: /.*/, namespace: 'qdo-light' }, (a) => ({ contents: shims[a.path], loader: 'js', resolveDir: root }));
    },
  };
}
// bin.ts's #! line goes: the bundle becomes a function body.
const bundle = commentSafe(lazyNamespaces(r.outputFiles[0].text.replace(/^#!.*\n/, '')));

/**
 * The namespace objects of modules qdo imports with import() (67 of them: each command's
 * core modules) made when first used, not as the bundle starts. esbuild makes each at the
 * top level, `var ns={};__export(ns,{name:()=>name,...})`: a getter function per export
 * (394), so 394 functions in the code cache every command deserializes (~45 KB of ~240 KB
 * that every cache holds) and as many closures and property definitions on every start. Here
 * each becomes `var ns=lazy(()=>({name:()=>name,...}))`: one function at the top level, the
 * getters inside it. `lazy` returns a Proxy whose every operation first defines the
 * properties on its target (as __export would have) and then forwards to it, so any use of
 * the object, at any time, sees exactly what it saw before (bench/README.md, stop 25).
 */
function lazyNamespaces(code) {
  const helper = /(?:^|[,;{ ])([\w$]+)=\(([\w$]+),([\w$]+)\)=>\{for\(var ([\w$]+) in \3\)[\w$]+\(\2,\4,\{get:\3\[\4\],enumerable:!0\}\)\}/.exec(code);
  if (!helper) throw new Error("build: esbuild's __export helper was not found");
  const exp = helper[1].replace(/\$/g, '\\$'); // the helper's name in a RegExp (minified names may hold "$")
  const name = '__qdoLazyNamespace';
  if (code.includes(name)) throw new Error(`build: ${name} is taken`);
  const getter = '(?:[\\w$]+|"[^"\\\\]*"):\\(\\)=>[\\w$]+';
  const site = new RegExp(`var ([\\w$]+)=\\{\\};${exp}\\(\\1,\\{(${getter}(?:,${getter})*)\\}\\);`, 'g');
  let n = 0;
  const out = code.replace(site, (_, ns, body) => {
    n++;
    return `var ${ns}=${name}(()=>({${body}}));`;
  });
  const left = (out.match(new RegExp(`(?<![\\w$.])${exp}\\(`, 'g')) ?? []).length;
  if (n < 50) throw new Error(`build: only ${n} namespace objects made lazy (esbuild's output changed?)`);
  const lazy =
    `var ${name}=(()=>{const pending=new WeakMap(),fill=t=>{const m=pending.get(t);if(m){pending.delete(t);${helper[1]}(t,m())}return t},h={};` +
    `for(const k of Object.getOwnPropertyNames(Reflect))if(k!=="apply"&&k!=="construct")h[k]=(t,...a)=>Reflect[k](fill(t),...a);` +
    `return make=>{const t={};pending.set(t,make);return new Proxy(t,h)}})();`;
  const at = out.startsWith('"use strict";') ? 13 : 0;
  if (process.env.QDO_BUILD_VERBOSE) console.error(`lazyNamespaces: ${n} made lazy, ${left} __export calls left`);
  return out.slice(0, at) + lazy + out.slice(at);
}
if (/[^\x00-\x7f]/.test(bundle)) throw new Error('build: the bundle has a non-ASCII character');
const body = `(function (exports, require, module, __filename, __dirname) {${bundle}\n})`;
if (body.includes('*/')) throw new Error('build: a "*/" is left in the bundle');

/**
 * The same program without the character pair "*" "/": inside string and template
 * literals "/" becomes "\/" (the same character); in a regular expression literal a "/"
 * after "*" is escaped, or, when it closes the literal, "(?:)" (matches nothing) goes
 * between; between two tokens (the operator "*" then a regular expression) a space does. A tagged template, whose raw text
 * its tag can see, is refused.
 */
function commentSafe(code) {
  const file = ts.createSourceFile('bundle.js', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const edits = []; // [start, end, replacement], in source order after sorting
  const escapeIn = (start, end, closesAt) => {
    const text = code.slice(start, end);
    let outText = '';
    for (let i = 0; i < text.length; i++) {
      outText += text[i];
      if (text[i] === '*' && text[i + 1] === '/') outText += start + i + 1 === closesAt ? '(?:)' : '\\';
    }
    if (outText !== text) edits.push([start, end, outText]);
  };
  const visit = (node) => {
    const k = node.kind;
    const K = ts.SyntaxKind;
    if (k === K.StringLiteral || k === K.NoSubstitutionTemplateLiteral || k === K.TemplateHead || k === K.TemplateMiddle || k === K.TemplateTail || k === K.RegularExpressionLiteral) {
      const start = node.getStart(file);
      const end = node.getEnd();
      if (code.slice(start, end).includes('*/')) {
        if (k !== K.StringLiteral && k !== K.RegularExpressionLiteral) {
          let t = node;
          while (t && !ts.isTaggedTemplateExpression(t) && !ts.isTemplateExpression(t) && !ts.isNoSubstitutionTemplateLiteral(t)) t = t.parent;
          if (t && (ts.isTaggedTemplateExpression(t.parent) || ts.isTaggedTemplateExpression(t))) throw new Error(`build: a tagged template contains "*/" at ${start}`);
        }
        escapeIn(start, end, k === K.RegularExpressionLiteral ? code.lastIndexOf('/', end - 1) : -1);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  // What is left spans two tokens: the operator "*" followed by a regular expression literal.
  for (let i = code.indexOf('*/'); i >= 0; i = code.indexOf('*/', i + 1)) {
    if (edits.some(([s, e]) => i >= s && i < e)) continue;
    const token = ts.getTokenAtPosition(file, i);
    if (token.kind !== ts.SyntaxKind.AsteriskToken && token.kind !== ts.SyntaxKind.AsteriskEqualsToken) throw new Error(`build: "*/" at ${i} in a ${ts.SyntaxKind[token.kind]}`);
    edits.push([i + 1, i + 1, ' ']);
  }
  edits.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  for (const [start, end, text] of edits) {
    out += code.slice(at, start) + text;
    at = end;
  }
  out += code.slice(at);
  return out;
}

// The prologue: plain CommonJS, no dependencies (a top-level `return` ends a CommonJS module).
// Code caches are named by a hash of the whole file, prologue included.
const prologueWith = (hash) => `#!/usr/bin/env node
// qdo ${pkg.version}: ${pkg.description}
// Built by scripts/build.mjs: this prologue, then the CLI bundle in the comment that starts
// at the ${MARK} line (compiled with a V8 code cache in $XDG_CACHE_HOME/qdo;
// QDO_CODE_CACHE=0 turns it off).
if (process.argv.length === 3 && process.argv[2] === '--version') {
  process.stdout.write('${pkg.version}\\n');
  return;
}
const fs = require('node:fs');
const vm = require('node:vm');
const path = require('node:path');
// The comment in qdoProgram (at the end of this file, never called) holds the program. Node
// has read this file already, and V8 gives a declared function's text as a slice of it, no
// copy. (The text of the function Node wraps this file in, arguments.callee, is built anew:
// a megabyte copied, ~1 ms of every command; reading the file again cost as much.)
let text = qdoProgram.toString();
if (!text.includes('\\n${MARK}\\n')) text = fs.readFileSync(__filename, 'latin1');
const source = text.slice(text.indexOf('\\n${MARK}\\n') + ${MARK.length + 2}, text.lastIndexOf('\\n*/'));
// import() inside a vm.Script needs a callback Node 20 only has behind a flag: scheduler
// plugins are imported through this module's own import() (src/util/import-module.ts).
globalThis.__qdoImport = (url) => import(url);
// One cache per command word, made by its first successful run and made again by its
// second (the first run of a command often takes paths later runs do not, e.g. writing a
// cache of its own); a cache holds only what its command compiled, so each command
// deserializes only its own code.
// __complete is what the shells' completion scripts run at every TAB (src/cli/complete.ts).
const word = /^(?:__)?[a-z][a-z-]{0,30}$/.test(process.argv[2] || '') ? process.argv[2] : null;
let base = null;
let cached;
let generation = 0;
// For qdo doctor: where the cache is and whether it is used.
const cacheInfo = { dir: path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || require('node:os').homedir(), '.cache'), 'qdo'), usable: false, reason: 'QDO_CODE_CACHE=0' };
globalThis.__qdoCodeCache = cacheInfo;
// V8 trusts a code cache's contents (a damaged one can crash the process), so each file ends
// with a 4-byte checksum of the rest: FNV-1a in four lanes over its 16-byte blocks (a
// little-endian 32-bit word each), the lanes folded in order, then FNV-1a over the last
// bytes. A file is read straight into the memory of a 162-byte WebAssembly function
// (scripts/fnv-lanes.wat) that sums it there with SIMD, and V8 is handed that memory: no copy
// into fresh pages (~0.4 ms for a 400 KB cache) and no JavaScript loop (interpreted, then
// optimized on the side, it cost ~3% of qdo status; bench/README.md, Start-up). Where
// WebAssembly is off (--jitless) JavaScript does the same sum.
const FNV_LANES = '0061736d0100000001080160037f7f7f017f030201000503010000070902016d020001660000' +
  '0a7a017801027b2002fd1121034193838008fd112104024003402001450d0120032000fd000400fd512004fdb501' +
  '2103200041106a2100200141016b21010c000b0b2003fd1b00210220022003fd1b017341938380086c21022002' +
  '2003fd1b027341938380086c210220022003fd1b037341938380086c210220020b';
const P = 16777619;
// V8 reserves ~10 GiB of address space for a WebAssembly memory; under a ulimit -v too low
// for that (many clusters' login nodes set one) it fails only after ~15 full garbage
// collections (~50 ms): the limit is read first (as src/util/limits.ts does).
const wasmMemoryFits = () => {
  try {
    const b = Buffer.allocUnsafe(8192);
    const fd = fs.openSync('/proc/self/limits', 'r');
    let n;
    try {
      n = fs.readSync(fd, b, 0, b.length, null);
    } finally {
      fs.closeSync(fd);
    }
    const soft = /\\nMax address space +(\\S+)/.exec(b.latin1Slice(0, n));
    if (!soft || soft[1] === 'unlimited') return true;
    const size = /\\nVmSize:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return !!size && Number(soft[1]) - Number(size[1]) * 1024 >= 10.5 * 2 ** 30;
  } catch {
    return true; // no /proc (not Linux): tried
  }
};
let wasm = null;
// n bytes to read or sum into: the WebAssembly memory from 0 (grown as needed), else a Buffer.
const room = (n) => {
  try {
    if (wasm === null) wasm = wasmMemoryFits() ? new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(FNV_LANES, 'hex'))).exports : false;
    if (!wasm) return Buffer.allocUnsafe(n);
    const have = wasm.m.buffer.byteLength;
    if (have < n) wasm.m.grow(Math.ceil((n - have) / 65536));
    return new Uint8Array(wasm.m.buffer, 0, n);
  } catch {
    wasm = false;
    return Buffer.allocUnsafe(n);
  }
};
const sum = (b) => {
  const n = b.length >> 4;
  let h = 0x811c9dc5 ^ b.length;
  if (wasm && b.buffer === wasm.m.buffer && b.byteOffset === 0) h = wasm.f(0, n, h);
  else {
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    let h1 = h, h2 = h, h3 = h;
    for (let i = 0; i < n << 4; i += 16) {
      h = Math.imul(h ^ v.getInt32(i, true), P);
      h1 = Math.imul(h1 ^ v.getInt32(i + 4, true), P);
      h2 = Math.imul(h2 ^ v.getInt32(i + 8, true), P);
      h3 = Math.imul(h3 ^ v.getInt32(i + 12, true), P);
    }
    h = Math.imul(Math.imul(Math.imul(h ^ h1, P) ^ h2, P) ^ h3, P);
  }
  for (let i = n << 4; i < b.length; i++) h = Math.imul(h ^ b[i], P);
  return h >>> 0;
};
// A cache file's contents without its checksum, if the checksum is right; else null.
const readChecked = (file) => {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= 4) return null;
    const b = room(size);
    for (let got = 0, n = 1; got < size; got += n) {
      n = fs.readSync(fd, b, got, size - got, got);
      if (n === 0) return null;
    }
    const data = b.subarray(0, size - 4);
    return sum(data) === new DataView(b.buffer, b.byteOffset + size - 4, 4).getUint32(0, true) ? data : null;
  } finally {
    fs.closeSync(fd);
  }
};
if (process.env.QDO_CODE_CACHE !== '0') {
  try {
    const dir = cacheInfo.dir;
    cacheInfo.reason = 'the folder cannot be made';
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Compiled code runs as this user: only a folder this user alone can write is trusted.
    const st = fs.statSync(dir);
    cacheInfo.reason = "the folder is not this user's alone (others may write it)";
    if ((typeof process.getuid !== 'function' || st.uid === process.getuid()) && (st.mode & 0o022) === 0) {
      cacheInfo.usable = true;
      cacheInfo.reason = null;
      // V8 refuses a cache made under other flags (node's own, or NODE_OPTIONS'): each set
      // of flags has its files, so runs with and without some flag never remake each other's.
      const flags = process.execArgv.join(' ') + (process.env.NODE_OPTIONS ? ' ' + process.env.NODE_OPTIONS : '');
      let tag = 0x811c9dc5;
      for (let i = 0; i < flags.length; i++) tag = Math.imul(tag ^ flags.charCodeAt(i), 16777619);
      base = word && path.join(dir, '${hash}-' + process.version + '-' + process.arch + '-' + word + (flags ? '+' + (tag >>> 0).toString(16) : ''));
      for (const g of base ? [2, 1] : []) {
        let data;
        try {
          data = readChecked(base + '.' + g + '.v8');
        } catch {
          continue;
        }
        if (data) {
          cached = data;
          generation = g;
          break;
        }
        fs.rmSync(base + '.' + g + '.v8', { force: true });
      }
    }
  } catch {}
}
const script = new vm.Script(source, { filename: __filename, cachedData: cached });
if (base && (generation < 2 || script.cachedDataRejected)) {
  process.once('exit', (code) => {
    // Made by runs that went as meant: 0, and the answers that are no error (spec/exit-codes.md:
    // 1, e.g. wait on a job that failed, diff --exit-code; 8 and 9 from wait), so a wait in a
    // script whose jobs fail still gets its cache. Not by a usage error or a failure, whose
    // paths (help text, error reports) a normal run does not take.
    if (code !== 0 && code !== 1 && code !== 8 && code !== 9) return;
    try {
      const next = script.cachedDataRejected ? 1 : generation + 1;
      const tmp = base + '.' + process.pid + '.tmp';
      const data = script.createCachedData();
      const at = room(data.length);
      at.set(data);
      const check = Buffer.alloc(4);
      check.writeUInt32LE(sum(at));
      fs.writeFileSync(tmp, Buffer.concat([data, check]), { mode: 0o600 });
      fs.renameSync(tmp, base + '.' + next + '.v8');
      // A second generation V8 refused goes with it (read first, it would shadow the new one).
      if (next === 2 || generation === 2) fs.rmSync(base + '.' + (3 - next) + '.v8', { force: true });
      // Caches not used for a week go: of other builds of qdo, of another Node, of flags no
      // longer used (two versions of qdo sharing a home each keep theirs), and the temp file
      // of a run killed while it wrote one.
      const week = Date.now() - 7 * 86400e3;
      for (const f of fs.readdirSync(path.dirname(base))) {
        if (!f.endsWith('.v8') && !f.endsWith('.tmp')) continue;
        const p = path.join(path.dirname(base), f);
        const st = fs.statSync(p);
        if (st.atimeMs < week && st.mtimeMs < week) fs.rmSync(p, { force: true });
      }
    } catch {}
  });
}
script.runInThisContext().call(module.exports, module.exports, require, module, __filename, __dirname);
return;
function qdoProgram() {
${MARK}
`;
const hash = createHash('sha256').update(prologueWith('0'.repeat(16)) + body).digest('hex').slice(0, 16);
const prologue = prologueWith(hash);
// Both halves must compile: the prologue as Node will (a CommonJS function body), the
// bundle as the prologue will.
new vm.Script(`(function (exports, require, module, __filename, __dirname) {${prologue.replace(/^#!.*/, "")}*/\n}\n})`, { filename: "prologue" });
new vm.Script(body, { filename: 'bundle' });
// Node reads the file as UTF-8: one non-ASCII character anywhere would make the whole
// megabyte a two-byte string for it and V8's scanner.
if (/[^\x00-\x7f]/.test(prologue)) throw new Error('build: the prologue must be ASCII');
mkdirSync(dirname(out), { recursive: true });
const tmp = out + '.tmp';
writeFileSync(tmp, prologue + body + '\n*/\n}\n');
chmodSync(tmp, 0o755);
renameSync(tmp, out);

// Licences of the bundled packages.
const pkgs = new Map();
for (const input of Object.keys(r.metafile.inputs)) {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (!m) continue;
  const dir = join(root, input.slice(0, m.index + m[0].length));
  if (!pkgs.has(m[1])) pkgs.set(m[1], dir);
}
let notices = `Third-party software bundled in dist/qdo.cjs (qdo ${pkg.version}):\n`;
for (const [name, dir] of [...pkgs].sort(([a], [b]) => (a < b ? -1 : 1))) {
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const lic = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  notices += `\n${'='.repeat(78)}\n${name}@${meta.version} (${typeof meta.license === 'string' ? meta.license : 'see below'})\n\n`;
  notices += lic && existsSync(join(dir, lic)) ? readFileSync(join(dir, lic), 'utf8').trim() + '\n' : 'no licence file in the package\n';
}
writeFileSync(join(root, 'dist/THIRD-PARTY-LICENSES.txt'), notices);
