// A project or pattern filter reads only the projects it can match (issue 13; spec/porcelain.md
// §qdo status): another project's refs are not even opened, so their damage cannot show.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { qdo, removeDir, tempDir } from '../helpers/cli.js';

const home = tempDir('qdo-scope-');
const opts = { home, env: { QDO_SCHEDULER: 'local' } };
test.after(() => removeDir(home));

test('status PROJECT and PROJECT/GLOB do not read other projects; a bare glob outside a project reads all', async () => {
  for (const p of ['a', 'b', 'c/d']) assert.is((await qdo(['project', 'add', p], opts)).code, 0);
  for (const j of ['a/x1', 'a/x2', 'b/x1', 'c/d/x1']) assert.is((await qdo(['submit', j, '--hold', '--', 'true'], opts)).code, 0, j);
  // Damage b's refs: any command that reads them reports it (exit 7).
  writeFileSync(join(home, '.qdo/refs/b.journal'), '<<<<<<< ours\n');
  const names = async (args: string[]) => {
    const r = await qdo(['status', '--json', ...args], opts);
    return { code: r.code, jobs: (JSON.parse(r.stdout).jobs as { job: string }[]).map((j) => j.job) };
  };
  assert.equal(await names(['a']), { code: 0, jobs: ['a/x1', 'a/x2'] });
  assert.equal(await names(['a/x*']), { code: 0, jobs: ['a/x1', 'a/x2'] });
  assert.equal(await names(['c/*/x1']), { code: 0, jobs: ['c/d/x1'] });
  // These can match b's jobs: b is read, and its damage reported.
  assert.is((await names(['*/x1'])).code, 7);
  assert.is((await names(['x1'])).code, 7);
  assert.is((await names(['**/x1'])).code, 7);
  await qdo(['cancel', 'a/*', 'c/d/*'], opts);
});

test.run();
