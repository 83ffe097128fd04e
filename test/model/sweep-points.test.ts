// Parameter points of sweeps (spec/sweeps.md §Points): value lists, grids, zips, explicit
// points, and names given twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_POINTS, nameCollisions, parseParamList, splitValues, sweepPoints } from '../../src/model/sweep-points.js';

const throwsCode = (fn: () => unknown, code: string, re: RegExp) => {
  try {
    fn();
  } catch (e) {
    assert.is((e as { code?: string }).code, code, (e as Error).message);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('expected an error');
};

test('splitValues: commas split; \\, is a comma, \\\\ a backslash, other backslashes stay', () => {
  assert.equal(splitValues('0.1,0.01'), ['0.1', '0.01']);
  assert.equal(splitValues('a\\,b,c'), ['a,b', 'c']);
  assert.equal(splitValues('x\\\\,y'), ['x\\', 'y']);
  assert.equal(splitValues('C:\\dir\\n,z'), ['C:\\dir\\n', 'z']);
  assert.equal(splitValues('a,,b'), ['a', '', 'b']);
  assert.equal(splitValues('one'), ['one']);
});

test('parseParamList: KEY=V1,V2 and its errors name the flag', () => {
  assert.equal(parseParamList('lr=0.1,0.01', 'grid'), { key: 'lr', values: ['0.1', '0.01'], field: '--grid "lr=0.1,0.01"' });
  assert.equal(parseParamList('opt=a=b,c', 'zip').values, ['a=b', 'c']);
  throwsCode(() => parseParamList('lr', 'grid'), 'bad-sweep', /^--grid "lr": expected KEY=V1,V2/);
  throwsCode(() => parseParamList('=1,2', 'grid'), 'bad-sweep', /expected KEY=V1,V2/);
  throwsCode(() => parseParamList('lr=', 'grid'), 'bad-sweep', /at least one value after "lr="/);
  throwsCode(() => parseParamList('1x=2', 'zip'), 'bad-key-value', /^--zip "1x=2": "1x" is not a valid parameter name/);
});

const g = (key: string, values: string[], flag = 'grid') => ({ key, values, field: `--${flag} ${key}` });

test('grids multiply, the first given varies slowest; --set goes into every point', () => {
  const pts = sweepPoints({ set: { epochs: '5' }, grids: [g('lr', ['0.1', '0.01']), g('bs', ['32', '64', '128'])], zips: [] });
  assert.equal(
    pts.map((p) => `${p.lr}/${p.bs}`),
    ['0.1/32', '0.1/64', '0.1/128', '0.01/32', '0.01/64', '0.01/128'],
  );
  assert.ok(pts.every((p) => p.epochs === '5'));
  assert.equal(Object.keys(pts[0]!).sort(), ['bs', 'epochs', 'lr']);
});

test('zips advance together; combined with grids as zip tuples × grid', () => {
  const pts = sweepPoints({ set: {}, grids: [g('bs', ['1', '2'])], zips: [g('seed', ['1', '2', '3'], 'zip'), g('tag', ['a', 'b', 'c'], 'zip')] });
  assert.equal(
    pts.map((p) => `${p.seed}${p.tag}-${p.bs}`),
    ['1a-1', '1a-2', '2b-1', '2b-2', '3c-1', '3c-2'],
  );
  throwsCode(() => sweepPoints({ set: {}, grids: [], zips: [g('a', ['1', '2'], 'zip'), g('b', ['1'], 'zip')] }), 'bad-sweep', /^--zip b: zipped lists must have the same length: a has 2 values, b has 1/);
});

test('explicit points are the slowest axis; a plain --set alone is one point', () => {
  const pts = sweepPoints({ set: {}, grids: [g('x', ['1', '2'])], zips: [], points: [{ params: { m: 'a' }, field: 'p[0]' }, { params: { m: 'b', n: 'z' }, field: 'p[1]' }] });
  assert.equal(pts, [
    { m: 'a', x: '1' },
    { m: 'a', x: '2' },
    { m: 'b', n: 'z', x: '1' },
    { m: 'b', n: 'z', x: '2' },
  ]);
  assert.equal(sweepPoints({ set: { a: '1' }, grids: [], zips: [] }), [{ a: '1' }]);
});

test('a parameter from two places is refused, naming both', () => {
  throwsCode(() => sweepPoints({ set: { lr: '1' }, grids: [g('lr', ['1', '2'])], zips: [] }), 'bad-sweep', /^--grid lr: parameter "lr" is also given by --set lr/);
  throwsCode(() => sweepPoints({ set: {}, grids: [g('a', ['1']), g('a', ['2'])], zips: [] }), 'bad-sweep', /also given by --grid a/);
  throwsCode(() => sweepPoints({ set: {}, grids: [g('a', ['1'])], zips: [], points: [{ params: { a: '3' }, field: 'f: points[0]' }] }), 'bad-sweep', /^f: points\[0\]: parameter "a" is also given by --grid a/);
});

test('more than MAX_POINTS points is refused before they are made', () => {
  const big = Array.from({ length: 1000 }, (_, i) => String(i));
  throwsCode(() => sweepPoints({ set: {}, grids: [g('a', big), g('b', big)], zips: [] }), 'bad-sweep', new RegExp(`1000000 points; at most ${MAX_POINTS}`));
});

test('nameCollisions: only names given twice or more, with their indexes', () => {
  assert.equal([...nameCollisions(['a', 'b', 'a', 'c', 'b', 'a'])], [
    ['a', [0, 2, 5]],
    ['b', [1, 4]],
  ]);
  assert.is(nameCollisions(['x', 'y']).size, 0);
});

test.run();
