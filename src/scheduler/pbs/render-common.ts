// What the PBS Pro and TORQUE renderers share (spec/scheduler-pbs.md §Directives):
// directive value quoting, job names, mail, the tag, the scheduler's own output file,
// and raw extra directives. Pure.
import { UsageError } from '../../errors.js';
import type { Resources } from '../../model/resources.js';
import type { RenderSpec } from '../types.js';
import { isPbsJobId } from './parse-qsub.js';

/** Variable carrying RenderSpec.tag in the job's Variable_List (findByTag reads it back). */
export const TAG_VARIABLE = 'QDO_TAG';
/**
 * The value is `qdo:<tag>`: qstat -F json turns values that look like JSON numbers into
 * numbers (a hex id made of digits, or "12e45", would come back changed); the prefix keeps
 * it a string. Same prefix as the Slurm comment (spec/scheduler-slurm.md §Tag).
 */
export const TAG_PREFIX = 'qdo:';
const TAG_RE = /^[A-Za-z0-9._:-]+$/;

const SAFE_VALUE = /^[A-Za-z0-9_@%+=:,./\-\[\]^]+$/;

/**
 * qsub splits a `#PBS` line into words like a shell command line: whitespace separates,
 * "..." keeps it together. There is no escape for '"' or '\', so those cannot be written.
 */
export function directiveValue(value: string, field: string, scheduler: string): string {
  if (value === '') throw new UsageError(`${field}: expected a value, found an empty string`, { code: 'bad-resource' });
  if (/[\n\r]/.test(value)) throw new UsageError(`${field}: ${scheduler} directives are one line, found a line break in ${JSON.stringify(value)}`, { code: 'bad-resource' });
  if (/["\\]/.test(value)) throw new UsageError(`${field}: ${scheduler} directives cannot hold '"' or '\\', found ${JSON.stringify(value)}`, { code: 'bad-resource' });
  return SAFE_VALUE.test(value) ? value : `"${value}"`;
}

/**
 * A job name the server accepts. PBS Pro: up to 236 characters (230 on OpenPBS 20-23,
 * pbs_ifl.h PBS_MAXJOBNAME), starting with a letter or digit (qsub.1B -N). TORQUE: first
 * character alphabetic (qsub.1 -N); its old 15-character limit is gone (the bcgsc fixture
 * has a 45-character Job_Name), we keep to 230. Characters other than letters, digits and
 * `_ . + -` become `_` (directive quoting and site scripts parsing qstat tables stay safe).
 */
export function pbsJobName(name: string, flavor: 'pbspro' | 'torque'): string {
  let n = [...name].map((c) => (/[A-Za-z0-9_.+-]/.test(c) ? c : '_')).join('');
  const first = flavor === 'pbspro' ? /^[A-Za-z0-9]/ : /^[A-Za-z]/;
  if (!first.test(n)) n = `q${n}`;
  return n.slice(0, 230);
}

/** `-M` and `-m`: begin → b, end → e, fail → a ("aborted by the batch system"), all → abe. */
export function mailDirectives(r: Resources, scheduler: string): string[] {
  const out: string[] = [];
  if (r.mail?.user !== undefined) out.push(`-M ${directiveValue(r.mail.user, 'resources.mail.user', scheduler)}`);
  if (r.mail?.events !== undefined && r.mail.events.length > 0) {
    const letters = new Set<string>();
    for (const e of r.mail.events) {
      if (e === 'begin') letters.add('b');
      else if (e === 'end') letters.add('e');
      else if (e === 'fail') letters.add('a');
      else if (e === 'all') ['a', 'b', 'e'].forEach((l) => letters.add(l));
      else throw new UsageError(`resources.mail.events: ${scheduler} has no mail event for ${JSON.stringify(e)} (known: begin, end, fail, all)`, { code: 'bad-resource' });
    }
    out.push(`-m ${['a', 'b', 'e'].filter((l) => letters.has(l)).join('')}`);
  }
  return out;
}

/** `-v QDO_TAG=qdo:<tag>` (spec/scheduler-pbs.md §Tag). */
export function tagDirective(tag: string | undefined): string[] {
  if (tag === undefined) return [];
  if (!TAG_RE.test(tag)) throw new UsageError(`tag: expected letters, digits and . _ : -, found ${JSON.stringify(tag)}`, { code: 'bad-tag' });
  return [`-v ${TAG_VARIABLE}=${TAG_PREFIX}${tag}`];
}

/**
 * Where the scheduler's own stdout/stderr go (the wrapper writes the job's logs itself;
 * this file only catches what happens before, spec/scheduler-common.md §Files). Default:
 * stderr joined into stdout (`-j oe`), stdout into the run folder under `ownName`.
 * resources.stdout alone also takes stderr (as Slurm's --output does).
 */
export function outputDirectives(spec: RenderSpec, ownName: string, scheduler: string): string[] {
  const r = spec.resources;
  const out: string[] = [];
  const abs = (p: string): string => (p.startsWith('/') ? p : `${spec.runDir}/${p}`);
  if (r.stderr === undefined) out.push('-j oe');
  const o = r.stdout !== undefined ? abs(r.stdout) : `${spec.runDir}/${ownName}`;
  out.push(`-o ${directiveValue(o, r.stdout !== undefined ? 'resources.stdout' : 'runDir', scheduler)}`);
  if (r.stderr !== undefined) out.push(`-e ${directiveValue(abs(r.stderr), 'resources.stderr', scheduler)}`);
  return out;
}

/** Raw `#PBS` arguments from resources.extra[key], verbatim; each must be an option. */
export function extraDirectives(r: Resources, key: string): string[] {
  return (r.extra?.[key] ?? []).map((x, i) => {
    const field = `resources.extra.${key}[${i}]`;
    if (!x.startsWith('-')) throw new UsageError(`${field}: expected a qsub option such as "-l place=excl", found ${JSON.stringify(x)}`, { code: 'bad-resource' });
    if (/[\n\r]/.test(x)) throw new UsageError(`${field}: a directive is one line`, { code: 'bad-resource' });
    return x;
  });
}

/**
 * Checks dependency ids are PBS job ids ("123", "123.server", "123[].server", a subjob
 * "123[4].server"); `alsoOk` admits more (TORQUE under Slurm's wrapper: "123_4").
 */
export function checkDependencyIds(ids: readonly string[], index: number, scheduler: string, alsoOk?: RegExp): void {
  if (ids.length === 0) throw new UsageError(`dependencies[${index}].ids: expected at least one ${scheduler} job id, found none`, { code: 'bad-dependency' });
  for (const id of ids) {
    if (!isPbsJobId(id) && !(alsoOk?.test(id) ?? false)) {
      throw new UsageError(`dependencies[${index}].ids: expected ${scheduler} job ids like "123.server" or "123[].server", found ${JSON.stringify(id)}`, {
        code: 'bad-dependency',
      });
    }
  }
}

/** Memory in PBS syntax: PBS and TORQUE read "mb" as MiB (binary units). */
export function pbsMem(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}gb` : `${mib}mb`;
}
