// SHA-256 of small inputs without node:crypto: most commands hash or check only a few
// kilobytes (a manifest, a job script), and loading node:crypto costs ~2.5 ms of every such
// command (it loads the stream modules; bench/README.md, stop 24). The compression function
// is WebAssembly (src/util/sha256.wat, made by scripts/gen-sha256-wasm.mjs); this module pads
// the message. Where WebAssembly cannot run (node --jitless, or too little address space for
// its memory: util/limits.ts), null: the caller uses node:crypto.
import { wasmMemoryFits } from './limits.js';
import { SHA256_WASM } from './sha256-wasm.js';

interface Sha256Module {
  m: { buffer: ArrayBuffer; grow(pages: number): number };
  hash(at: number, blocks: number): void;
}
// TypeScript's lib here has no WebAssembly types (they come with the DOM lib): the two
// constructors used, as Node has them.
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

/** Where the padded message goes in the module's memory (below: K, the schedule, the digest). */
const MESSAGE_AT = 1024;
let mod: Sha256Module | null | undefined;

function load(): Sha256Module | null {
  // Under a low `ulimit -v`, node:crypto at once rather than a failure ~50 ms long.
  if (!wasmMemoryFits()) return null;
  try {
    const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
    return new wasm.Instance(new wasm.Module(Buffer.from(SHA256_WASM, 'base64'))).exports as Sha256Module;
  } catch {
    return null;
  }
}

/** The SHA-256 digest of `data` as 64 lower-case hex digits, or null without WebAssembly. */
export function sha256Hex(data: Uint8Array): string | null {
  const x = mod === undefined ? (mod = load()) : mod;
  if (x === null) return null;
  const n = data.length;
  // The message, one 0x80 byte, zeros, and the length in bits as 64 bits big-endian: a whole
  // number of 64-byte blocks.
  const padded = (((n + 8) >> 6) + 1) << 6;
  const need = MESSAGE_AT + padded;
  if (x.m.buffer.byteLength < need) x.m.grow(Math.ceil((need - x.m.buffer.byteLength) / 65536));
  const mem = new Uint8Array(x.m.buffer);
  mem.set(data, MESSAGE_AT);
  mem.fill(0, MESSAGE_AT + n, need);
  mem[MESSAGE_AT + n] = 0x80;
  const view = new DataView(x.m.buffer);
  view.setUint32(need - 8, Math.floor(n / 0x20000000), false);
  view.setUint32(need - 4, (n * 8) >>> 0, false);
  x.hash(MESSAGE_AT, padded >> 6);
  let hex = '';
  for (let i = 0; i < 8; i++) hex += view.getUint32(512 + 4 * i, true).toString(16).padStart(8, '0');
  return hex;
}
