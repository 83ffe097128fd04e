// The claim protocol (spec/pools.md §Claim protocol): a ticket moves by one rename to a
// name only its mover uses; a rename NFS retransmitted after its reply was lost (ENOENT on
// the retransmit) still counts as won; many claimers at once never share a ticket.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { POOL_SCHEMA, type PoolDefinition } from '../../src/model/pool.js';
import { TICKET_SCHEMA, newRunKey, type Ticket } from '../../src/model/pool-run.js';
import { layoutOf } from '../../src/store/layout.js';
import {
  claimTicket,
  createPool,
  enqueueTicket,
  listClaimed,
  listQueued,
  moveTicket,
  requeueTicket,
  type PoolFs,
  type PoolPaths,
} from '../../src/store/pool.js';
import { tempDir } from '../helpers/cli.js';
import { rejects } from '../helpers/assert.js';

const test = suite('pool claim');
let dir = '';
let p: PoolPaths;

const def: PoolDefinition = {
  schema: POOL_SCHEMA,
  name: 'race',
  scheduler: null,
  cluster: null,
  pilots: { min: 0, max: 0 },
  slots: 1,
  capabilities: [],
  resources: {},
  idle: 60,
  lease: 60,
  max_requeue: 3,
  consolidate: false,
  worker_command: null,
  created: '2026-11-21T09:30:00.000Z',
};

let n = 0;
function ticket(): Ticket {
  n++;
  return { schema: TICKET_SCHEMA, key: newRunKey(1_700_000_000_000 + n, n.toString(16).padStart(6, '0')), tag: null, name: 'r', script: '/x/job.sh', cwd: '/x', slots: 1, needs: [], mem: null, gpus: 0, time: null, after: [], submitted: '2026-11-21T09:30:00.000Z' };
}

test.before.each(async () => {
  dir = tempDir('qdo-pool-claim-');
  mkdirSync(join(dir, '.qdo'), { recursive: true });
  p = await createPool(layoutOf(dir), def);
  for (const w of ['w1', 'w2']) mkdirSync(p.workerRuns(w), { recursive: true });
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('a claim moves the ticket into the worker folder; a second claimer loses', async () => {
  await enqueueTicket(p, ticket());
  const [t] = await listQueued(p);
  assert.ok(await claimTicket(p, t!, 'w1'));
  assert.not.ok(await claimTicket(p, t!, 'w2'));
  assert.equal((await listClaimed(p, 'w1')).map((x) => x.key), [t!.key]);
  assert.equal(await listClaimed(p, 'w2'), []);
  assert.equal(await listQueued(p), []);
});

test('NFS: a rename whose reply was lost and whose retransmit said ENOENT is still ours', async () => {
  await enqueueTicket(p, ticket());
  const [t] = await listQueued(p);
  const lossy: PoolFs = {
    rename: async (a, b) => {
      await rename(a, b); // the server did it…
      throw Object.assign(new Error('ENOENT: retransmitted rename'), { code: 'ENOENT' }); // …the client heard the retransmit's answer
    },
  };
  assert.ok(await claimTicket(p, t!, 'w1', lossy), 'the claim is recognised by its unique destination');
  assert.equal((await listClaimed(p, 'w1')).length, 1);
  // Another worker that got a genuine ENOENT (someone else had it) does not think it won.
  const genuine: PoolFs = { rename: async () => Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })) };
  assert.not.ok(await claimTicket(p, t!, 'w2', genuine));
});

test('other rename errors are not mistaken for a lost race', async () => {
  await enqueueTicket(p, ticket());
  const [t] = await listQueued(p);
  const broken: PoolFs = { rename: async () => Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) };
  await rejects(() => claimTicket(p, t!, 'w1', broken), /EIO/);
});

test('a requeued ticket is a new name (key~N), so a late retransmit of the old claim cannot take it', async () => {
  await enqueueTicket(p, ticket());
  const [t] = await listQueued(p);
  assert.ok(await claimTicket(p, t!, 'w1'));
  const [held] = await listClaimed(p, 'w1');
  assert.ok(await requeueTicket(p, held!));
  const [again] = await listQueued(p);
  assert.is(again!.name, `${t!.key}~2`);
  assert.is(again!.attempt, 2);
  // The old claim's rename, replayed now, finds no source and no destination of its own.
  assert.not.ok(await moveTicket(t!.path, join(p.workerRuns('w2'), t!.name)));
  assert.equal((await listQueued(p)).map((x) => x.name), [`${t!.key}~2`]);
});

test('a key in use is refused, never overwritten (link, not rename)', async () => {
  const t = ticket();
  await enqueueTicket(p, t);
  await rejects(() => enqueueTicket(p, { ...t, name: 'other' }), /exists already/);
  assert.equal(readdirSync(p.queue).filter((f) => !f.startsWith('.')), [t.key], 'no temp file left');
});

test('500 tickets, 8 claimers at once in one process: each ticket claimed exactly once', async () => {
  for (let i = 0; i < 500; i++) await enqueueTicket(p, ticket());
  const workers = Array.from({ length: 8 }, (_, i) => `c${i}`);
  for (const w of workers) mkdirSync(p.workerRuns(w), { recursive: true });
  const won = new Map<string, string[]>();
  await Promise.all(
    workers.map(async (w) => {
      for (;;) {
        const q = await listQueued(p);
        if (q.length === 0) return;
        // Everyone goes for the same tickets in the same order: the worst case.
        for (const t of q.slice(0, 4)) if (await claimTicket(p, t, w)) won.set(t.key, [...(won.get(t.key) ?? []), w]);
      }
    }),
  );
  assert.is(won.size, 500);
  assert.ok([...won.values()].every((ws) => ws.length === 1), 'no ticket has two owners');
  const held = (await Promise.all(workers.map((w) => listClaimed(p, w)))).flat();
  assert.is(held.length, 500);
  assert.is(new Set(held.map((t) => t.key)).size, 500);
});

test('a ticket file that is not a ticket name is ignored (temp files of writers)', async () => {
  writeFileSync(join(p.queue, '.x.tmp-0011aabb'), '{}');
  writeFileSync(join(p.queue, 'notes.txt'), '{}');
  assert.equal(await listQueued(p), []);
});

test.run();
