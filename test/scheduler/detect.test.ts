// Detection from what is on PATH (spec/config.md §Choosing), with stub commands.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, removeDir } from '../helpers/cli.js';
import { detectScheduler, findOnPath } from '../../src/scheduler/detect.js';

let dir = '';
test.before.each(() => {
  dir = tempDir();
});
test.after.each(() => removeDir(dir));

function stub(bin: string, name: string, body: string): void {
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}
// Only the stubs: the machine's own /usr/bin may hold a real sbatch or qstat.
const sys = '/nonexistent';

test('sbatch on PATH is Slurm', async () => {
  stub(join(dir, 'b'), 'sbatch', 'echo "slurm-wlm 22.05.8"');
  stub(join(dir, 'b'), 'qstat', 'echo "pbs_version = 2022.1.1"');
  const d = await detectScheduler({ PATH: `${join(dir, 'b')}:${sys}` });
  assert.equal(d, { kind: 'slurm', version: '22.05.8', evidence: `sbatch at ${join(dir, 'b', 'sbatch')}` });
});

test('qstat answering pbs_version is PBS Pro', async () => {
  stub(join(dir, 'b'), 'qstat', '[ "$1" = --version ] && echo "pbs_version = 2022.1.1.20220926110806"');
  const d = await detectScheduler({ PATH: `${join(dir, 'b')}:${sys}` });
  assert.equal([d.kind, d.version], ['pbs', '2022.1.1.20220926110806']);
});

test('qstat answering "Version:" on stderr is Torque', async () => {
  stub(join(dir, 'b'), 'qstat', '[ "$1" = --version ] && { echo "Version: 6.1.2" >&2; echo "Commit: abc" >&2; }');
  const d = await detectScheduler({ PATH: `${join(dir, 'b')}:${sys}` });
  assert.equal([d.kind, d.version], ['torque', '6.1.2']);
});

test('nothing known on PATH is local; an odd qstat is not trusted', async () => {
  assert.is((await detectScheduler({ PATH: join(dir, 'empty') })).kind, 'local');
  stub(join(dir, 'b'), 'qstat', 'echo "I am not a scheduler"');
  assert.is((await detectScheduler({ PATH: `${join(dir, 'b')}:${sys}` })).kind, 'local');
});

test('findOnPath skips non-executables and empty entries', async () => {
  mkdirSync(join(dir, 'b'));
  writeFileSync(join(dir, 'b', 'tool'), 'x');
  assert.is(await findOnPath('tool', `::${join(dir, 'b')}`), null);
  stub(join(dir, 'c'), 'tool', 'true');
  assert.is(await findOnPath('tool', `${join(dir, 'b')}:${join(dir, 'c')}`), join(dir, 'c', 'tool'));
});

test.run();
