// The shape of one command: yargs wiring plus a run() that lazy-imports its core module,
// so start-up costs only what the chosen command needs.
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import type { CliEnv } from './io.js';

export type Args = Record<string, unknown> & { _: (string | number)[] };

export interface CommandDef {
  command: string | string[];
  describe: string;
  builder?: (y: Argv) => Argv;
  run(args: Args, env: CliEnv): Promise<number | void>;
}

export function str(args: Args, key: string): string | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) throw new UsageError(`--${key} given more than once`);
  return String(v);
}

export function strs(args: Args, key: string): string[] {
  const v = args[key];
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

export function bool(args: Args, key: string): boolean {
  return args[key] === true;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
