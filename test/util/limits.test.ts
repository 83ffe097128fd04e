// util/limits.ts: whether a WebAssembly memory can be made, read from /proc before trying.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/cli.js';
import { OTHER_FILES, wasmMemoryFits } from '../../src/util/limits.js';

const MODULE = pathToFileURL(join(REPO, 'dist/src/util/limits.js')).href;

function underLimit(kb: number | 'unlimited'): { fits: string; made: string } {
  const code = `import(${JSON.stringify(MODULE)}).then((m) => { const fits = m.wasmMemoryFits() ? 1 : 0; let made = 1; try { new WebAssembly.Memory({ initial: 1 }); } catch { made = 0; } console.log(fits, made); })`;
  const r = spawnSync('bash', ['-c', `ulimit -v ${kb} && exec "$0" -e "$1"`, process.execPath, code], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const [fits, made] = r.stdout.trim().split(' ');
  return { fits: fits!, made: made! };
}

test('it says yes with no limit, as here', () => {
  assert.ok(wasmMemoryFits());
});

test('it agrees with V8 on either side of the reservation: 6 GB and 11 GB no, 13 GB and unlimited yes', () => {
  for (const [kb, want] of [[6_000_000, '0'], [11_000_000, '0'], [13_000_000, '1'], ['unlimited', '1']] as const) {
    const r = underLimit(kb);
    assert.is(r.fits, want, `ulimit -v ${kb}`);
    assert.is(r.made, want, `ulimit -v ${kb}: what V8 does`);
  }
});

function inChild(ulimit: string, expr: string): string {
  const code = `import(${JSON.stringify(MODULE)}).then((m) => console.log(JSON.stringify(${expr})))`;
  const r = spawnSync('bash', ['-c', `ulimit ${ulimit} && exec "$0" -e "$1"`, process.execPath, code], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('openFileBudget: the soft ulimit -n less what the rest of a command holds, never below 8', () => {
  assert.is(inChild('-n 1024', '[m.openFileLimit(), m.openFileBudget()]'), JSON.stringify([1024, 1024 - OTHER_FILES]));
  assert.is(inChild('-n 256', '[m.openFileLimit(), m.openFileBudget()]'), JSON.stringify([256, 256 - OTHER_FILES]));
  assert.is(inChild('-n 40', 'm.openFileBudget()'), '8');
});

test.run();
