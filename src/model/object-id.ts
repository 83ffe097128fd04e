// Object ids (spec/objects.md §Ids): lowercase hex sha256 of the object's bytes.
import { crypto } from '../util/lazy-crypto.js';
import { sha256Hex } from '../util/sha256.js';

export const ID_LENGTH = 64;
export const MIN_PREFIX = 4;
export const ZERO_ID = '0'.repeat(ID_LENGTH);
const ID_RE = /^[0-9a-f]{64}$/;
const PREFIX_RE = /^[0-9a-f]{4,64}$/;

// The first few kilobytes a process hashes go through util/sha256.ts (WebAssembly, ~0.8 ms to
// set up, then ~80 µs a kilobyte until V8 optimises it); beyond, node:crypto (~3 ms to load,
// then ~2 µs a kilobyte): a command that checks a few manifests never loads node:crypto, a
// sweep or fsck hashing thousands soon does (bench/README.md, stop 24).
const SMALL_BUDGET = 32 * 1024;
let smallHashed = 0;

export function objectId(bytes: Buffer | Uint8Array): string {
  if (smallHashed + bytes.length <= SMALL_BUDGET) {
    smallHashed += bytes.length;
    const id = sha256Hex(bytes);
    if (id !== null) return id;
    smallHashed = SMALL_BUDGET;
  }
  return crypto().createHash('sha256').update(bytes).digest('hex');
}

export function isObjectId(s: string): boolean {
  return ID_RE.test(s);
}

export function isIdPrefix(s: string): boolean {
  return PREFIX_RE.test(s);
}
