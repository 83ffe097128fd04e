// `qdo __complete SHELL WORD…`: what the scripts of completion-scripts.ts ask. WORD… are the
// words after `qdo` up to the one being typed (last, maybe empty). Prints the candidates
// starting with it, one per line ("value<TAB>description" for zsh and fish), then a
// directive line (":files", ":nospace" or ":"). Never fails: a problem prints nothing.
// Commands and options come from the commands' specs (spec.ts), so every command and
// option, also those added later, completes; names come from src/core/complete.ts.
import type { Context } from '../context.js';
import type { Candidate } from '../core/complete.js';
import type { CommandDef } from './command.js';
import type { Io } from './io.js';
import { GLOBAL_OPTIONS, type CommandSpec, type OptionSpec, type PositionalSpec } from './spec.js';
import { SHELLS } from './completion-scripts.js';

export interface Completion {
  candidates: Candidate[];
  directive: ':files' | ':nospace' | ':';
}

const SCHEDULERS = ['slurm', 'pbs', 'torque', 'local'];
/** Options whose value is a file or folder. */
const FILE_OPTIONS = new Set(['script', 'prologue', 'epilogue', 'run-dir', 'to']);
/** Options whose value is a job (or revision). */
const JOB_OPTIONS = new Set(['after']);

type Kind = 'jobs' | 'projects' | 'resources' | 'pools' | 'allocations' | 'files' | 'none' | 'choices';

/** What a positional holds, by its name (the names the commands' command strings use). */
function positionalKind(word: string, p: PositionalSpec, before: string[]): Kind {
  if (p.choices) return 'choices';
  switch (p.name) {
    case 'rev':
    case 'revs':
    case 'job':
    case 'jobs':
    case 'patterns':
    case 'a':
    case 'b':
    case 'source':
      return 'jobs';
    case 'project':
      return 'projects';
    case 'target':
      return before[0] === 'show' ? 'resources' : 'projects';
    case 'name':
      return word === 'pool' && before[0] !== 'add' ? 'pools' : 'none';
    case 'paths':
      // alloc remove PATH: a registered allocation; alloc move OLD NEW: folders.
      return word === 'alloc' && before[0] === 'remove' ? 'allocations' : word === 'alloc' && before[0] === 'move' ? 'files' : 'none';
    case 'args':
      return word === 'sched' && (before[0] === 'render' || before[0] === 'submit') ? 'jobs' : 'none';
    case 'file':
    case 'dir':
      return 'files';
    default:
      return 'none';
  }
}

function flagNames(spec: { options: OptionSpec[] }): Candidate[] {
  const out: Candidate[] = [];
  for (const o of spec.options) {
    for (const n of [o.name, ...o.alias]) out.push({ value: n.length === 1 ? `-${n}` : `--${n}`, description: o.describe });
    if (o.type === 'boolean' && o.default === true) out.push({ value: `--no-${o.name}`, description: o.describe });
  }
  out.push({ value: '--help', description: 'show the usage of this command' });
  return out;
}

export async function completeWords(words: string[], ctx: Context, commands: readonly CommandDef[], specOf: (c: CommandDef) => CommandSpec): Promise<Completion> {
  const cur = words[words.length - 1] ?? '';
  const done = words.slice(0, -1);
  const startsWith = (cs: Candidate[]) => cs.filter((c) => c.value.startsWith(cur));
  const { completeJobs, completeProjects, completeResources, completeAllocations, completePools } = await import('../core/complete.js');
  // The command: the first word that is not an option.
  const at = done.findIndex((w) => !w.startsWith('-'));
  if (at < 0) {
    if (cur.startsWith('-')) return { candidates: startsWith([...GLOBAL_OPTIONS.map((o) => ({ value: `--${o.name}`, description: o.describe })), { value: '--help', description: 'list the commands' }, { value: '--version', description: 'print the version' }]), directive: ':' };
    const names: Candidate[] = [];
    for (const c of commands) for (const w of specOf(c).words) names.push({ value: w, description: c.describe });
    return { candidates: startsWith(names), directive: ':' };
  }
  const word = done[at]!;
  const c = commands.find((x) => specOf(x).words.includes(word));
  if (!c) return { candidates: [], directive: ':' };
  const spec = specOf(c);
  // Walk what was typed after the command: positionals so far, an option waiting for its value.
  const positionals: string[] = [];
  let waiting: OptionSpec | null = null;
  for (const t of done.slice(at + 1)) {
    if (t === '--') return { candidates: [], directive: ':files' }; // the job's command line
    if (waiting) {
      waiting = null;
      continue;
    }
    if (t.startsWith('-') && t.length > 1) {
      const name = t.replace(/^--?/, '');
      const o = name.includes('=') ? undefined : spec.flags.get(name);
      if (o && o.type !== 'boolean') waiting = o;
      continue;
    }
    positionals.push(t);
  }
  if (done.slice(at + 1).includes('--')) return { candidates: [], directive: ':files' };
  // An option's value: after the option, or after "--option=".
  let prefix = '';
  let value = cur;
  let opt = waiting;
  const eq = /^--([^=]+)=(.*)$/.exec(cur);
  if (!opt && eq) {
    opt = spec.flags.get(eq[1]!) ?? null;
    prefix = `--${eq[1]}=`;
    value = eq[2]!;
  }
  if (opt) {
    let cs: Candidate[];
    if (opt.choices) cs = opt.choices.map((v) => ({ value: String(v) }));
    else if (opt.name === 'scheduler') cs = SCHEDULERS.map((v) => ({ value: v, description: 'scheduler' }));
    else if (opt.name === 'alloc') cs = await completeAllocations(ctx, value);
    else if (opt.name === 'pool') cs = await completePools(ctx, value);
    else if (JOB_OPTIONS.has(opt.name)) cs = await completeJobs(ctx, value);
    else if (FILE_OPTIONS.has(opt.name)) return { candidates: [], directive: prefix ? ':' : ':files' };
    else return { candidates: [], directive: ':' };
    const out = cs.filter((x) => x.value.startsWith(value)).map((x) => ({ ...x, value: prefix + x.value }));
    return { candidates: out, directive: out.some((x) => /[/@~]$/.test(x.value)) ? ':nospace' : ':' };
  }
  if (cur.startsWith('-')) return { candidates: startsWith(flagNames(spec)), directive: ':' };
  // A positional: the next one, or the variadic last one again.
  let p: PositionalSpec | undefined = spec.positionals[positionals.length];
  if (!p) {
    const last = spec.positionals[spec.positionals.length - 1];
    if (last?.variadic) p = last;
  }
  if (!p) return { candidates: [], directive: ':' };
  const kind = positionalKind(word, p, positionals);
  let cs: Candidate[];
  if (kind === 'choices') cs = startsWith(p.choices!.map((v) => ({ value: String(v) })));
  else if (kind === 'jobs') cs = await completeJobs(ctx, cur);
  else if (kind === 'projects') cs = await completeProjects(ctx, cur, false);
  else if (kind === 'resources') cs = await completeResources(ctx, cur);
  else if (kind === 'pools') cs = await completePools(ctx, cur);
  else if (kind === 'allocations') cs = await completeAllocations(ctx, cur);
  else if (kind === 'files') return { candidates: [], directive: ':files' };
  else return { candidates: [], directive: ':' };
  return { candidates: cs, directive: cs.some((x) => /[/@~:]$/.test(x.value)) ? ':nospace' : ':' };
}

/** The `__complete` entry point: always exit 0, problems print no candidates. */
export async function completeMain(argv: string[], io: Io, ctx: Context, commands: readonly CommandDef[], specOf: (c: CommandDef) => CommandSpec): Promise<number> {
  const shell = argv[0] ?? 'bash';
  let r: Completion = { candidates: [], directive: ':' };
  try {
    r = await completeWords(argv.length > 1 ? argv.slice(1) : [''], ctx, commands, specOf);
  } catch {
    // An unreadable allocation, a damaged refs file: nothing to offer, no noise in the shell.
  }
  const withDescriptions = shell !== 'bash' && (SHELLS as readonly string[]).includes(shell);
  let out = '';
  for (const c of r.candidates) out += withDescriptions && c.description ? `${c.value}\t${c.description.replace(/[\t\n]/g, ' ')}\n` : `${c.value}\n`;
  io.stdout(out + r.directive + '\n');
  return 0;
}
