// Golden files: whole outputs compared with test/cli/golden/<name>. QDO_UPDATE_GOLDEN=1
// rewrites them; a missing one is written and the test fails until it is checked in.
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './cli.js';

export const GOLDEN_DIR = join(REPO, 'test/cli/golden');

export function assertGolden(name: string, text: string): void {
  const file = join(GOLDEN_DIR, name);
  const update = process.env.QDO_UPDATE_GOLDEN === '1';
  if (update || !existsSync(file)) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, text);
    if (!update) assert.unreachable(`golden file ${file} was missing and has been written; check it in`);
  }
  assert.fixture(text, readFileSync(file, 'utf8'));
}
