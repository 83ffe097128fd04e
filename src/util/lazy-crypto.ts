// node:crypto, loaded on first use: loading it costs ~2.5% of node's start-up, and
// `qdo status` never hashes nor names a temp file (bench/README.md §Start-up).
import { createRequire } from 'node:module';

let mod: typeof import('node:crypto') | undefined;

export function crypto(): typeof import('node:crypto') {
  return (mod ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto'));
}
