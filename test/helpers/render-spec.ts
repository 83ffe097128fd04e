// A RenderSpec for renderer tests: job sim-1 in /scratch/u/p with the given resources.
import type { Resources } from '../../src/model/resources.js';
import type { RenderSpec } from '../../src/scheduler/types.js';

export function renderSpec(resources: Resources, more: Partial<RenderSpec> = {}): RenderSpec {
  return { jobName: 'sim-1', resources, script: 'echo hi\n', runDir: '/scratch/u/p/runs/sim-1/3', submitDir: '/scratch/u/p', env: {}, ...more };
}
