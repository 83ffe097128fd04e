// What an end record decides alone (spec/submissions.md §Refresh, step 2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stateFromEndRecord } from '../../src/core/refresh.js';

test('a clean exit decides: 0 completed, other statuses up to 128 failed', () => {
  assert.equal(stateFromEndRecord({ exit_code: 0, signal: null, attempt: 1 }), { state: 'completed', exitCode: 0 });
  assert.equal(stateFromEndRecord({ exit_code: 3, signal: null, attempt: 1 }), { state: 'failed', exitCode: 3 });
  assert.equal(stateFromEndRecord({ exit_code: 128, signal: null, attempt: 1 }), { state: 'failed', exitCode: 128 });
});

test('a trapped signal, a provisional record or a death by an untrapped signal is the scheduler\'s to decide', () => {
  assert.is(stateFromEndRecord({ exit_code: 143, signal: 'TERM', attempt: 1 }), null);
  assert.is(stateFromEndRecord({ exit_code: 0, signal: 'TERM', attempt: 1 }), null);
  assert.is(stateFromEndRecord({ exit_code: null, signal: 'TERM', attempt: 1 }), null);
  // scancel signals the script directly: bash reports 128+15 and the wrapper saw nothing.
  assert.is(stateFromEndRecord({ exit_code: 143, signal: null, attempt: 1 }), null);
  assert.is(stateFromEndRecord({ exit_code: 137, signal: null, attempt: 1 }), null);
});

test.run();
