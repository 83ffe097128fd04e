// Test entry: runs every compiled *.test.js under dist/test (or those whose path contains
// one of the arguments) in one uvu session, then prints a plain "N passed, N failed" line.
// Each test has a time limit (helpers/uvu-timed.ts).
import { readdirSync, statSync } from 'node:fs';
import { register } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { run } from 'uvu/run';

const root = dirname(fileURLToPath(import.meta.url));
// Every test and hook gets a time limit (helpers/uvu-timed.ts): test files import 'uvu' and
// get the timed version through this hook.
register('./helpers/uvu-hook.js', import.meta.url, {
  data: { root: pathToFileURL(root).href + '/', timed: pathToFileURL(join(root, 'helpers', 'uvu-timed.js')).href },
});
const filters = process.argv.slice(2);

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : n.endsWith('.test.js') ? [p] : [];
    });
}

const files = walk(root).filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)));
let total = 0;
let passed = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  // eslint-disable-next-line no-control-regex
  const plain = s.replace(/\x1b\[[0-9;]*m/g, '');
  const t = /Total:\s+(\d+)/.exec(plain);
  const p = /Passed:\s+(\d+)/.exec(plain);
  if (t) total = Number(t[1]);
  if (p) passed = Number(p[1]);
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

await run(files.map((file) => ({ name: relative(root, file), file })));
process.stdout.write = write;
if (files.length === 0) {
  console.log('no test files matched');
  process.exitCode = 1;
} else {
  console.log(`\n${passed} passed, ${total - passed} failed`);
  if (total === 0) process.exitCode = 1;
}
// A test that timed out may have left work behind (a hung child process, a timer): do not
// let it keep the run from ending.
if ((globalThis as Record<string, unknown>).QDO_TESTS_TIMED_OUT) setTimeout(() => process.exit(), 5000).unref();
