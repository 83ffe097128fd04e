// The status page in a real browser: Debian's headless Chromium driven by playwright-core
// (a devDependency, with executablePath /usr/bin/chromium; it downloads no browser).
// `qdo report --html` opened from the file system: every job, state, sweep progress and
// history is there, every link resolves to a file, nothing errs in the console.
// `qdo serve --control` (the bundle, as a process): the live page shows a running job of
// the local backend, and its cancel button cancels it in the scheduler.
// Screenshots go to $QDO_TEST_ARTIFACTS (default: a temp folder, printed). Without Chromium
// the tests are skipped with a line saying so, unless CI is set (.ci/run installs it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { BUNDLE, qdo, qdoProcess, removeDir, tempDir, testCacheHome, type RunOptions } from '../helpers/cli.js';
import { ok, waitDone } from '../helpers/jobs.js';

const CHROMIUM = process.env.QDO_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const shots = process.env.QDO_TEST_ARTIFACTS ?? join(tmpdir(), 'qdo-test-screenshots');

type Browser = import('playwright-core').Browser;
type Page = import('playwright-core').Page;

let browser: Browser | null = null;
let home = '';
let opts: RunOptions;
const why = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (apt-get install chromium)`;

/** Without Chromium: a skip line, or under CI (which installs it) a failure. */
function skip(): boolean {
  if (!why) return false;
  if (process.env.CI) assert.unreachable(`CI is set but ${why}`);
  console.log(`  status page: ${why}: skipped`);
  return true;
}

test.before(async () => {
  if (why) return;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 });
  home = tempDir('qdo-page-');
  opts = { home, env: { QDO_SCHEDULER: 'local' }, now: 'real' };
  await ok(opts, ['project', 'add', 'paper/run']);
  await ok(opts, ['submit', 'paper/run/train', '--', 'echo', 'epoch 1']);
  await waitDone(opts, 'paper/run/train');
  await ok(opts, ['submit', 'paper/run/train', '--', 'echo', 'epoch 2 <b>not bold</b>']);
  await ok(opts, ['submit', 'paper/run/broken', '--', 'false']);
  await ok(opts, ['submit', 'paper/run/lr{{ lr }}', '--grid', 'lr=0.1,0.01,0.001', '--', 'echo', '{{ lr }}']);
  for (const j of ['paper/run/train', 'paper/run/broken', 'paper/run/lr0.1', 'paper/run/lr0.01', 'paper/run/lr0.001']) await waitDone(opts, j);
  mkdirSync(shots, { recursive: true });
});

test.after(async () => {
  await browser?.close();
  if (home) removeDir(home);
});

/** A page that records console errors and uncaught exceptions. */
async function open(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  return { page, errors };
}

test('qdo report --html: one offline file with the jobs, states, sweep progress, history and log links', async () => {
  if (skip()) return;
  const file = join(home, 'reports', 'status.html');
  mkdirSync(dirname(file), { recursive: true });
  const r = await qdo(['report', '--html', file], opts);
  assert.is(r.code, 0, r.stderr);
  const html = readFileSync(file, 'utf8');
  assert.not.match(html, /(src|href)="(https?:)?\/\//, 'nothing is fetched from elsewhere');
  assert.not.match(html, /<b>not bold<\/b>/, 'what jobs print never becomes markup');
  const { page, errors } = await open(`file://${file}`);
  await page.waitForSelector('table.jobs');
  const rows = await page.$$eval('tr.job', (trs) => trs.map((t) => [t.getAttribute('data-job'), t.getAttribute('data-state')]));
  assert.equal(rows, [
    ['paper/run/broken', 'failed'],
    ['paper/run/lr0.001', 'completed'],
    ['paper/run/lr0.01', 'completed'],
    ['paper/run/lr0.1', 'completed'],
    ['paper/run/train', 'completed'],
  ]);
  assert.match(await page.textContent('table.sweeps') ?? '', /3\/3/);
  assert.is(await page.getAttribute('table.sweeps progress', 'value'), '3');
  // The history of train: two versions, in a <details>.
  await page.click('tr[data-job="paper/run/train"] summary');
  assert.match(await page.textContent('tr[data-job="paper/run/train"] table.hist') ?? '', /@2 \(latest\)[\s\S]*@1/);
  // Every link is relative and names a file or folder that exists.
  const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')!).filter((h) => !h.startsWith('data:')));
  assert.ok(hrefs.length >= 10, `links: ${hrefs.length}`);
  for (const h of hrefs) {
    assert.not.match(h, /^(\/|[a-z]+:)/, `${h} is relative`);
    assert.ok(existsSync(resolve(dirname(file), decodeURIComponent(h))), `${h} exists`);
  }
  // The log of train@2 is what it printed.
  const log = await page.getAttribute('tr[data-job="paper/run/train"] > td a[href$="stdout"]', 'href');
  assert.is(readFileSync(resolve(dirname(file), decodeURIComponent(log!)), 'utf8'), 'epoch 2 <b>not bold</b>\n');
  const shot = join(shots, 'qdo-report.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 10_000, 'a screenshot');
  // The filter hides what does not match.
  await page.fill('#filter', 'lr0.0');
  assert.is(await page.$$eval('tr.job:not([hidden])', (t) => t.length), 2);
  await page.fill('#filter', '');
  await page.selectOption('#state', 'failed');
  assert.is(await page.$$eval('tr.job:not([hidden])', (t) => t.length), 1);
  console.log(`  screenshot: ${shot}`);
  assert.equal(errors, [], 'console errors');
  await page.close();
});

/** Starts `qdo serve` (the bundle) and returns its address and process. */
async function serve(extra: string[]): Promise<{ url: string; child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [BUNDLE, 'serve', ...extra], { env: { PATH: process.env.PATH, QDO_HOME: home, QDO_SCHEDULER: 'local', XDG_CACHE_HOME: testCacheHome() }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (c) => (out += String(c)));
  const url = await new Promise<string>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`qdo serve printed no address: ${out}`)), 30_000);
    child.stdout!.on('data', (c) => {
      out += String(c);
      const m = /(?:qdo serve: |"url":")(http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]+)/.exec(out);
      if (m) {
        clearTimeout(t);
        ok(m[1]!);
      }
    });
    child.on('exit', (code) => fail(new Error(`qdo serve exited ${code}: ${out}`)));
  });
  return { url, child, out: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

test('qdo serve --control: the live page lists a running job, and its cancel button cancels it', async () => {
  if (skip()) return;
  // Submitted by a qdo process on this host, as the server is (in-process runs say "testhost").
  const s = qdoProcess(['submit', 'paper/run/long', '--json', '--', 'sleep', '300'], { home, bundle: true, env: { QDO_SCHEDULER: 'local' } });
  assert.is(s.code, 0, s.stderr);
  const sub = JSON.parse(s.stdout) as { id: string; sched_id: string };
  const { url, child } = await serve(['--control', '--interval', '1']);
  try {
    const { page, errors } = await open(url);
    const row = 'tr[data-job="paper/run/long"]';
    await page.waitForSelector(`${row} button[data-action="cancel"]`, { timeout: 30_000 });
    assert.not.match(page.url(), /token/, 'the token leaves the address bar');
    await page.screenshot({ path: join(shots, 'qdo-serve.png'), fullPage: true });
    await page.click(`${row} button[data-action="cancel"]`);
    await page.locator('#msg', { hasText: 'cancel paper/run/long@1: done' }).waitFor({ timeout: 30_000 }).catch(async (e) => { throw new Error(`${String(e).split('\n')[0]}; the page says: ${await page.textContent('#msg')}`); });
    // The scheduler has it cancelled (the local backend; asked now).
    const end = Date.now() + 30_000;
    let state = '';
    while (Date.now() < end) {
      const q = JSON.parse(await ok(opts, ['sched', 'query', sub.sched_id, '--for', 'local', '--json'])) as { jobs: { state: string }[] };
      state = q.jobs[0]!.state;
      if (state === 'cancelled') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.is(state, 'cancelled');
    // And the page shows it.
    await page.waitForSelector(`${row}[data-state="cancelled"]`, { timeout: 30_000 });
    // A log opens in the panel.
    await page.click('tr[data-job="paper/run/train"] > td a.log[data-stream="stdout"]');
    await page.locator('#panel', { hasText: 'epoch 2' }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'qdo-serve-cancelled.png'), fullPage: true });
    assert.equal(errors, [], 'console errors');
    await page.close();
  } finally {
    await stop(child);
  }
});

test('qdo serve without --control: the page has no buttons and the API refuses to cancel', async () => {
  if (skip()) return;
  const { url, child, out } = await serve(['--json']);
  try {
    // --json: the address as one JSON line.
    const first = JSON.parse(out().split('\n')[0]!) as { version: number; url: string; control: boolean };
    assert.is(first.version, 1);
    assert.is(first.url, url);
    assert.is(first.control, false);
    const { page, errors } = await open(url);
    await page.waitForSelector('tr.job');
    assert.is(await page.$$eval('button[data-action]', (b) => b.length), 0);
    const token = /token=([0-9a-f]+)/.exec(url)![1]!;
    const base = url.replace(/#.*/, '');
    const r = await fetch(`${base}api/cancel`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ revs: ['paper/run/train'] }) });
    assert.is(r.status, 403);
    assert.is(((await r.json()) as { error: { code: string } }).error.code, 'read-only');
    assert.equal(errors, []);
    await page.close();
  } finally {
    await stop(child);
  }
});

test.run();
