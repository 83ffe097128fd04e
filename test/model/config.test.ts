// .qdo/config.json (spec/config.md): the keys of issue 14 (sources, lost_after,
// rerun_window, command_timeout); every problem names the file and the key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/model/config.js';
import { RepositoryError } from '../../src/errors.js';

const fails = (v: unknown, re: RegExp) => {
  try {
    parseConfig(JSON.stringify(v), '/a/.qdo/config.json');
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, RepositoryError);
    assert.is((e as RepositoryError).code, 'bad-config');
    assert.match((e as Error).message, re);
  }
};

test('slurm.accounting, slurm.jobcomp, pbs.history take auto, on, off', () => {
  const c = parseConfig(JSON.stringify({ slurm: { accounting: 'off', jobcomp: 'on' }, pbs: { history: 'auto' }, lost_after: 900, rerun_window: 0, command_timeout: 10 }), 'f');
  assert.equal([c.slurm, c.pbs, c.lost_after, c.rerun_window, c.command_timeout], [{ accounting: 'off', jobcomp: 'on' }, { history: 'auto' }, 900, 0, 10]);
});

test('bad values name the key', () => {
  fails({ slurm: { accounting: 'yes' } }, /config\.json: "slurm\.accounting": expected one of auto, on, off, found "yes"/);
  fails({ slurm: { sacct: 'on' } }, /"slurm\.sacct": expected one of the known keys \(accounting, jobcomp\)/);
  fails({ pbs: 'off' }, /"pbs": expected an object with history/);
  fails({ lost_after: 0 }, /"lost_after": expected an integer >= 1, found 0/);
  fails({ rerun_window: -1 }, /"rerun_window": expected an integer >= 0, found -1/);
  fails({ command_timeout: 1.5 }, /"command_timeout": expected an integer >= 1/);
});

test.run();
