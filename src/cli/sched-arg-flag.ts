// `--sched-arg VALUE` where VALUE itself looks like an option (`--sched-arg --qos=debug`, as
// users type it): the parser would read VALUE as a flag of its own (here: qdo's --qos). The
// word after `--sched-arg` is always its value, so the two are joined first
// (`--sched-arg=--qos=debug`). Words after a lone `--` are a command and left alone.
export const VALUE_FLAGS = ['--sched-arg'];

export function joinValueFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (VALUE_FLAGS.includes(a) && i + 1 < argv.length && argv[i + 1] !== '--') {
      out.push(`${a}=${argv[i + 1]!}`);
      i++;
      continue;
    }
    out.push(a);
  }
  return out;
}
