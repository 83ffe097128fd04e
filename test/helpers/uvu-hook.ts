// Module hook (node:module register) installed by test/run.ts: `import … from 'uvu'` in any
// module under the test folder resolves to uvu-timed.ts, which puts a time limit on every
// test. uvu's own modules, and uvu-timed itself, get the real uvu.
interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string }>;

let root = '';
let timed = '';

export function initialize(data: { root: string; timed: string }): void {
  root = data.root;
  timed = data.timed;
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string; shortCircuit?: boolean }> {
  const parent = context.parentURL ?? '';
  if (specifier === 'uvu' && parent.startsWith(root) && parent !== timed) return { url: timed, shortCircuit: true };
  return next(specifier, context);
}
