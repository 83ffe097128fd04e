// The layers of STYLE.md, read from the import lines of src/: cli -> core -> {store,
// scheduler, template, output} -> model -> util; errors is a leaf. And the libraries each
// layer alone may import: yargs (cli), nunjucks (template), proper-lockfile (store).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO } from '../helpers/cli.js';

const SRC = join(REPO, 'src');
const MAY_IMPORT: Record<string, string[] | null> = {
  cli: null, // anything
  core: ['core', 'store', 'scheduler', 'template', 'output', 'model', 'util', 'errors', 'context', 'version'],
  store: ['store', 'model', 'util', 'errors', 'context'],
  scheduler: ['scheduler', 'model', 'util', 'errors', 'context'],
  template: ['template', 'model', 'util', 'errors', 'context'],
  output: ['output', 'model', 'util', 'errors'],
  model: ['model', 'util', 'errors'],
  util: ['util', 'errors'],
  errors: [],
  context: ['util'],
  version: [],
};
const LIBRARY_OWNER: Record<string, string> = { yargs: 'cli', nunjucks: 'template', 'proper-lockfile': 'store' };

function walk(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(file: string): string {
  const r = relative(SRC, file);
  return r.includes('/') ? r.split('/')[0]! : r.replace(/\.ts$/, '');
}

test('every import in src/ goes down the layers, and each library is imported by its layer only', () => {
  const wrong: string[] = [];
  for (const f of walk(SRC)) {
    const from = layerOf(f);
    assert.ok(from in MAY_IMPORT, `${relative(SRC, f)}: a layer this test does not know (add it to MAY_IMPORT)`);
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/g)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) {
        const to = layerOf(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
        const ok = MAY_IMPORT[from] === null || MAY_IMPORT[from]!.includes(to);
        if (!ok) wrong.push(`${relative(SRC, f)} imports ${spec} (${from} -> ${to})`);
      } else {
        const owner = LIBRARY_OWNER[spec.replace(/^node:/, '')];
        if (owner && owner !== from) wrong.push(`${relative(SRC, f)} imports ${spec} (only ${owner}/ may)`);
      }
    }
  }
  assert.equal(wrong, []);
});

test.run();
