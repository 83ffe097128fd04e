// Canonical JSON (spec/objects.md §Canonical JSON): keys sorted by UTF-16 code units
// (JavaScript's default sort, the same as sorting ASCII keys bytewise), no insignificant
// whitespace, UTF-8, one final LF. Numbers must be finite; undefined members are dropped.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function canonicalize(value: unknown): string {
  return encode(value, '$') ;
}

/** Canonical bytes of a JSON value: the exact content of a JSON object file. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value) + '\n', 'utf8');
}

function encode(v: unknown, path: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`canonical JSON: ${path} is not a finite number`);
      return JSON.stringify(v);
    case 'string':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map((x, i) => encode(x === undefined ? null : x, `${path}[${i}]`)).join(',') + ']';
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return '{' + keys.map((k) => JSON.stringify(k) + ':' + encode(obj[k], `${path}.${k}`)).join(',') + '}';
    }
    default:
      throw new TypeError(`canonical JSON: ${path} has unsupported type ${typeof v}`);
  }
}

/** True if `bytes` are exactly the canonical encoding of what they parse to. */
export function isCanonical(bytes: Buffer): boolean {
  try {
    const text = bytes.toString('utf8');
    if (!text.endsWith('\n')) return false;
    return canonicalBytes(JSON.parse(text)).equals(bytes);
  } catch {
    return false;
  }
}
