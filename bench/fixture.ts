// Allocations as `qdo submit` leaves them, built directly (benchmarks, completion tests):
// a manifest chain per job name, a submission record per version (all ended), the refs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAllocation } from '../src/store/layout.js';
import { writeAllRefs, type RefMap } from '../src/store/refs.js';
import { objectId } from '../src/model/object-id.js';
import { canonicalBytes } from '../src/model/canonical-json.js';

/**
 * An allocation of `jobs` names with `versions` versions each, as qdo submit leaves it:
 * a manifest chain per name, a submission record per version (all ended), one refs file.
 * Written without fsync (the layout is what matters, not how it got there).
 */
export async function buildAllocation(dir: string, jobs: number, versions: number, project = 'big'): Promise<void> {
  const { layout } = await createAllocation(dir);
  writeFileSync(layout.projects, `${project}\n`);
  mkdirSync(join(dir, ...project.split('/')), { recursive: true });
  const script = Buffer.from('#!/bin/bash\ntrue\n');
  const scriptId = objectId(script);
  const put = (id: string, bytes: Buffer, under: string, suffix = '') => {
    const d = join(under, id.slice(0, 2));
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, id.slice(2) + suffix), bytes);
  };
  put(scriptId, script, layout.objects);
  const refs: RefMap = new Map();
  const subs = join(layout.dir, 'submissions');
  for (let j = 0; j < jobs; j++) {
    const name = `job${String(j).padStart(5, '0')}`;
    let parent: string | null = null;
    for (let v = 1; v <= versions; v++) {
      const created = new Date(Date.UTC(2026, 0, 1) + (j * versions + v) * 1000).toISOString();
      const m = { schema: 'qdo.job/v1', project, name, version: v, parent, script: scriptId, resources: { time: 60 }, scheduler: 'local', params: {}, env: {}, prologue: null, epilogue: null, created };
      const bytes = canonicalBytes(m);
      const id = objectId(bytes);
      put(id, bytes, layout.objects);
      const rec = { schema: 'qdo.submission/v1', id, project, name, version: v, scheduler: 'local', cluster: 'local@bench', host: 'bench', pid: 1, intent: created, submitted: created, sched_id: String(j * versions + v), after: [], state: 'completed', state_source: 'exit-record', state_time: created, exit_code: 0, reason: null };
      put(id, canonicalBytes(rec), subs, '.json');
      parent = id;
    }
    refs.set(name, parent!);
  }
  await writeAllRefs(layout, project, refs);
}

