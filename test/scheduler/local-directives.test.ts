import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { expandArray, parseDirectives, renderDirectives } from '../../src/scheduler/local/directives.js';
import type { RenderSpec } from '../../src/scheduler/types.js';

const base: RenderSpec = { jobName: 'fit', resources: {}, script: 'true', runDir: '/r', submitDir: '/s', env: {} };

test('expandArray', () => {
  assert.equal(expandArray('1-5'), { indices: [1, 2, 3, 4, 5], maxRunning: 0 });
  assert.equal(expandArray('0-10:5'), { indices: [0, 5, 10], maxRunning: 0 });
  assert.equal(expandArray('3,1,2-3%2'), { indices: [1, 2, 3], maxRunning: 2 });
  assert.equal(expandArray('7'), { indices: [7], maxRunning: 0 });
  for (const bad of ['', '5-1', '1-3:0', 'a', '1-', '1%', '1-20000']) {
    assert.throws(() => expandArray(bad), (e: unknown) => e instanceof UsageError, bad);
  }
});

test('renderDirectives: everything meaningful locally, the rest listed as not enforced', () => {
  const lines = renderDirectives({
    ...base,
    resources: { cpus: 2, tasks: 3, time: 90, array: '1-4%2', mem: 4096, gpus: 1, partition: 'gpu', account: 'p1', job_name: 'sched-name' },
    dependencies: [
      { type: 'afterok', ids: ['3', '4'] },
      { type: 'afterany', ids: ['5'] },
    ],
    tag: 'abc123',
  });
  assert.equal(lines, [
    '#QDO_LOCAL name=sched-name',
    '#QDO_LOCAL slots=6',
    '#QDO_LOCAL time=90',
    '#QDO_LOCAL array=1-4%2',
    '#QDO_LOCAL depend=afterok:3:4,afterany:5',
    '#QDO_LOCAL tag=abc123',
    '# Not enforced by the local backend (spec/local-backend.md §Resources): mem=4G, gpus=1, partition=gpu, account=p1',
  ]);
});

test('renderDirectives: minimal job', () => {
  assert.equal(renderDirectives(base), ['#QDO_LOCAL name=fit', '#QDO_LOCAL slots=1']);
});

test('renderDirectives rejects more than one node and foreign dependency ids', () => {
  assert.throws(() => renderDirectives({ ...base, resources: { nodes: 2 } }), /the local backend runs jobs on this one machine, found nodes=2/);
  assert.not.throws(() => renderDirectives({ ...base, resources: { nodes: 1 } }));
  assert.throws(() => renderDirectives({ ...base, dependencies: [{ type: 'afterok', ids: ['123.pbs01'] }] }), /not a local job id/);
});

test('parseDirectives reads back what renderDirectives wrote', () => {
  const script = ['#!/bin/bash', '# comment', ...renderDirectives({ ...base, resources: { cpus: 4, time: 60, array: '0-9' }, tag: 't1', dependencies: [{ type: 'after', ids: ['2'] }] }), '', 'echo hi', '#QDO_LOCAL slots=99'].join('\n');
  assert.equal(parseDirectives(script), { name: 'fit', slots: 4, time: 60, array: '0-9', depend: 'after:2', tag: 't1' });
});

test('parseDirectives: defaults and errors', () => {
  assert.equal(parseDirectives('#!/bin/sh\necho\n'), { name: '', slots: 1, time: 0 });
  assert.throws(() => parseDirectives('#QDO_LOCAL slots=0\n', 'x.sh'), /x.sh: #QDO_LOCAL slots: expected an integer >= 1, found "0"/);
  assert.throws(() => parseDirectives('#QDO_LOCAL time=1h\n'), /time: expected seconds/);
  assert.throws(() => parseDirectives('#QDO_LOCAL mem=4G\n'), /unknown directive #QDO_LOCAL mem/);
  assert.throws(() => parseDirectives('#QDO_LOCAL depend=afterok\n'), /expected e.g. afterok:12:13/);
});

test.run();
