// Fault injection (test/faults/README.md): a folder of stand-in scheduler commands to put
// first on PATH, each a symlink to standin.sh, consulting the rules in a control folder;
// and qdo run as a real process with that PATH. Reusable by any test: nothing here knows
// about one scheduler more than the command names.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, REPO, tempDir, removeDir } from '../helpers/cli.js';

export const STANDIN = join(REPO, 'test/faults/standin.sh');
export const SLURM_COMMANDS = ['sbatch', 'squeue', 'sacct', 'scontrol', 'scancel'];
export const PBS_COMMANDS = ['qsub', 'qstat', 'qdel', 'qhold', 'qrls', 'qselect'];

export interface Call {
  time: number;
  /** The command, "sacct-c" for `sacct -c`. */
  command: string;
  /** What the stand-in did: pass, fail, pass-then-fail, … */
  action: string;
  args: string;
}

/** A PATH folder of stand-ins and the control folder they read (QDO_FAULTS). */
export class FaultPath {
  private constructor(
    /** The control folder: `rules`, `calls.log`, `last.<command>.out`. */
    readonly dir: string,
    /** The folder of stand-ins to put first on PATH. */
    readonly bin: string,
  ) {}

  static create(commands: string[] = SLURM_COMMANDS): FaultPath {
    const root = tempDir('qdo-faults-');
    const bin = join(root, 'bin');
    const dir = join(root, 'control');
    mkdirSync(bin);
    mkdirSync(dir);
    for (const c of commands) symlinkSync(STANDIN, join(bin, c));
    writeFileSync(join(dir, 'rules'), '');
    return new FaultPath(dir, bin);
  }

  /** Replaces the rules: lines "COMMAND COUNT ACTION [ARG...]" (standin.sh). */
  rules(lines: string[]): void {
    writeFileSync(join(this.dir, 'rules'), lines.map((l) => `${l}\n`).join(''));
  }

  /** Every call the stand-ins saw, in order. */
  calls(): Call[] {
    const file = join(this.dir, 'calls.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const [time, command, action, ...rest] = l.split(' ');
        return { time: Number(time), command: command!, action: action!, args: rest.join(' ') };
      });
  }

  /** Calls of `command` whose real command ran (it took effect): pass, delay, pass-then-*. */
  realRuns(command: string): Call[] {
    return this.calls().filter((c) => c.command === command && (c.action === 'pass' || c.action === 'delay' || c.action.startsWith('pass-then-')));
  }

  env(): Record<string, string> {
    return { PATH: `${this.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, QDO_FAULTS: this.dir };
  }

  remove(): void {
    removeDir(join(this.dir, '..'));
  }
}

export interface QdoResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built qdo as a process (so its scheduler commands see `env.PATH`). */
export function qdoProcess(args: string[], o: { home: string; env?: Record<string, string>; timeoutMs?: number }): Promise<QdoResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: o.home,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? o.home, QDO_HOME: o.home, ...(o.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`qdo ${args.join(' ')} did not finish within ${(o.timeoutMs ?? 120_000) / 1000} s; stderr: ${stderr}`));
    }, o.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export { tempDir, removeDir };
