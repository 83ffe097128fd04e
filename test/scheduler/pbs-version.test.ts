// `qstat --version` / `qsub --version` → flavour and version (spec/scheduler-pbs.md §Version detection).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { detectPbs, parsePbsVersion } from '../../src/scheduler/pbs/version.js';
import { fakeRunner } from './pbs-fake-runner.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');

test('PBS Pro / OpenPBS: pbs_version = X on stdout', () => {
  assert.equal(parsePbsVersion(fx('pbspro/version/qstat_version_openpbs19.1.3.stdout'), ''), { flavor: 'pbspro', version: '19.1.3' });
  assert.equal(parsePbsVersion(fx('pbspro/version/qstat_version_pbspro2022.1.1_polaris.stdout'), ''), { flavor: 'pbspro', version: '2022.1.1.20220926110806' });
  assert.equal(parsePbsVersion(fx('pbspro/version/qsub_version_openpbs19.0.0.stdout'), ''), { flavor: 'pbspro', version: '19.0.0' });
});

test('TORQUE: Version: X (+ Commit) on stderr', () => {
  assert.equal(parsePbsVersion('', fx('torque/qsub_version_torque7.0.1.stderr')), { flavor: 'torque', version: '7.0.1' });
  assert.equal(parsePbsVersion('', fx('torque/qstat_version_torque6.1.2_firstline.txt')), { flavor: 'torque', version: '6.1.2' });
});

test('Slurm\'s TORQUE wrapper: no version, recognised by its usage text', () => {
  const out = fx('slurm-torque-wrapper/qstat_version.stdout');
  assert.is(out, '');
  assert.equal(parsePbsVersion(out, fx('slurm-torque-wrapper/qstat_version.stderr')), { flavor: 'torque', version: null, slurmWrapper: true });
});

test('anything else is null', () => {
  assert.is(parsePbsVersion('', fx('pbspro/errors/qstat_server_down_refused_pbspro2022.1.7.stderr')), null);
  assert.is(parsePbsVersion('slurm 22.05.8\n', ''), null);
});

test('detectPbs runs qstat --version once and accepts any exit code', async () => {
  const { run, calls } = fakeRunner([{ argv: ['qstat', '--version'], reply: { stderr: fx('slurm-torque-wrapper/qstat_version.stderr'), exitCode: 2 } }]);
  assert.equal(await detectPbs(run), { flavor: 'torque', version: null, slurmWrapper: true });
  assert.is(calls.length, 1);
  const two = fakeRunner([{ argv: ['qstat', '--version'], reply: { timeout: true } }]);
  assert.is(await detectPbs(two.run), null);
});

test.run();
