// The overview cache (spec/submissions.md §Overview cache): status's overview over an
// allocation whose refs and record folders are as they were comes from one small file;
// anything that changes a project's refs or any record folder makes it stale, and status then
// reads the refs and records as before. fsck holds it against the refs and records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { buildStore } from '../../bench/scale.js';
import { layoutOf } from '../../src/store/layout.js';
import { overviewPath } from '../../src/store/overview-cache.js';
import { readRefs } from '../../src/store/refs.js';
import { qdo, removeDir, tempDir, type RunOptions } from '../helpers/cli.js';
import { jobColumn as names, ok, readRecord, replaceRecord as replace } from '../helpers/jobs.js';


interface Entry {
  project: string;
  hidden: Record<string, number>;
  shown: [string, string][];
  before: string;
}

function overview(home: string): { folders: unknown[]; projects: Entry[] } | null {
  try {
    return JSON.parse(readFileSync(overviewPath(layoutOf(home)), 'utf8')) as { folders: unknown[]; projects: Entry[] };
  } catch {
    return null;
  }
}

/**
 * Runs status until the overview cache is written (the record folders and refs files must
 * have been unchanged 2 s first); each run must show what `check` expects.
 */
async function untilWritten(opts: RunOptions, home: string, check: (stdout: string, stderr: string) => void, isNew: (o: ReturnType<typeof overview>) => boolean = (o) => o !== null): Promise<void> {
  for (let i = 0; !isNew(overview(home)); i++) {
    if (i > 100) throw new Error('the overview cache was never written');
    const r = await qdo(['status'], opts);
    assert.is(r.code, 0, r.stderr);
    check(r.stdout, r.stderr);
    await new Promise((res) => setTimeout(res, 100));
  }
}

test('the overview comes from the cache while refs and record folders are unchanged, and from the records once they change', async () => {
  const home = tempDir('qdo-overview-');
  // Real time: the fixture's jobs ended on 2026-01-01; one is made recent.
  const opts: RunOptions & { home: string } = { home, now: 'real', env: { QDO_SCHEDULER: 'local' } };
  try {
    await buildStore(home, [
      { project: 'p', jobs: 600, versions: 1 },
      { project: 'q', jobs: 3, versions: 1 },
    ]);
    const l = layoutOf(home);
    const refs = await readRefs(l, 'p');
    const recent = readRecord(home, refs.get('job000007')!);
    replace(home, { ...recent, state: 'failed', exit_code: 2, state_time: new Date(Date.now() - 3_600_000).toISOString() });
    const expect = (shown: string[], left: number, states: string) => (stdout: string, stderr: string) => {
      assert.equal(names(stdout), shown);
      assert.match(stderr, new RegExp(`^${left} jobs that ended before \\S+ \\S+ UTC not shown \\(${states.replace(/[()]/g, '\\$&')}\\), older than 7 days`));
    };
    const now602 = expect(['p/job000007'], 602, '602 completed');
    await untilWritten(opts, home, now602);
    const o = overview(home)!;
    assert.equal(
      o.projects.map((e) => [e.project, e.hidden, e.shown]),
      [
        ['p', { completed: 599 }, [['job000007', refs.get('job000007')!]]],
        ['q', { completed: 3 }, []],
      ],
    );
    assert.ok(o.folders.length > 0 && o.folders.length <= 256);
    let r = await qdo(['status'], opts);
    now602(r.stdout, r.stderr);
    assert.equal(JSON.parse(await ok(opts, ['fsck', '--json'])).findings, [], 'fsck: the cache agrees with the records');

    // It is what status reads: a count changed by hand (its identities kept) shows, and fsck
    // finds it; --refresh reads the records; fsck --repair drops it.
    const path = overviewPath(l);
    const good = readFileSync(path, 'utf8');
    writeFileSync(path, good.replace('"completed":599', '"completed":5'));
    r = await qdo(['status'], opts);
    expect(['p/job000007'], 8, '8 completed')(r.stdout, r.stderr);
    r = await qdo(['status', '--refresh'], opts);
    now602(r.stdout, r.stderr);
    const f = await qdo(['fsck', '--json'], opts);
    const found = (JSON.parse(f.stdout) as { findings: { code: string; subject: string; detail: string }[] }).findings;
    assert.equal(found.map((i) => [i.code, i.subject]), [['bad-cache', path]], f.stdout);
    assert.match(found[0]!.detail, /project p: it leaves out 5 completed, the records say 599 completed/);
    await ok(opts, ['fsck', '--repair']);
    assert.not.ok(existsSync(path), 'dropped by --repair');
    await untilWritten(opts, home, now602);

    // A record replaced behind qdo (rsync, git) changes its folder: read again, shown.
    replace(home, { ...readRecord(home, refs.get('job000011')!), state_time: new Date(Date.now() - 60_000).toISOString() });
    r = await qdo(['status'], opts);
    expect(['p/job000007', 'p/job000011'], 601, '601 completed')(r.stdout, r.stderr);
    await untilWritten(opts, home, expect(['p/job000007', 'p/job000011'], 601, '601 completed'), (x) => x?.projects[0]?.shown.length === 2);

    // A ref deleted (the journal changes, no record folder does): that project is read again.
    await ok(opts, ['update-ref', '-d', 'q/job000001']);
    r = await qdo(['status'], opts);
    expect(['p/job000007', 'p/job000011'], 600, '600 completed')(r.stdout, r.stderr);
    // A new job: shown.
    await ok(opts, ['submit', 'q/new', '--hold', '--', 'true']);
    r = await qdo(['status'], opts);
    assert.equal(names(r.stdout), ['p/job000007', 'p/job000011', 'q/new']);
    assert.match(r.stderr, /^600 jobs that ended before/);

    // An earlier line than the cache's: every job it left out is listed.
    r = await qdo(['status', '--since', '400d'], opts);
    assert.is(names(r.stdout).length, 603);
    assert.is(r.stderr, '');

    // A hostile file (a name that is no job name, as another user of a shared allocation
    // could write): ignored whole.
    await untilWritten(opts, home, (out) => assert.equal(names(out), ['p/job000007', 'p/job000011', 'q/new']), (x) => x?.projects.find((e) => e.project === 'q')?.shown.length === 1);
    const doc = overview(home)!;
    doc.projects.find((e) => e.project === 'q')!.shown.push(['../../../etc', 'a'.repeat(64)]);
    writeFileSync(path, JSON.stringify(doc));
    const fk = await qdo(['fsck', '--json'], opts);
    assert.match(JSON.parse(fk.stdout).findings.map((f: { code: string; detail: string }) => `${f.code}: ${f.detail}`).join(' / '), /bad-cache: not of the expected shape/, fk.stdout);
    r = await qdo(['status'], opts);
    assert.equal(names(r.stdout), ['p/job000007', 'p/job000011', 'q/new']);

    // A damaged file is ignored, then written again.
    writeFileSync(path, '{"version":1,"folders":[["zz"');
    r = await qdo(['status'], opts);
    assert.equal(names(r.stdout), ['p/job000007', 'p/job000011', 'q/new']);
    await untilWritten(opts, home, (out) => assert.equal(names(out), ['p/job000007', 'p/job000011', 'q/new']));
    assert.equal(overview(home)!.projects.find((e) => e.project === 'q')!.shown.map((s) => s[0]), ['new']);
  } finally {
    removeDir(home);
  }
});

test('an allocation with few jobs left out gets no overview cache', async () => {
  const home = tempDir('qdo-overview-');
  const opts: RunOptions & { home: string } = { home, now: 'real', env: { QDO_SCHEDULER: 'local' } };
  try {
    await buildStore(home, [{ project: 'p', jobs: 40, versions: 1 }]);
    await new Promise((res) => setTimeout(res, 2100));
    for (let i = 0; i < 2; i++) assert.match((await qdo(['status'], opts)).stderr, /^40 jobs that ended before/);
    assert.not.ok(existsSync(overviewPath(layoutOf(home))));
  } finally {
    removeDir(home);
  }
});

test.run();
