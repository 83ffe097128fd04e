// Object ids (spec/objects.md §Ids): lowercase hex sha256 of the object's bytes.
import { crypto } from '../util/lazy-crypto.js';

export const ID_LENGTH = 64;
export const MIN_PREFIX = 4;
export const ZERO_ID = '0'.repeat(ID_LENGTH);
const ID_RE = /^[0-9a-f]{64}$/;
const PREFIX_RE = /^[0-9a-f]{4,64}$/;

export function objectId(bytes: Buffer | Uint8Array): string {
  return crypto().createHash('sha256').update(bytes).digest('hex');
}

export function isObjectId(s: string): boolean {
  return ID_RE.test(s);
}

export function isIdPrefix(s: string): boolean {
  return PREFIX_RE.test(s);
}
