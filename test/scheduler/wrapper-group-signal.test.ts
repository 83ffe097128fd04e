// Schedulers (scancel, qdel) signal every process of a job at once. The wrapper must then
// record 128+15, not a garbage status (bash's `wait` answered -1 → "exit 255" before).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, removeDir } from '../helpers/cli.js';
import { renderWrapper, SLURM_JOB_VARS } from '../../src/scheduler/wrapper.js';

test('TERM to the whole process group: exit 143 and signal TERM, every time', async () => {
  const dir = tempDir();
  try {
    const runDir = join(dir, 'run');
    const script = '#!/bin/bash\n' + renderWrapper({ jobName: 'g', resources: {}, script: 'sleep 300\n', runDir, submitDir: dir, env: {} }, SLURM_JOB_VARS);
    writeFileSync(join(dir, 'job.sh'), script);
    for (let i = 0; i < 6; i++) {
      removeDir(runDir);
      const child = spawn('bash', [join(dir, 'job.sh')], { detached: true, stdio: 'ignore' });
      for (let t = 0; t < 100 && !existsSync(join(runDir, 'qdo-script')); t++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 150));
      process.kill(-child.pid!, 'SIGTERM');
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      const end = JSON.parse(readFileSync(join(runDir, 'qdo-end.json'), 'utf8'));
      assert.is(code, 143, `round ${i}: wrapper exit`);
      assert.equal([end.exit_code, end.signal], [143, 'TERM'], `round ${i}: end record`);
    }
  } finally {
    removeDir(dir);
  }
});

test.run();
