// Every file in test/fixtures/pbs is documented in its README (with its source) and read by
// at least one PBS/TORQUE test, so no capture sits unused and none is undocumented.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = join(root, 'test/fixtures/pbs');

function walk(d: string): string[] {
  return readdirSync(d)
    .sort()
    .flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
}

const fixtures = walk(dir)
  .map((f) => relative(dir, f))
  .filter((f) => f !== 'README.md');
const tests = [join(root, 'test/scheduler'), join(root, 'test/e2e')]
  .flatMap((d) => {
    try {
      return readdirSync(d).map((n) => join(d, n));
    } catch {
      return [];
    }
  })
  .filter((f) => /\/(pbs|torque)-[^/]*\.ts$/.test(f) && !f.endsWith('pbs-fixtures.test.ts'))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

test('the fixture set is the shared one plus the Slurm wrapper captures', () => {
  assert.ok(fixtures.length >= 74, `${fixtures.length} fixtures`);
  assert.equal([...new Set(fixtures.map((f) => f.split('/')[0]))].sort(), ['pbspro', 'slurm-torque-wrapper', 'torque']);
});

test('every fixture is named in README.md', () => {
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  const missing = fixtures.filter((f) => !readme.includes(`${f.split('/').pop()}\``));
  assert.equal(missing, []);
});

test('every fixture is used by a PBS/TORQUE test', () => {
  const unused = fixtures.filter((f) => !tests.includes(f.split('/').pop()!));
  assert.equal(unused, []);
});

test.run();
