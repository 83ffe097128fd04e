// The HTTP API of qdo serve (src/cli/porcelain/serve.ts), served in-process on 127.0.0.1:
// the token, the host check, read commands as their --json, what is never served, and the
// control actions only with --control.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, request, type Server } from 'node:http';
import { handler, queryArgv, type ServeState } from '../../src/cli/porcelain/serve.js';
import { qdo, removeDir, tempDir, testContext } from '../helpers/cli.js';
import { ok, waitDone } from '../helpers/jobs.js';

let home = '';
let server: Server;
let st: ServeState;
const TOKEN = 'ab'.repeat(24);

test.before(async () => {
  home = tempDir('qdo-serve-');
  const opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' as const };
  await ok(opts, ['project', 'add', 'p']);
  await ok(opts, ['submit', 'p/j', '--', 'echo', 'hi']);
  await waitDone(opts, 'p/j');
  st = { ctx: testContext(opts), token: TOKEN, control: false, port: 0, intervalS: 5 };
  server = createServer((req, res) => void handler(st)(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  st.port = (server.address() as { port: number }).port;
});
test.after(async () => {
  await new Promise((r) => server.close(r));
  removeDir(home);
});

function call(method: string, path: string, o: { token?: string | null; host?: string; body?: string } = {}): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: o.host ?? `127.0.0.1:${st.port}` };
    if (o.token !== null) headers.Authorization = `Bearer ${o.token ?? TOKEN}`;
    const req = request({ host: '127.0.0.1', port: st.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += String(c)));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), text }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

test('query strings become command lines; writing, blocking and stdin options are refused', () => {
  assert.equal(queryArgv('status', new URLSearchParams('arg=p/*&all-versions=1')), ['status', 'p/*', '--all-versions']);
  assert.equal(queryArgv('log', new URLSearchParams('arg=p/j&n=2')), ['log', 'p/j', '-n', '2']);
  assert.equal(queryArgv('resource', new URLSearchParams('arg=list')), ['resource', 'list']);
  assert.type(queryArgv('resource', new URLSearchParams('arg=add&arg=p&arg=/etc/passwd')), 'string');
  assert.type(queryArgv('fsck', new URLSearchParams('repair=1')), 'string');
  assert.type(queryArgv('logs', new URLSearchParams('arg=p/j&follow=1')), 'string');
  assert.type(queryArgv('logs', new URLSearchParams('arg=p/j&f=')), 'string');
});

test('the page shell needs no token and carries no data; everything under /api/ does', async () => {
  const page = await call('GET', '/', { token: null });
  assert.is(page.status, 200);
  assert.match(page.type, /text\/html/);
  assert.not.match(page.text, /p\/j/);
  const noToken = await call('GET', '/api/status', { token: null });
  assert.is(noToken.status, 401);
  assert.is(JSON.parse(noToken.text).error.code, 'token');
  assert.is((await call('GET', '/api/status', { token: 'cd'.repeat(24) })).status, 401);
});

test('a request naming another host is refused (DNS rebinding)', async () => {
  const r = await call('GET', '/api/status', { host: 'evil.example:80' });
  assert.is(r.status, 421);
});

test('read commands answer with their --json; errors with the error object and an HTTP status', async () => {
  const s = await call('GET', '/api/status');
  assert.is(s.status, 200);
  assert.equal(JSON.parse(s.text).jobs.map((j: { job: string }) => j.job), ['p/j']);
  const direct = await qdo(['show', 'p/j', '--json'], { home, env: { QDO_SCHEDULER: 'local' } });
  const show = await call('GET', '/api/show?arg=p/j');
  assert.equal(JSON.parse(show.text).id, JSON.parse(direct.stdout).id);
  const logs = await call('GET', '/api/logs?arg=p/j');
  assert.is(JSON.parse(logs.text).tasks[0].content, 'hi\n');
  const missing = await call('GET', '/api/show?arg=p/nosuch');
  assert.is(missing.status, 404);
  assert.is(JSON.parse(missing.text).error.code, 'unknown-job');
  assert.is((await call('GET', '/api/fsck?repair=1')).status, 400);
  assert.is((await call('GET', '/api/nosuch')).status, 404);
  const view = await call('GET', '/api/view');
  assert.match(view.text, /<tr class="job" data-job="p\/j" data-state="completed">/);
});

test('control: refused while read-only, served with --control, POST only, revs checked', async () => {
  const body = JSON.stringify({ revs: ['p/j'] });
  const ro = await call('POST', '/api/cancel', { body });
  assert.is(ro.status, 403);
  assert.is(JSON.parse(ro.text).error.code, 'read-only');
  st.control = true;
  try {
    assert.is((await call('GET', '/api/cancel')).status, 405);
    assert.is((await call('POST', '/api/cancel', { body: '{"revs": ["--all"]}' })).status, 400);
    assert.is((await call('POST', '/api/cancel', { body: 'nonsense' })).status, 400);
    assert.is((await call('POST', '/api/cancel', { body, token: null })).status, 401);
    const r = await call('POST', '/api/cancel', { body });
    assert.is(r.status, 200);
    assert.is(JSON.parse(r.text).jobs[0].outcome, 'skipped'); // it had ended
  } finally {
    st.control = false;
  }
});

test.run();
