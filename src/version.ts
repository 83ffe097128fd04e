// qdo's version: package.json's, the one number (test/docs/version.test.ts checks the
// bundle, the tree, the man pages and package-lock.json against it). The bundle has it
// compiled in (esbuild --define); the compiled tree reads package.json once, when asked.
import { readFileSync } from 'node:fs';

declare const __QDO_VERSION__: string | undefined;

let cached: string | undefined;

export function version(): string {
  if (typeof __QDO_VERSION__ === 'string') return __QDO_VERSION__;
  cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}
