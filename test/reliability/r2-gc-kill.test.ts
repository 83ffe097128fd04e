// R2 for gc (spec/layout.md §Collected lists, spec/porcelain.md §qdo gc): a gc removing
// thousands of superseded run folders is SIGKILLed mid-way — right after its first list is
// in place, and while folders are going — then run again. Afterwards: every folder that went
// is named by a list that parses (no folder goes before its list), the second gc removes the
// rest and exits 0, the kept versions' folders are all there, and fsck finds no damage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { qdo, removeDir, tempDir } from '../helpers/cli.js';
import { layoutOf } from '../../src/store/layout.js';
import { readRefs } from '../../src/store/refs.js';
import { readManifest } from '../../src/store/manifests.js';
import { runDirOf } from '../../src/core/runs.js';
import { collectedDir, isCollectedListName, parseCollectedList } from '../../src/store/collected.js';
import { buildStore } from '../../bench/scale.js';
import { killWhen, LARGE, large } from './harness.js';

const JOBS = LARGE ? 10_000 : 3_000;

interface Version {
  id: string;
  dir: string;
}

/** Each job's three versions, oldest first, with their run folders. */
async function versions(home: string): Promise<Version[][]> {
  const l = layoutOf(home);
  const out: Version[][] = [];
  for (const [name, head] of await readRefs(l, 'p')) {
    const chain: Version[] = [];
    for (let id: string | null = head; id !== null; ) {
      const m = await readManifest(l, id);
      chain.unshift({ id, dir: runDirOf(l, { project: 'p', name, version: m.version }, id) });
      id = m.parent;
    }
    out.push(chain);
  }
  return out;
}

function listedIds(home: string): Set<string> {
  const d = collectedDir(layoutOf(home));
  const ids = new Set<string>();
  if (!existsSync(d)) return ids;
  for (const n of readdirSync(d)) {
    if (!isCollectedListName(n)) continue; // a temp file of a list not yet in place
    for (const e of parseCollectedList(join(d, n), readFileSync(join(d, n), 'utf8')).entries) ids.add(e.id);
  }
  return ids;
}

const STAGES: { name: string; marker: (home: string, firstDirs: string[]) => boolean }[] = [
  { name: 'its first list is in place', marker: (h) => existsSync(collectedDir(layoutOf(h))) && readdirSync(collectedDir(layoutOf(h))).some(isCollectedListName) },
  { name: 'folders are going', marker: (_h, dirs) => dirs.slice(0, 50).some((d) => !existsSync(d)) },
];

for (const stage of STAGES) {
  test(`R2 gc: ${JOBS} superseded run folders, killed when ${stage.name}, then run again: no folder gone without its list`, large(async () => {
    const home = tempDir('qdo-r2gc-');
    try {
      await buildStore(home, [{ project: 'p', jobs: JOBS, versions: 3, runDirs: true }]);
      const all = await versions(home);
      const firsts = all.map((c) => c[0]!);
      const dirs = firsts.map((v) => v.dir).sort();
      const killed = await killWhen(home, ['gc', '--json'], `gc reaching "${stage.name}"`, () => stage.marker(home, dirs), 50);

      // Every folder that went is listed; nothing kept went.
      const listed = listedIds(home);
      const gone = firsts.filter((v) => !existsSync(v.dir));
      for (const v of gone) assert.ok(listed.has(v.id), `${v.dir} went without a list naming it`);
      for (const c of all) for (const v of c.slice(1)) assert.ok(existsSync(v.dir), `${v.dir} (kept) is there`);
      // Killed mid-way (not after gc was done): some folder of @1 is still there.
      if (killed) assert.ok(gone.length < JOBS, `killed after every folder went (${stage.name})`);

      // The next gc finishes the work.
      const again = await qdo(['gc', '--json'], { home, env: { QDO_SCHEDULER: 'local' } });
      assert.is(again.code, 0, again.stderr);
      for (const v of firsts) assert.not.ok(existsSync(v.dir), `${v.dir} removed by the second gc`);
      const after = listedIds(home);
      for (const v of firsts) assert.ok(after.has(v.id), `${v.id} listed`);
      const f = await qdo(['fsck'], { home, env: { QDO_SCHEDULER: 'local' } });
      assert.not.match(f.stdout, /^error /m, f.stdout);
      assert.is(f.code, 0, f.stdout);
    } finally {
      removeDir(home);
    }
  }));
}

test.run();
