// PbsProBackend with a scripted runner replaying captured PBS Pro outputs
// (test/fixtures/pbs/README.md gives each file's source, exit code and version).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PbsProBackend } from '../../src/scheduler/pbs/backend-pbspro.js';
import type { JobState } from '../../src/scheduler/types.js';
import { fakeRunner, type Expect } from './pbs-fake-runner.js';
import { rejectsScheduler } from '../helpers/assert.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fx = (p: string): string => readFileSync(join(root, 'test/fixtures/pbs', p), 'utf8');
const A = 'aurora-pbs-0001.hostmgmt.cm.aurora.alcf.anl.gov';
const QSTAT = ['qstat', '-x', '-f', '-F', 'json'];

function backend(script: Expect[], readExitRecord?: (id: string) => Promise<JobState | null>, history?: 'auto' | 'on' | 'off') {
  const f = fakeRunner(script);
  return { b: new PbsProBackend({ runner: f.run, readExitRecord, user: 'alice', history }), ...f };
}

test('history off: qstat without -x; a finished job is the exit record\'s to answer', async () => {
  const id = `6631289.${A}`;
  const { b, calls } = backend(
    [{ argv: ['qstat', '-f', '-F', 'json', id], reply: { stdout: fx('pbspro/qstat-json/qstat_xf_json_job_F_exit0_aurora_2022.1.7.json') } }],
    async () => ({ id, state: 'failed', raw: 'exit 2', source: 'exit-record', exitCode: 2 }),
    'off',
  );
  const s = (await b.query([id])).get(id)!;
  assert.is(calls.length, 1);
  assert.equal([s.state, s.source, s.exitCode], ['failed', 'exit-record', 2], 'the F record is not used');
});

test('history on: a job the server does not know is an error, not a question for the exit record', async () => {
  const { b } = backend(
    [{ argv: [...QSTAT, '77.pbsserver'], reply: { stdout: '', stderr: 'qstat: Unknown Job Id 77.pbsserver\n', exitCode: 153 } }],
    async () => null,
    'on',
  );
  await rejectsScheduler(b.query(['77.pbsserver']), 'pbs-history-missing');
});


test('query: one qstat for all ids; walltime kill, success, user hold (Aurora 2022.1.7)', async () => {
  const ids = [`6617175.${A}`, `6631289.${A}`, `4905472.${A}`];
  const { b, calls, left } = backend([{ argv: [...QSTAT, ...ids], reply: { stdout: fx('pbspro/qstat-json/qstat_xf_json_aurora_2022.1.7_4jobs.json') } }]);
  const m = await b.query(ids);
  assert.is(calls.length, 1);
  assert.is(left(), 0);
  assert.equal([...m.keys()], ids);
  const t = m.get(ids[0]!)!;
  assert.equal([t.state, t.raw, t.source, t.exitCode, t.reason], ['timeout', 'F', 'history', null, 'Exit_status -29: killed: exceeded its walltime']);
  assert.equal(m.get(ids[1]!), { id: ids[1], state: 'completed', raw: 'F', source: 'history', exitCode: 0, reason: m.get(ids[1]!)!.reason });
  assert.ok(m.get(ids[1]!)!.reason!.endsWith(' and finished'));
  assert.equal([m.get(ids[2]!)!.state, m.get(ids[2]!)!.reason], ['held', 'Job held by mmin on Wed May 21 19:15:37 2025']);
});

test('query: qsub prints a shorter server name than qstat (sequence number match)', async () => {
  const { b } = backend([{ argv: [...QSTAT, '6631289.aurora-pbs-0001'], reply: { stdout: fx('pbspro/qstat-json/qstat_xf_json_job_F_exit0_aurora_2022.1.7.json') } }]);
  const s = (await b.query(['6631289.aurora-pbs-0001'])).get('6631289.aurora-pbs-0001')!;
  assert.equal([s.id, s.state, s.exitCode], ['6631289.aurora-pbs-0001', 'completed', 0]);
});

test('query: partial answer (exit 153) — the unknown id goes to the exit record, else unknown', async () => {
  const known = `6631289.${A}`;
  const stderr = fx('pbspro/errors/qstat_unknown_job_id_artemis.stderr'); // "qstat: Unknown Job Id 596901.pbsserver"
  const asked: string[] = [];
  const { b } = backend(
    [{ argv: [...QSTAT, known, '596901.pbsserver', '77.pbsserver'], reply: { stdout: fx('pbspro/qstat-json/qstat_xf_json_job_F_exit0_aurora_2022.1.7.json'), stderr, exitCode: 153 } }],
    async (id) => {
      asked.push(id);
      return id === '596901.pbsserver' ? { id, state: 'failed', raw: 'exit 3', source: 'exit-record', exitCode: 3 } : null;
    },
  );
  const m = await b.query([known, '596901.pbsserver', '77.pbsserver']);
  assert.equal(asked.sort(), ['596901.pbsserver', '77.pbsserver']);
  assert.is(m.get(known)!.state, 'completed');
  assert.equal(m.get('596901.pbsserver'), { id: '596901.pbsserver', state: 'failed', raw: 'exit 3', source: 'exit-record', exitCode: 3 });
  const u = m.get('77.pbsserver')!;
  assert.equal([u.state, u.source], ['unknown', 'none']);
  assert.is(u.reason, 'the PBS Pro server did not list it');
});

test('query: without an exit record the "Unknown Job Id" line is the reason', async () => {
  const { b } = backend([{ argv: [...QSTAT, '596901.pbsserver'], reply: { stderr: fx('pbspro/errors/qstat_unknown_job_id_artemis.stderr'), exitCode: 153 } }]);
  const s = (await b.query(['596901.pbsserver'])).get('596901.pbsserver')!;
  assert.is(s.state, 'unknown');
  assert.ok(s.reason!.startsWith('Unknown Job Id 596901.pbsserver (the server keeps no record'), s.reason);
});

test('query: deleted while queued → cancelled; system hold; queued; running (Aurora, MetaCentrum)', async () => {
  const ids = [`4846771.${A}`, `4345644.${A}`, `4683812.${A}`];
  const { b } = backend([
    { argv: [...QSTAT, ...ids], reply: { stdout: fx('pbspro/qstat-json/qstat_xf_json_aurora_2022.1.7_8jobs.json') } },
    { argv: [...QSTAT, '12860476.meta-pbs.metacentrum.cz'], reply: { stdout: fx('pbspro/qstat-json/qstat_xf_json_running_pbs19_metacentrum.json') } },
  ]);
  const m = await b.query(ids);
  assert.equal([m.get(ids[0]!)!.state, m.get(ids[0]!)!.reason], ['cancelled', 'deleted before it ran']);
  assert.equal([m.get(ids[1]!)!.state, m.get(ids[1]!)!.reason], ['held', 'job held, too many failed attempts to run']);
  assert.equal([m.get(ids[2]!)!.state, m.get(ids[2]!)!.raw, m.get(ids[2]!)!.source], ['pending', 'Q', 'queue']);
  const r = (await b.query(['12860476.meta-pbs.metacentrum.cz'])).get('12860476.meta-pbs.metacentrum.cz')!;
  assert.equal([r.state, r.raw, r.source], ['running', 'R', 'queue']);
});

test('query: server down (header on stdout, exit 255) is retried, then scheduler-unavailable', async () => {
  const reply = { stdout: fx('pbspro/errors/qstat_json_server_down_openpbs22.05.11.stdout'), stderr: fx('pbspro/errors/qstat_json_server_down_openpbs22.05.11.stderr'), exitCode: 255 };
  const { b, calls } = backend([1, 2, 3, 4].map(() => ({ argv: [...QSTAT, '1.s'], reply })));
  const e = await rejectsScheduler(b.query(['1.s']), 'scheduler-unavailable');
  assert.is(calls.length, 4);
  assert.ok(e.message.includes('cannot connect to server 6cfab3a0b8ac'), e.message);
  // "No route to host" on PBS 2025.2.0, same handling.
  const nr = { stdout: fx('pbspro/errors/qstat_json_no_route_pbspro2025.2.0.stdout'), stderr: fx('pbspro/errors/qstat_json_no_route_pbspro2025.2.0.stderr'), exitCode: 255 };
  const two = backend([1, 2, 3, 4].map(() => ({ argv: [...QSTAT, '1.s'], reply: nr })));
  await rejectsScheduler(two.b.query(['1.s']), 'scheduler-unavailable');
});

test('query: a transient failure that clears on retry gives the answer', async () => {
  const { b, calls } = backend([
    { argv: [...QSTAT, `4905472.${A}`], reply: { stderr: fx('pbspro/errors/qstat_premature_end_of_message_pbspro2026.0.0.stderr'), exitCode: 183 } },
    { argv: [...QSTAT, `4905472.${A}`], reply: { stdout: fx('pbspro/qstat-json/qstat_xf_json_job_H_user_hold_aurora_2022.1.7.json') } },
  ]);
  assert.is((await b.query([`4905472.${A}`])).get(`4905472.${A}`)!.state, 'held');
  assert.is(calls.length, 2);
});

test('query: ids that are not PBS ids are unknown without asking; only bad ids → no command', async () => {
  const { b, calls } = backend([]);
  const m = await b.query(['12_3', 'x y']);
  assert.is(calls.length, 0);
  assert.equal(m.get('12_3'), { id: '12_3', state: 'unknown', raw: '', source: 'none', reason: 'not a PBS Pro job id' });
});

test('query: conflicting options (exit 2) is a scheduler-rejected error with the message', async () => {
  const { b } = backend([{ argv: [...QSTAT, '1.s'], reply: { stderr: fx('pbspro/errors/qstat_conflicting_options_pbspro2022.1.1.stderr'), exitCode: 2 } }]);
  const e = await rejectsScheduler(b.query(['1.s']), 'scheduler-rejected');
  assert.is(e.message, 'qstat failed (exit 2): conflicting options.');
});

test('submit: the id from stdout (Palmetto, Artemis, array), -h for hold, cwd passed', async () => {
  const { b, calls } = backend([
    { argv: ['qsub', '/r/job.sh'], reply: { stdout: fx('pbspro/qsub/qsub_success_palmetto.stdout') } },
    { argv: ['qsub', '-h', '/r/job.sh'], reply: { stdout: fx('pbspro/qsub/qsub_success_artemis.stdout') } },
    { argv: ['qsub', '/r/arr.sh'], reply: { stdout: fx('pbspro/qsub/qsub_array_success_openpbs_pr2237.stdout') } },
  ]);
  assert.is(await b.submit('/r/job.sh', { cwd: '/r' }), '4256957.pbs02');
  assert.is(await b.submit('/r/job.sh', { cwd: '/r', hold: true }), '463292.pbstraining');
  assert.is(await b.submit('/r/arr.sh', { cwd: '/r' }), '10[].Nile-extn');
  assert.is(calls[0]!.opts.cwd, '/r');
});

test('submit: limits and hook rejections are scheduler-rejected with the server\'s words', async () => {
  for (const [file, exit] of [
    ['qsub_violates_limits_alcf.stderr', 188],
    ['qsub_hook_reject_account_alcf.stderr', 1],
    ['qsub_hook_reject_filesystems_alcf.stderr', 1],
    ['qsub_per_user_limit_alcf.stderr', 1],
    ['qsub_rejected_by_all_destinations_alcf.stderr', 1],
  ] as const) {
    const stderr = fx(`pbspro/errors/${file}`);
    const { b, calls } = backend([{ argv: ['qsub', '/r/j.sh'], reply: { stderr, exitCode: exit } }]);
    const e = await rejectsScheduler(b.submit('/r/j.sh', { cwd: '/r' }), 'scheduler-rejected');
    assert.ok(e.message.endsWith(stderr.trim().replace(/^qsub: /, '')), e.message);
    assert.is(calls.length, 1, 'never retried');
  }
});

test('submit: a lost reply or a timeout is scheduler-submit-ambiguous, never retried', async () => {
  const one = backend([{ argv: ['qsub', '/r/j.sh'], reply: { stderr: fx('pbspro/errors/qsub_premature_end_of_message_pbspro.stderr'), exitCode: 183 } }]);
  await rejectsScheduler(one.b.submit('/r/j.sh', { cwd: '/r' }), 'scheduler-submit-ambiguous');
  assert.is(one.calls.length, 1);
  const two = backend([{ argv: ['qsub', '/r/j.sh'], reply: { timeout: true } }]);
  await rejectsScheduler(two.b.submit('/r/j.sh', { cwd: '/r' }), 'scheduler-submit-ambiguous');
  const three = backend([{ argv: ['qsub', '/r/j.sh'], reply: { stdout: 'queued, thanks\n' } }]);
  await rejectsScheduler(three.b.submit('/r/j.sh', { cwd: '/r' }), 'scheduler-submit-ambiguous');
});

test('submit: server down proves nothing was submitted: retried, then scheduler-unavailable', async () => {
  const reply = { stderr: fx('pbspro/errors/qstat_server_down_refused_pbspro2022.1.7.stderr').replace('qstat:', 'qsub:'), exitCode: 255 };
  const { b, calls } = backend([1, 2, 3, 4].map(() => ({ argv: ['qsub', '/r/j.sh'], reply })));
  await rejectsScheduler(b.submit('/r/j.sh', { cwd: '/r' }), 'scheduler-unavailable');
  assert.is(calls.length, 4);
});

test('cancel: qdel prints nothing on success; finished and unknown jobs are not errors', async () => {
  const { b, calls } = backend([
    { argv: ['qdel', '7600424.pbs02'], reply: { stdout: fx('pbspro/other/qdel_success_palmetto.stdout') } },
    { argv: ['qdel', '463292'], reply: { stderr: fx('pbspro/errors/qdel_job_has_finished_artemis.stderr'), exitCode: 35 } },
    { argv: ['qdel', '1.s', '596901.pbsserver'], reply: { stderr: 'qdel: Unknown Job Id 596901.pbsserver\n', exitCode: 153 } },
  ]);
  await b.cancel(['7600424.pbs02']);
  await b.cancel(['463292']);
  await b.cancel(['1.s', '596901.pbsserver', '1.s']);
  await b.cancel([]);
  assert.is(calls.length, 3);
});

test('cancel: MoM unreachable is retried then scheduler-unavailable; bad ids are refused', async () => {
  const reply = { stderr: fx('pbspro/errors/qdel_cannot_connect_to_mom_pbspro2026.0.0.stderr'), exitCode: 222 };
  const { b } = backend([1, 2, 3, 4].map(() => ({ argv: ['qdel', '15382347.aqua'], reply })));
  const e = await rejectsScheduler(b.cancel(['15382347.aqua']), 'scheduler-unavailable');
  assert.ok(e.message.includes('Server could not connect to MOM 15382347.aqua'), e.message);
  await rejectsScheduler(backend([]).b.cancel(['12_3']), 'scheduler-bad-id');
});

test('hold / release: argv, and a refusal names the job', async () => {
  const { b, calls } = backend([
    { argv: ['qhold', '1.s', '2.s'], reply: {} },
    { argv: ['qrls', '1.s'], reply: {} },
    { argv: ['qhold', '9.s'], reply: { stderr: 'qhold: Request invalid for state of job 9.s\n', exitCode: 168 } },
  ]);
  await b.hold(['1.s', '2.s']);
  await b.release(['1.s']);
  const e = await rejectsScheduler(b.hold(['9.s']), 'scheduler-rejected');
  assert.is(e.message, 'qhold failed (exit 168): Request invalid for state of job 9.s');
  assert.equal(
    calls.map((c) => c.argv[0]),
    ['qhold', 'qrls', 'qhold'],
  );
});

test('findByTag: qselect the user\'s jobs, one qstat, match Variable_List QDO_TAG', async () => {
  // Derived input: the OpenPBS 19 held job with QDO_TAG added to its Variable_List.
  const tagged = fx('pbspro/qstat-json/qstat_xf_json_held_user_openpbs19.json').replace('"PBS_O_HOST":"pbs"', '"PBS_O_HOST":"pbs",\n                "QDO_TAG":"qdo:m-1234"');
  assert.ok(tagged.includes('"QDO_TAG":"qdo:m-1234"'));
  const { b, calls } = backend([
    { argv: ['qselect', '-x', '-u', 'alice'], reply: { stdout: '157.pbs\n158.pbs\n' } },
    { argv: [...QSTAT, '157.pbs', '158.pbs'], reply: { stdout: tagged, stderr: 'qstat: Unknown Job Id 158.pbs\n', exitCode: 153 } },
    { argv: ['qselect', '-x', '-u', 'alice'], reply: { stdout: '157.pbs\n' } },
    { argv: [...QSTAT, '157.pbs'], reply: { stdout: tagged } },
    { argv: ['qselect', '-x', '-u', 'alice'], reply: { stdout: '' } },
  ]);
  assert.is(await b.findByTag('m-1234'), '157.pbs');
  assert.is(await b.findByTag('m-9999'), null);
  assert.is(await b.findByTag('m-1234'), null);
  assert.is(calls.length, 5);
});

test('findByTag: a server that is down is an error, never "not found"', async () => {
  const reply = { stdout: fx('pbspro/errors/qstat_json_server_down_openpbs22.05.11.stdout'), stderr: fx('pbspro/errors/qstat_json_server_down_openpbs22.05.11.stderr'), exitCode: 255 };
  const { b } = backend([{ argv: ['qselect', '-x', '-u', 'alice'], reply: { stdout: '1.s\n' } }, ...[1, 2, 3, 4].map(() => ({ argv: [...QSTAT, '1.s'], reply }))]);
  await rejectsScheduler(b.findByTag('m-1'), 'scheduler-unavailable');
});

test('render is the PBS Pro renderer', () => {
  const b = new PbsProBackend({ runner: fakeRunner([]).run });
  const text = b.render({ jobName: 'a', resources: { time: 60 }, script: 'true\n', runDir: '/r', submitDir: '/s', env: {} });
  assert.ok(text.startsWith('#!/bin/bash\n#PBS -N a\n#PBS -S /bin/bash\n#PBS -l walltime=00:01:00\n'));
  assert.is(b.kind, 'pbs');
});

test.run();
