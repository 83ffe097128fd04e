import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tempDir, removeDir } from '../helpers/cli.js';
import { rejects } from '../helpers/assert.js';
import { createAllocation, type Layout } from '../../src/store/layout.js';
import { COMPACT_MIN, encodePacked, lookupPacked, FAST_PARSE_MIN, packRefs, parsePacked, parsePackedChecked, readRef, readRefs, refsPaths, updateRef } from '../../src/store/refs.js';
import { ConflictError, RepositoryError } from '../../src/errors.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
let dir = '';
let l: Layout;
test.before.each(async () => {
  dir = tempDir();
  l = (await createAllocation(dir)).layout;
});
test.after.each(() => removeDir(dir));

test('an update appends one journal line; reads replay it', async () => {
  assert.is(await updateRef(l, { project: 'paper/run', name: 'train', next: A, expect: null }), null);
  const { packed, journal } = refsPaths(l, 'paper/run');
  assert.ok(journal.endsWith('/refs/paper+run.journal'));
  assert.is(readFileSync(journal, 'utf8'), `train ${A} -\n`);
  assert.not.ok(existsSync(packed));
  await updateRef(l, { project: 'paper/run', name: 'train', next: B, expect: A });
  assert.is(readFileSync(journal, 'utf8'), `train ${A} -\ntrain ${B} ${A}\n`);
  assert.equal([...(await readRefs(l, 'paper/run'))], [['train', B]]);
});

test('compare-and-swap: a moved ref is a conflict and nothing changes', async () => {
  await updateRef(l, { project: 'p', name: 'j', next: A });
  const before = readFileSync(refsPaths(l, 'p').journal, 'utf8');
  await rejects(() => updateRef(l, { project: 'p', name: 'j', next: C, expect: B }), (e) => e instanceof ConflictError && e.code === 'ref-moved');
  await rejects(() => updateRef(l, { project: 'p', name: 'j', next: C, expect: null }), (e) => e instanceof ConflictError);
  assert.is(readFileSync(refsPaths(l, 'p').journal, 'utf8'), before);
});

test('delete', async () => {
  await updateRef(l, { project: 'p', name: 'j', next: A });
  await updateRef(l, { project: 'p', name: 'j', next: null, expect: A });
  assert.is((await readRefs(l, 'p')).size, 0);
});

test('the journal folds into a sorted packed file past the threshold', async () => {
  for (let i = 0; i < COMPACT_MIN; i++) await updateRef(l, { project: 'p', name: `job${String(i).padStart(4, '0')}`, next: A });
  const { packed, journal } = refsPaths(l, 'p');
  assert.not.ok(existsSync(journal), 'journal dropped after fold');
  const text = readFileSync(packed, 'utf8');
  assert.is(text.split('\n').length - 1, COMPACT_MIN);
  assert.ok(text.startsWith(`job0000 ${A}\njob0001 ${A}\n`));
  await updateRef(l, { project: 'p', name: 'job0000', next: B });
  const refs = await readRefs(l, 'p');
  assert.is(refs.get('job0000'), B);
  assert.is(refs.size, COMPACT_MIN);
});

test('pack keeps the same refs', async () => {
  await updateRef(l, { project: 'p', name: 'z', next: A });
  await updateRef(l, { project: 'p', name: 'y', next: B });
  await packRefs(l, 'p');
  assert.is(readFileSync(refsPaths(l, 'p').packed, 'utf8'), `y ${B}\nz ${A}\n`);
});

test('a torn final journal line is ignored by readers and cut by the next writer', async () => {
  await updateRef(l, { project: 'p', name: 'j', next: A });
  const { journal } = refsPaths(l, 'p');
  appendFileSync(journal, `j ${B.slice(0, 30)}`);
  assert.is((await readRefs(l, 'p')).get('j'), A);
  await updateRef(l, { project: 'p', name: 'k', next: C });
  assert.is(readFileSync(journal, 'utf8'), `j ${A} -\nk ${C} -\n`);
});

test('a bad line names file and line; conflict markers get the repair hint', async () => {
  const { packed, journal } = refsPaths(l, 'p');
  writeFileSync(packed, `a ${A}\nb nothex\n`);
  await rejects(() => readRefs(l, 'p'), (e) => e instanceof RepositoryError && e.message.startsWith(`${packed}:2:`));
  writeFileSync(packed, `b ${A}\na ${A}\n`);
  await rejects(() => readRefs(l, 'p'), /ascending byte order/);
  writeFileSync(packed, '');
  writeFileSync(journal, `<<<<<<< HEAD\n`);
  const e = await rejects(() => readRefs(l, 'p'), /paper|journal:1/);
  assert.match((e as RepositoryError).hint ?? '', /fsck --repair/);
});

test('journal entries are compare-and-swap records: a stray one is ignored by readers', async () => {
  const { journal } = refsPaths(l, 'p');
  // "j" goes to A; then an entry claiming j was at B (it was not) must not apply.
  writeFileSync(journal, `j ${A} -\nj ${C} ${B}\nk ${B} -\n`);
  const refs = await readRefs(l, 'p');
  assert.is(refs.get('j'), A);
  assert.is(refs.get('k'), B);
  // The next update records the true old value and applies.
  await updateRef(l, { project: 'p', name: 'j', next: C, expect: A });
  assert.is((await readRefs(l, 'p')).get('j'), C);
});

test('replaying a journal over a packed file that already contains it changes nothing', async () => {
  const { packed, journal } = refsPaths(l, 'p');
  // j: A -> B -> A -> C, folded into packed, journal left behind (a crash mid-fold).
  writeFileSync(journal, `j ${A} -\nj ${B} ${A}\nj ${A} ${B}\nj ${C} ${A}\n`);
  assert.is((await readRefs(l, 'p')).get('j'), C);
  writeFileSync(packed, `j ${C}\n`);
  assert.is((await readRefs(l, 'p')).get('j'), C);
  writeFileSync(packed, `j ${A}\n`);
  writeFileSync(journal, `j ${B} ${A}\nj ${A} ${B}\n`);
  assert.is((await readRefs(l, 'p')).get('j'), A);
});

test('readRef: one name as readRefs gives it (packed, journal, stray and deleting entries, comments)', async () => {
  const { packed, journal } = refsPaths(l, 'p');
  const cases: [string, string | null][] = [
    [`j ${A}\nk ${B}\n`, null],
    [`j ${A}\nk ${B}\n`, `j ${A} -\nj ${C} ${B}\nk ${B} -\nm ${C} ${A}\n`],
    [`# kept by hand\nj ${A}\nk ${B}\n`, `k - ${B}\n`],
    ['', `j ${A} -\nj ${B} ${A}\n`],
  ];
  for (const [p, j] of cases) {
    writeFileSync(packed, p);
    if (j === null) rmSync(journal, { force: true });
    else writeFileSync(journal, j);
    const all = await readRefs(l, 'p');
    for (const name of ['j', 'k', 'm', 'nope']) assert.is(await readRef(l, 'p', name), all.get(name) ?? null, `${name} in ${JSON.stringify([p, j])}`);
  }
  rmSync(packed);
  rmSync(journal, { force: true });
  assert.is(await readRef(l, 'p', 'j'), null, 'no refs at all');
});

test('readRef on a large packed file (read a page at a time): every name, absent ones, comments, an update', async () => {
  const { packed, journal } = refsPaths(l, 'p');
  // ~12,000 lines of 69-90 bytes: 15 pages of 64 KiB, lines across page boundaries.
  const names = Array.from({ length: 12_000 }, (_, i) => `job${String(i * 3).padStart(6, '0')}${'x'.repeat(i % 22)}`);
  const map = new Map(names.map((n, i) => [n, [A, B, C][i % 3]!]));
  const text = encodePacked(map);
  assert.ok(text.length > 4 * 65536);
  const lines = text.split('\n');
  for (const withComment of [false, true]) {
    writeFileSync(packed, withComment ? [...lines.slice(0, 7000), '# moved by hand', ...lines.slice(7000)].join('\n') : text);
    rmSync(journal, { force: true });
    for (let i = 0; i < names.length; i += 7) assert.is(await readRef(l, 'p', names[i]!), map.get(names[i]!), names[i]);
    for (const n of ['a', 'job000001', 'job035997', 'job036000', 'zzz']) assert.is(await readRef(l, 'p', n), null, n);
  }
  // An update goes through the same search, under the lock.
  await updateRef(l, { project: 'p', name: names[5000]!, next: A, expect: map.get(names[5000]!)! });
  assert.is(await readRef(l, 'p', names[5000]!), A);
  assert.is((await readRefs(l, 'p')).get(names[5000]!), A);
});

test('lookupPacked: binary search agrees with a full parse', () => {
  const names = Array.from({ length: 500 }, (_, i) => `n${String(i * 7).padStart(5, '0')}`);
  const map = new Map(names.map((n, i) => [n, (i % 2 ? A : B)]));
  const buf = Buffer.from(encodePacked(map));
  for (const n of names) assert.is(lookupPacked(buf, n), map.get(n), n);
  for (const n of ['a', 'n00001', 'n99999', 'zzz', 'n0000']) assert.is(lookupPacked(buf, n), null, n);
  assert.is(lookupPacked(Buffer.from(''), 'x'), null);
  // Comment lines (hand edits): a probe that lands on one sends the caller to the full
  // parse; otherwise the answer is the full parse's.
  assert.is(lookupPacked(Buffer.from(`# c\nx ${A}\n`), 'x'), A, 'a comment passed over');
  assert.is(lookupPacked(Buffer.from(`a ${B}\n# c\nx ${A}\n`), 'x'), undefined, 'a comment probed: parse instead');
  const lines = encodePacked(map).split('\n');
  for (const at of [0, 1, 17, 250, 499, 500]) {
    const withComment = Buffer.from([...lines.slice(0, at), '# a note', ...lines.slice(at)].join('\n'));
    const full = parsePacked(withComment.toString(), 'p.refs');
    for (const n of [...names, 'a', 'n00001', 'zzz']) {
      const got = lookupPacked(withComment, n);
      if (got !== undefined) assert.is(got, full.get(n) ?? null, `${n} with a comment at line ${at}`);
    }
  }
  assert.is(lookupPacked(Buffer.from(`x ${A}`), 'x'), A, 'no final LF');
});

test('updates against a large packed file use and keep the right values', async () => {
  const { packed } = refsPaths(l, 'p');
  const lines = Array.from({ length: 3000 }, (_, i) => `j${String(i).padStart(5, '0')} ${i % 3 ? A : B}`);
  writeFileSync(packed, lines.join('\n') + '\n');
  await rejects(() => updateRef(l, { project: 'p', name: 'j00001', next: C, expect: B }), (e) => e instanceof ConflictError);
  assert.is(await updateRef(l, { project: 'p', name: 'j00001', next: C, expect: A }), A);
  assert.is(await updateRef(l, { project: 'p', name: 'j00003', next: C, expect: B }), B);
  assert.is(await updateRef(l, { project: 'p', name: 'new', next: C, expect: null }), null);
  const refs = await readRefs(l, 'p');
  assert.equal([refs.get('j00001'), refs.get('j00003'), refs.get('new'), refs.get('j00004'), refs.size], [C, C, C, A, 3001]);
});

test('parsePacked allows comments', () => {
  assert.is(parsePacked(`# note\nx ${A}\n`, 'f').get('x'), A);
});

test('parsePacked: the fast path and the checked parser give one answer, good file or bad', () => {
  const outcome = (f: () => Map<string, string>): string => {
    try {
      return JSON.stringify([...f()]);
    } catch (e) {
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    }
  };
  const cases = [
    '',
    `a ${A}\nb ${B}\n`,
    `a ${A}\nb ${B}`, // no final LF
    `b ${A}\na ${B}\n`, // not sorted
    `a ${A}\na ${B}\n`, // twice
    `a ${A.toUpperCase()}\n`,
    `a ${A.slice(1)}\n`,
    `a  ${A}\n`,
    `. ${A}\n`,
    `.. ${A}\n`,
    `-a ${A}\n`,
    `a/b ${A}\n`,
    ` ${A}\n`,
    `${A}\n`,
    `a ${A}\n\n`,
    `a ${A}\r\n`,
    `# c\na ${A}\n`,
    `<<<<<<< HEAD\na ${A}\n`,
    `${'n'.repeat(200)} ${A}\n`,
    `${'n'.repeat(201)} ${A}\n`,
    `é ${A}\n`,
  ];
  // Small files go to the checked parser; from FAST_PARSE_MIN bytes the fast one is tried first.
  const pad = Array.from({ length: Math.ceil(FAST_PARSE_MIN / 70) }, (_, i) => `0${String(i).padStart(6, '0')} ${A}\n`).join('');
  for (const c of cases) {
    assert.is(outcome(() => parsePacked(c, 'f')), outcome(() => parsePackedChecked(c, 'f')), JSON.stringify(c));
    assert.is(outcome(() => parsePacked(pad + c, 'f')), outcome(() => parsePackedChecked(pad + c, 'f')), 'large: ' + JSON.stringify(c));
  }
  assert.is(parsePacked(pad + `a ${A}\n`, 'f').size, pad.length / 73 + 1);
  assert.equal([...parsePacked(`a ${A}\nb ${B}\n`, 'f')], [['a', A], ['b', B]]);
  assert.throws(() => parsePacked(`b ${A}\na ${B}\n`, 'f'), (e: unknown) => e instanceof RepositoryError && /f:2: expected names in ascending byte order/.test(e.message));
});

test.run();
