// Builds dist/qdo-standalone.cjs and dist/qdo.cjs, what users run (package.json "bin";
// bench/README.md §Start-up, and "Layout" below).
//
// dist/qdo-standalone.cjs is a short prologue followed by the whole CLI bundled by esbuild
// (qdo and every dependency, minified, CommonJS) inside one block comment, in sections: qdo's
// own bundle, then each package qdo imports only on some paths (yargs, yaml, nunjucks,
// chokidar, fast-glob). Node compiles only the prologue (a comment is scanned, not parsed);
// it compiles the sections a command uses, slices of its own text, with vm.Script and V8
// code caches (~/.cache/qdo), so the JavaScript is neither parsed nor compiled again after
// the first runs of a command. Copied anywhere, that one file is qdo.
// dist/qdo.cjs, the package's binary, is the same prologue alone: it reads from the
// standalone file beside it only the sections a command uses.
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

// Packages qdo imports with import() only on some paths, each kept out of the main bundle in
// a section of its own (read and compiled when first imported; see "Layout" below): 440 KB
// of the bundle's 1 MB that status, log and most commands never run. `esm` packages are
// imported as ES modules (their namespace, names fixed), the others as CommonJS
// (module.exports), as esbuild would import them inside the bundle.
const VENDORS = { yargs: 'esm', chokidar: 'esm', yaml: 'cjs', nunjucks: 'cjs', 'fast-glob': 'cjs' };
const VENDOR_PREFIX = 'qdo-vendor:';

const common = {
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
};

const r = await build({
  ...common,
  entryPoints: [join(root, 'src/cli/bin.ts')],
  plugins: [lightModules(), vendorModules(null)],
  outfile: out,
});

/**
 * Each vendor package, bundled on its own: a CommonJS function body whose module.exports is
 * the package's namespace (esm) or its module.exports (cjs). Another vendor package it
 * requires (nunjucks' optional chokidar) is that package's section, not a second copy.
 */
const vendors = {};
for (const [name, kind] of Object.entries(VENDORS)) {
  const ns = await import(name);
  const contents = kind === 'esm' ? `export * from ${JSON.stringify(name)};\n${'default' in ns ? `export { default } from ${JSON.stringify(name)};\n` : ''}` : `module.exports = require(${JSON.stringify(name)});\n`;
  const v = await build({
    ...common,
    stdin: { contents, resolveDir: root, sourcefile: `vendor-${name}.js`, loader: 'js' },
    plugins: [lightModules(), vendorModules(name)],
    outfile: join(root, `dist/vendor-${name}.cjs`),
  });
  vendors[name] = { text: v.outputFiles[0].text, metafile: v.metafile };
}

/**
 * In the main bundle an import of a vendor package is a small module that requires
 * "qdo-vendor:NAME" (left to the prologue's require, which compiles that section): for an
 * esm package one exporting the names its namespace has (the build imports it to list them),
 * for a cjs one `module.exports = require(...)`, so each import() sees what it saw when the
 * package was inside the bundle. In a vendor's own build, the other vendors are required the
 * same way.
 */
function vendorModules(self) {
  const names = Object.keys(VENDORS).filter((n) => n !== self);
  const filter = new RegExp(`^(${names.map((n) => n.replace(/[-]/g, '\\$&')).join('|')}|${VENDOR_PREFIX}.*)$`);
  return {
    name: 'qdo-vendor-modules',
    setup(b) {
      b.onResolve({ filter }, (a) => (a.path.startsWith(VENDOR_PREFIX) ? { path: a.path, external: true } : { path: a.path, namespace: 'qdo-vendor' }));
      b.onLoad({ filter: /.*/, namespace: 'qdo-vendor' }, async (a) => {
        const req = `require(${JSON.stringify(VENDOR_PREFIX + a.path)})`;
        if (VENDORS[a.path] !== 'esm' || self !== null) return { contents: `module.exports = ${req};\n`, loader: 'js', resolveDir: root };
        // ("module.exports", the name Node gives what require() of an ES module returns, is none of qdo's.)
        const keys = Object.keys(await import(a.path)).filter((k) => k !== 'module.exports');
        const bad = keys.find((k) => k !== 'default' && !/^[A-Za-z_$][\w$]*$/.test(k));
        if (bad) throw new Error(`build: ${a.path} exports ${JSON.stringify(bad)}, not an identifier`);
        const contents = `const m = ${req};\n` + keys.map((k) => (k === 'default' ? 'export default m.default;\n' : `export const ${k} = m.${k};\n`)).join('');
        return { contents, loader: 'js', resolveDir: root };
      });
    },
  };
}

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
  const ownModule = new RegExp(`^${join(root, 'src').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`);
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
// Each section a CommonJS function body, comment-safe, ASCII.
const asBody = (what, code) => {
  const b = `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
  if (/[^\x00-\x7f]/.test(b)) throw new Error(`build: ${what} has a non-ASCII character`);
  if (b.includes('*/')) throw new Error(`build: a "*/" is left in ${what}`);
  return b;
};
const bodies = { '': asBody('the bundle', bundle) };
for (const [name, v] of Object.entries(vendors)) bodies[name] = asBody(name, commentSafe(v.text));

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

// Layout. dist/qdo-standalone.cjs is qdo in one file: a prologue (plain CommonJS, no
// dependencies; a top-level `return` ends a CommonJS module), then a block comment holding
// the sections: the main bundle, then each vendor package. Copied anywhere, it runs alone:
// Node reads the whole file and the prologue compiles slices of its own text.
// dist/qdo.cjs, the package's binary, is the same prologue without the comment: it reads from
// dist/qdo-standalone.cjs beside it only the bytes of the sections a command uses. Node reads
// its entry file through a buffer that doubles as it grows (~3.5 pages touched per page of
// file) and a page fault is dear on the VMs clusters give (~15 us here): reading the 1 MB
// file cost every command ~16 ms more than `node -e 0`, `--version` included
// (bench/README.md, stop 26).
// Code caches are named by a hash of qdo-standalone.cjs (both files use the same ones).
const STANDALONE = 'qdo-standalone.cjs';
const prologueWith = (hash, sections, launcher) => `#!/usr/bin/env node
// qdo ${pkg.version}: ${pkg.description}
// Built by scripts/build.mjs: ${launcher ? `the program is in ${STANDALONE} beside this file, read a section at a time` : `this prologue, then the program's sections in the comment that starts at the ${MARK} line`}
// (compiled with V8 code caches in $XDG_CACHE_HOME/qdo; QDO_CODE_CACHE=0 turns them off).
if (process.argv.length === 3 && process.argv[2] === '--version') {
  process.stdout.write('${pkg.version}\\n');
  return;
}
const fs = require('node:fs');
const vm = require('node:vm');
const path = require('node:path');
// Where each section is: [start, end) from the line after ${MARK}.
const SECTIONS = ${JSON.stringify(sections)};
// import() inside a vm.Script needs a callback Node 20 only has behind a flag: scheduler
// plugins are imported through this module's own import() (src/util/import-module.ts).
globalThis.__qdoImport = (url) => import(url);
// One cache per command word, made by its first successful run and made again by its
// second (the first run of a command often takes paths later runs do not, e.g. writing a
// cache of its own); a cache holds only what its command compiled, so each command
// deserializes only its own code. A vendor section has one cache, "@NAME".
// __complete is what the shells' completion scripts run at every TAB (src/cli/complete.ts).
const word = /^(?:__)?[a-z][a-z-]{0,30}$/.test(process.argv[2] || '') ? process.argv[2] : null;
// For qdo doctor: where the cache is and whether it is used.
const cacheInfo = { dir: path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || require('node:os').homedir(), '.cache'), 'qdo'), usable: false, reason: 'QDO_CODE_CACHE=0' };
globalThis.__qdoCodeCache = cacheInfo;
// V8 trusts a code cache's contents (a damaged one can crash the process), so each file ends
// with a 4-byte checksum of the rest: FNV-1a in four lanes over its 16-byte blocks (a
// little-endian 32-bit word each), the lanes folded in order, then FNV-1a over the last
// bytes. A file is read straight into the memory of a 162-byte WebAssembly function
// (scripts/fnv-lanes.wat) that sums it there with SIMD, and V8 is handed that memory: no copy
// into fresh pages and no JavaScript loop (interpreted, then optimized on the side, it cost
// ~3% of qdo status; bench/README.md, Start-up). Where WebAssembly is off (--jitless)
// JavaScript does the same sum.
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
let spare = null;
// n bytes to read or sum into, from the start of the WebAssembly memory (grown as needed),
// else of one Buffer kept for the purpose: a section's text is read there and copied into a
// string, then a cache is read over it, into pages already touched.
const room = (n) => {
  try {
    if (wasm === null) wasm = wasmMemoryFits() ? new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(FNV_LANES, 'hex'))).exports : false;
    if (wasm) {
      const have = wasm.m.buffer.byteLength;
      if (have < n) wasm.m.grow(Math.ceil((n - have) / 65536));
      return new Uint8Array(wasm.m.buffer, 0, n);
    }
  } catch {
    wasm = false;
  }
  if (spare === null || spare.length < n) spare = Buffer.allocUnsafeSlow(n);
  return spare.subarray(0, n);
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
// n bytes of the file open as fd from position at, in room(n).
const readAt = (fd, n, at) => {
  const b = room(n);
  for (let got = 0, k = 1; got < n; got += k) {
    k = fs.readSync(fd, b, got, n - got, at + got);
    if (k === 0) return null;
  }
  return b;
};
// A cache file's contents without its checksum, if the checksum is right; else null.
const readChecked = (file) => {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= 4) return null;
    const b = readAt(fd, size, 0);
    if (b === null) return null;
    const data = b.subarray(0, size - 4);
    return sum(data) === new DataView(b.buffer, b.byteOffset + size - 4, 4).getUint32(0, true) ? data : null;
  } finally {
    fs.closeSync(fd);
  }
};
${launcher ? `// The sections come from ${STANDALONE} beside this file (its real folder: Node resolves the
// link npm puts on PATH). It is code this process runs, so others than those who may change
// this file must not be able to change it either.
// (Under --preserve-symlinks-main __dirname is the link's folder: then the real one's.)
let FILE = path.join(__dirname, '${STANDALONE}');
const broken = (why) => {
  const message = FILE + ' ' + why;
  const hint = 'install qdo again (npm install -g), or put ${STANDALONE} of this build beside ' + __filename;
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ version: 1, error: { code: 'broken-install', message, hint } }) + '\\n');
  process.stderr.write('qdo: ' + message + '\\nhint: ' + hint + '\\n');
  process.exit(70);
};
let fd;
try {
  try {
    fd = fs.openSync(FILE, 'r');
  } catch (e) {
    const real = path.join(path.dirname(fs.realpathSync(__filename)), '${STANDALONE}');
    if (real === FILE) throw e;
    FILE = real;
    fd = fs.openSync(FILE, 'r');
  }
} catch (e) {
  broken(e && e.code === 'ENOENT' ? 'is missing: qdo.cjs runs the program in that file' : 'cannot be read (' + (e && e.code) + ')');
}
const st = fs.fstatSync(fd);
const me = fs.statSync(__filename);
if (st.uid !== me.uid || (st.mode & 0o022 & ~me.mode) !== 0) broken('may be changed by others than those who may change ' + __filename + ': it is not run');
// The main section is read with the prologue before it, whose code cache names hold the
// build's hash: the file must be the one this file was built with (its size, its hash).
let text = null;
if (st.size === ${launcher.size}) {
  const n = ${launcher.base} + SECTIONS[''][1];
  const b = readAt(fd, n, 0);
  text = b && Buffer.from(b.buffer, b.byteOffset, n).latin1Slice(0, n);
  if (text && text.lastIndexOf("'${hash}-'", ${launcher.base}) === -1) text = null;
}
if (text === null) {
  // Another build (an upgrade half done, or files of two builds copied together): that file
  // is all of qdo, and runs as Node runs it.
  fs.closeSync(fd);
  require(FILE);
  return;
}
const section = (name) => {
  const [s, e] = SECTIONS[name];
  if (name === '') return text.slice(${launcher.base} + s, ${launcher.base} + e);
  // A file replaced by rename (npm) leaves this one open as it was; one copied over in place
  // would put another build's bytes at these offsets: refused rather than compiled.
  const now = fs.fstatSync(fd);
  if (now.size !== st.size || now.mtimeMs !== st.mtimeMs) broken('changed while qdo ran (written over in place?): run the command again');
  const b = readAt(fd, e - s, ${launcher.base} + s);
  if (b === null) broken('is shorter than it was');
  return Buffer.from(b.buffer, b.byteOffset, e - s).latin1Slice(0, e - s);
};` : `// The comment in qdoProgram (at the end of this file, never called) holds the program. Node
// has read this file already, and V8 gives a declared function's text as a slice of it, no
// copy. (The text of the function Node wraps this file in, arguments.callee, is built anew:
// a megabyte copied, ~1 ms of every command; reading the file again cost as much.)
const FILE = __filename;
let text = qdoProgram.toString();
if (!text.includes('\\n${MARK}\\n')) text = fs.readFileSync(__filename, 'latin1');
const at = text.indexOf('\\n${MARK}\\n') + ${MARK.length + 2};
const section = (name) => text.slice(at + SECTIONS[name][0], at + SECTIONS[name][1]);`}
let cacheBase = null;
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
      cacheBase = (key) => path.join(dir, '${hash}-' + process.version + '-' + process.arch + '-' + key + (flags ? '+' + (tag >>> 0).toString(16) : ''));
    }
  } catch {}
}
// Scripts whose cache is to be made (or made again) as the process exits.
const toWrite = [];
// A section compiled, with the cache named by key if there is one (key null: none).
const compile = (key, source) => {
  const base = cacheBase && key ? cacheBase(key) : null;
  let cached;
  let generation = 0;
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
  const script = new vm.Script(source, { filename: FILE, cachedData: cached });
  if (base && (generation < 2 || script.cachedDataRejected)) {
    if (toWrite.length === 0) process.once('exit', writeCaches);
    toWrite.push({ base, generation, script });
  }
  return script;
};
const writeCaches = (code) => {
  // Made by runs that went as meant: 0, and the answers that are no error (spec/exit-codes.md:
  // 1, e.g. wait on a job that failed, diff --exit-code; 8 and 9 from wait), so a wait in a
  // script whose jobs fail still gets its cache. Not by a usage error or a failure, whose
  // paths (help text, error reports) a normal run does not take.
  if (code !== 0 && code !== 1 && code !== 8 && code !== 9) return;
  for (const { base, generation, script } of toWrite) {
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
    } catch {}
  }
  // Caches not used for a week go: of other builds of qdo, of another Node, of flags no
  // longer used (two versions of qdo sharing a home each keep theirs), and the temp file
  // of a run killed while it wrote one.
  try {
    const dir = cacheInfo.dir;
    const week = Date.now() - 7 * 86400e3;
    for (const f of fs.readdirSync(dir)) {
      if (!f.endsWith('.v8') && !f.endsWith('.tmp')) continue;
      const p = path.join(dir, f);
      const st = fs.statSync(p);
      if (st.atimeMs < week && st.mtimeMs < week) fs.rmSync(p, { force: true });
    }
  } catch {}
};
// The program's require: "qdo-vendor:NAME" is a vendor section (compiled and run once), any
// other name Node's.
const vendors = new Map();
const qdoRequire = Object.assign((id) => {
  if (typeof id !== 'string' || !id.startsWith('${VENDOR_PREFIX}')) return require(id);
  const name = id.slice(${VENDOR_PREFIX.length});
  let mod = vendors.get(name);
  if (!mod) {
    if (!Object.prototype.hasOwnProperty.call(SECTIONS, name) || name === '') throw new Error('qdo: no section ' + name);
    mod = { exports: {}, id };
    vendors.set(name, mod);
    compile('@' + name, section(name)).runInThisContext().call(mod.exports, mod.exports, qdoRequire, mod, FILE, path.dirname(FILE));
  }
  return mod.exports;
}, { resolve: require.resolve, cache: require.cache, main: require.main });
compile(word, section('')).runInThisContext().call(module.exports, module.exports, qdoRequire, module, FILE, path.dirname(FILE));
return;
${launcher ? '' : `function qdoProgram() {
${MARK}
`}`;

// The comment's contents: the sections, one after another, each on its own lines.
const sections = {};
let content = '';
for (const [name, b] of Object.entries(bodies)) {
  sections[name] = [content.length, content.length + b.length];
  content += b + '\n';
}
const hash = createHash('sha256').update(prologueWith('0'.repeat(16), sections, null) + content).digest('hex').slice(0, 16);
const prologue = prologueWith(hash, sections, null);
const standalone = prologue + content + '*/\n}\n';
const launcher = prologueWith(hash, sections, { base: prologue.length, size: Buffer.byteLength(standalone) });
// Every part must compile: the prologues as Node will (a CommonJS function body), each
// section as the prologue will.
new vm.Script(`(function (exports, require, module, __filename, __dirname) {${prologue.replace(/^#!.*/, '')}*/\n}\n})`, { filename: 'prologue' });
new vm.Script(`(function (exports, require, module, __filename, __dirname) {${launcher.replace(/^#!.*/, '')}\n})`, { filename: 'launcher' });
for (const [name, [s, e]] of Object.entries(sections)) {
  const src = standalone.slice(prologue.length + s, prologue.length + e);
  if (src !== bodies[name]) throw new Error(`build: section ${name} is not where it is said to be`);
  new vm.Script(src, { filename: name || 'bundle' });
}
// Node reads the file as UTF-8: one non-ASCII character anywhere would make the whole
// megabyte a two-byte string for it and V8's scanner.
if (/[^\x00-\x7f]/.test(prologue) || /[^\x00-\x7f]/.test(launcher)) throw new Error('build: the prologue must be ASCII');
mkdirSync(dirname(out), { recursive: true });
for (const [file, text] of [[join(dirname(out), STANDALONE), standalone], [out, launcher]]) {
  const tmp = file + '.tmp';
  writeFileSync(tmp, text);
  chmodSync(tmp, 0o755);
  renameSync(tmp, file);
}

// Licences of the bundled packages.
const pkgs = new Map();
for (const input of [r.metafile, ...Object.values(vendors).map((v) => v.metafile)].flatMap((m) => Object.keys(m.inputs))) {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (!m) continue;
  const dir = join(root, input.slice(0, m.index + m[0].length));
  if (!pkgs.has(m[1])) pkgs.set(m[1], dir);
}
let notices = `Third-party software bundled in dist/qdo-standalone.cjs (qdo ${pkg.version}):\n`;
for (const [name, dir] of [...pkgs].sort(([a], [b]) => (a < b ? -1 : 1))) {
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const lic = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  notices += `\n${'='.repeat(78)}\n${name}@${meta.version} (${typeof meta.license === 'string' ? meta.license : 'see below'})\n\n`;
  notices += lic && existsSync(join(dir, lic)) ? readFileSync(join(dir, lic), 'utf8').trim() + '\n' : 'no licence file in the package\n';
}
writeFileSync(join(root, 'dist/THIRD-PARTY-LICENSES.txt'), notices);
