// Templates (spec/templates.md §Sandbox, §Limits): what the sandbox and the meter cost on top
// of plain nunjucks, in this process, against what a worker thread with resourceLimits
// would cost (the other way to bound a render). Ratios to plain nunjucks, one run.
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { renderTemplate } from '../src/template/render.js';

const require = createRequire(import.meta.url);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function perCall(f: () => Promise<unknown> | unknown, n: number): Promise<number> {
  for (let i = 0; i < Math.min(20, n); i++) await f(); // warm up
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    rounds.push((performance.now() - t) / n);
  }
  return median(rounds);
}

export async function templateBench(): Promise<void> {
  const nj = require('nunjucks') as { Environment: new (l: unknown[], o: object) => { renderString(t: string, v: object): string } };
  const env = new nj.Environment([], { autoescape: false, throwOnUndefined: true });
  const vars = { lr: '0.1', bs: '32', params: { lr: '0.1', bs: '32' }, resources: { cpus: 4, time: 3600 }, job: { name: 'train', version: 1, project: 'p' } };
  const small = '#!/bin/bash\npython train.py --lr={{ lr }} --bs={{ bs }} --cpus={{ resources.cpus }}\n';
  const loop = '{% for i in range(1000) %}line {{ i }} {{ params.lr | upper }}\n{% endfor %}';
  const src = (text: string) => ({ text, name: 'bench' });

  console.log('\ntemplates: one render in this process (median of 5 rounds), against plain nunjucks');
  const cases: [string, string, number][] = [
    ['small script (3 variables)', small, 2000],
    ['loop of 1,000 lines, a filter each', loop, 50],
  ];
  for (const [label, text, n] of cases) {
    const base = await perCall(() => env.renderString(text, vars), n);
    const qdo = await perCall(() => renderTemplate(src(text), vars), n);
    console.log(`  ${label.padEnd(36)} nunjucks 1.00x (${(base * 1000).toFixed(0)} µs)   qdo sandboxed+metered ${(qdo / base).toFixed(2)}x (${(qdo * 1000).toFixed(0)} µs)`);
  }
  const plainBase = await perCall(() => env.renderString('true', vars), 5000);
  const plain = await perCall(() => renderTemplate(src('true'), vars), 5000);
  console.log(`  ${'`-- true` (no tags)'.padEnd(36)} nunjucks 1.00x (${(plainBase * 1000).toFixed(1)} µs)   qdo ${(plain / plainBase).toFixed(2)}x (${(plain * 1000).toFixed(1)} µs: nunjucks is not even loaded)`);

  // The alternative: every render in a worker thread with resourceLimits and a timeout.
  const code = `const { parentPort } = require('node:worker_threads');
const nj = require(${JSON.stringify(require.resolve('nunjucks'))});
const env = new nj.Environment([], { autoescape: false, throwOnUndefined: true });
parentPort.on('message', (m) => parentPort.postMessage(env.renderString(m.text, m.vars)));`;
  const spawns: number[] = [];
  let w: Worker | undefined;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    w = new Worker(code, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 256 } });
    await new Promise((res) => {
      w!.once('message', res);
      w!.postMessage({ text: small, vars });
    });
    spawns.push(performance.now() - t);
    if (i < 4) await w.terminate();
  }
  const inWorker = await perCall(
    () =>
      new Promise((res) => {
        w!.once('message', res);
        w!.postMessage({ text: small, vars });
      }),
    500,
  );
  await w!.terminate();
  const qdoSmall = await perCall(() => renderTemplate(src(small), vars), 2000);
  console.log(`  worker thread: start + load nunjucks + first render ${median(spawns).toFixed(0)} ms per command; then ${(inWorker * 1000).toFixed(0)} µs per render (${(inWorker / qdoSmall).toFixed(1)}x qdo in-process)`);
}
