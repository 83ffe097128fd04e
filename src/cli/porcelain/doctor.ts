// qdo doctor [--json] (man/qdo-doctor.1; src/core/doctor.ts): one line per check.
import type { CommandDef } from '../command.js';
import { bool } from '../command.js';
import { jsonDocument } from '../../output/json.js';
import { version } from '../../version.js';
import type { Check } from '../../core/doctor.js';

const COLOR: Record<string, string> = { ok: '32', warn: '33', fail: '31' };

/** What the bundle's prologue found of its code cache (scripts/build.mjs), if this is the bundle. */
function codeCache(): { dir: string; usable: boolean; reason: string | null } | null {
  const c = (globalThis as { __qdoCodeCache?: { dir: string | null; usable: boolean; reason: string | null } }).__qdoCodeCache;
  return c && c.dir ? { dir: c.dir, usable: c.usable, reason: c.reason } : null;
}

export function formatChecks(checks: Check[], color: boolean): string {
  const width = Math.max(...checks.map((c) => c.check.length));
  let out = '';
  for (const c of checks) {
    const tag = c.status.padEnd(4);
    out += `${color ? `\x1b[${COLOR[c.status]}m${tag}\x1b[0m` : tag}  ${c.check.padEnd(width)}  ${c.subject && !c.message.includes(c.subject) ? `${c.subject}: ` : ''}${c.message}\n`;
    if (c.fix) out += `${' '.repeat(6 + width + 2)}fix: ${c.fix}\n`;
  }
  return out;
}

export const doctorCommand: CommandDef = {
  command: 'doctor',
  describe: 'Check what qdo sees here: scheduler, accounting, cluster, limits, allocations, permissions, clocks, locks',
  async run(args, { ctx, io }) {
    const { doctor } = await import('../../core/doctor.js');
    const r = await doctor(ctx, { nodeVersion: process.version, qdoVersion: version(), codeCache: codeCache(), uid: typeof process.getuid === 'function' ? process.getuid() : undefined });
    if (bool(args, 'json')) io.stdout(jsonDocument({ ok: r.ok, checks: r.checks }));
    else io.stdout(formatChecks(r.checks, io.color));
    return r.ok ? 0 : 1;
  },
};
