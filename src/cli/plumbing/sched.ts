// Output: spec/plumbing/sched.md
import type { Argv } from 'yargs';
import type { Args, CommandDef } from '../command.js';
import { bool, json, str, strs } from '../command.js';
import { UsageError } from '../../errors.js';
import { RESOURCE_FLAGS } from '../../model/resource-units.js';

const ACTIONS = ['detect', 'render', 'submit', 'query', 'cancel', 'hold', 'release'] as const;

/** Resource flags as Slurm users know them (spec/scheduler-common.md §Flags). */
export function withResourceFlags(y: Argv): Argv {
  for (const f of RESOURCE_FLAGS) y = y.option(f, { type: 'string', group: 'Resources:' });
  return y;
}

/** `--set K=V` / `--env K=V` → object; a value without "=" names the flag. */
export function keyValues(args: Args, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of strs(args, flag)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--${flag} ${JSON.stringify(kv)}: expected KEY=VALUE`, { code: 'bad-key-value' });
    const k = kv.slice(0, i);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new UsageError(`--${flag} ${JSON.stringify(kv)}: "${k}" is not a valid name (letters, digits, "_")`, { code: 'bad-key-value' });
    out[k] = kv.slice(i + 1);
  }
  return out;
}

export const schedCommand: CommandDef = {
  command: 'sched <action> [args..]',
  describe: 'The scheduler seam: detect, render, submit, query, cancel, hold, release',
  builder: (y) =>
    withResourceFlags(
      y
        .positional('action', { choices: ACTIONS })
        .positional('args', { type: 'string', array: true, describe: 'REV (render, submit) or scheduler job ids (query, cancel, hold, release)' })
        .option('scheduler', { type: 'string', alias: 'for', describe: 'slurm, pbs, torque, local or a plugin (default: detected)' })
        .option('alloc', { type: 'string', describe: 'allocation whose config applies (default: the one around the current folder)' })
        .option('script', { type: 'string', describe: 'job script file (render, submit; instead of a REV)' })
        .option('name', { type: 'string', describe: 'job name (with --script or a command)' })
        .option('run-dir', { type: 'string', describe: 'run folder (with --script or a command; default ./qdo-runs/NAME)' })
        .option('set', { type: 'string', array: true, describe: 'parameter KEY=VALUE (becomes QDO_PARAM_KEY)' })
        .option('env', { type: 'string', array: true, describe: 'environment KEY=VALUE for the job' })
        .option('hold', { type: 'boolean', describe: 'submit held' })
        .option('json', { type: 'boolean', describe: 'machine-readable output' }),
    ),
  async run(args, { ctx, io }) {
    const core = await import('../../core/sched.js');
    const action = args.action as (typeof ACTIONS)[number];
    const o = { scheduler: str(args, 'scheduler'), alloc: str(args, 'alloc') };
    const rest = strs(args, 'args');
    const command = strs(args, '--');
    const asJson = bool(args, 'json');
    switch (action) {
      case 'detect': {
        if (rest.length) throw new UsageError('sched detect takes no arguments');
        const c = await core.schedDetect(ctx, o);
        io.stdout(asJson ? json({ version: 1, scheduler: c.kind, scheduler_version: c.version, source: c.source, evidence: c.evidence }) : `${c.kind} ${c.version ?? '-'} ${c.source}\n`);
        return;
      }
      case 'render':
      case 'submit': {
        let input: import('../../core/sched.js').RenderInput;
        if (rest.length > 1) throw new UsageError(`sched ${action} takes at most one REV`);
        if (rest.length === 1) {
          if (str(args, 'script') !== undefined || command.length) throw new UsageError('give a REV, or --script/a command, not both');
          input = { rev: rest[0]! };
        } else {
          const { parseResourceFlags } = await import('../../model/resource-units.js');
          input = {
            script: str(args, 'script'),
            command,
            name: str(args, 'name'),
            runDir: str(args, 'run-dir'),
            resources: parseResourceFlags(args as Record<string, string | undefined>),
            env: keyValues(args, 'env'),
            params: keyValues(args, 'set'),
          };
        }
        if (action === 'render') {
          if (bool(args, 'hold')) throw new UsageError('--hold applies to submit');
          const script = (await core.schedRender(ctx, input, o)).script;
          io.stdout(asJson ? json({ version: 1, script }) : script);
          return;
        }
        const r = await core.schedSubmit(ctx, input, { ...o, hold: bool(args, 'hold') });
        io.stdout(asJson ? json({ version: 1, id: r.id, scheduler: r.scheduler, run_dir: r.runDir, script: r.scriptPath }) : `${r.id}\n`);
        return;
      }
      case 'query': {
        const states = await core.schedQuery(ctx, rest, o);
        if (asJson) {
          io.stdout(json({ version: 1, jobs: states.map((s) => ({ id: s.id, state: s.state, source: s.source, exit_code: s.exitCode ?? null, signal: s.signal ?? null, raw: s.raw, reason: s.reason ?? null })) }));
        } else {
          io.stdout(states.map((s) => `${s.id} ${s.state} ${s.source} ${s.exitCode ?? '-'} ${s.raw || '-'}\n`).join(''));
        }
        return;
      }
      default:
        await core.schedControl(ctx, action, rest, o);
    }
  },
};
