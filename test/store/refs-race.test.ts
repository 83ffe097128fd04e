// Several processes race `qdo update-ref NAME NEW OLD` on one name: in every round exactly
// one wins, the others get the conflict exit code, and no update is lost.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BIN, qdo, tempDir, removeDir } from '../helpers/cli.js';
import { createAllocation } from '../../src/store/layout.js';
import { writeManifest } from '../../src/store/manifests.js';
import { writeObject } from '../../src/store/objects.js';
import { readRefs, refsPaths } from '../../src/store/refs.js';
import { MANIFEST_SCHEMA, type Manifest } from '../../src/model/manifest.js';

const errors: string[] = [];
function run(args: string[], home: string): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', QDO_HOME: home, QDO_DEBUG: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => {
      if (code !== 0 && code !== 4) errors.push(err);
      resolve(code ?? -1);
    });
  });
}

test('update-ref races: one winner per round, losers exit 4, nothing lost', async () => {
  const home = tempDir();
  try {
    const { layout } = await createAllocation(home);
    assert.is((await qdo(['project', 'add', 'race'], { home })).code, 0);
    const script = await writeObject(layout, Buffer.from('#!/bin/sh\ntrue\n'));
    const mk = (i: number): Manifest => ({
      schema: MANIFEST_SCHEMA, project: 'race', name: 'j', version: 1, parent: null, script, resources: {}, scheduler: 'local',
      params: { i: String(i) }, env: {}, prologue: null, epilogue: null, created: '2026-11-21T09:30:00.000Z',
    });
    const PROCS = 5;
    const ROUNDS = 4;
    let current = '0'.repeat(64);
    const winners: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const ids = await Promise.all(Array.from({ length: PROCS }, (_, p) => writeManifest(layout, mk(round * PROCS + p))));
      const codes = await Promise.all(ids.map((id) => run(['update-ref', 'race/j', id, current], home)));
      assert.is(codes.filter((c) => c === 0).length, 1, `round ${round}: exactly one winner (codes ${codes}) ${errors.join('\n')}`);
      assert.is(codes.filter((c) => c === 4).length, PROCS - 1, `round ${round}: the rest conflict (codes ${codes}) ${errors.join('\n')}`);
      const winner = ids[codes.indexOf(0)]!;
      assert.is((await readRefs(layout, 'race')).get('j'), winner);
      winners.push(winner);
      current = winner;
    }
    // The journal holds exactly one entry per round, chained old → new.
    const lines = readFileSync(refsPaths(layout, 'race').journal, 'utf8').trim().split('\n');
    assert.is(lines.length, ROUNDS);
    lines.forEach((line, i) => assert.is(line, `j ${winners[i]} ${i === 0 ? '-' : winners[i - 1]}`));
  } finally {
    removeDir(home);
  }
});

test.run();
