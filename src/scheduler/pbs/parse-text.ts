// Text `qstat -f` of PBS Pro, TORQUE, and Slurm's TORQUE-dialect wrapper
// (spec/scheduler-pbs.md §Text). Layout:
//   Job Id: <id>
//       name = value            (4 spaces; the Slurm wrapper uses one TAB instead)
//   <TAB>continuation           (long values wrap with "\n\t"; some sources expand the TAB
//                                to 8 spaces)
//   raw line                    (a value holding a newline prints it raw)
// Jobs are separated by "Job Id:" lines, not by blank lines: a value that filled its line
// exactly leaves an empty continuation line inside a job (Palmetto fixture). Continuations
// are recognised by their leading TAB, never by column, because the wrap column differs
// between versions (PAL 80, AII 79).
import { jobFromAttributes, splitVariableList, type PbsJob } from './pbs-job.js';

type Style = 'spaces' | 'tab';

const JOB_ID_RE = /^Job Id:[ \t]*(\S.*?)\s*$/;
const ATTR_SPACES_RE = /^ {4}([A-Za-z_][\w.\-]*) =(?: (.*))?$/;
const ATTR_TAB_RE = /^\t([A-Za-z_][\w.\-]*) =(?: (.*))?$/;

/**
 * Parses the attribute lines of one job (everything after its "Job Id:" line) into
 * name → value, joining continuations. Exported for excerpts without a "Job Id:" line.
 */
export function parseAttributeLines(lines: readonly string[]): Record<string, string> {
  const attrs: Record<string, string> = {};
  let style: Style | null = null;
  let key: string | null = null;
  let blanks = 0;
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') {
      blanks++;
      continue;
    }
    if (style === null) style = line.startsWith('\t') ? 'tab' : 'spaces';
    const m = (style === 'tab' ? ATTR_TAB_RE : ATTR_SPACES_RE).exec(line);
    if (m) {
      key = m[1]!;
      attrs[key] = m[2] ?? '';
      blanks = 0;
      continue;
    }
    if (key === null) continue; // junk before the first attribute
    if (style === 'spaces' && line.startsWith('\t')) {
      attrs[key] += line.slice(1);
    } else if (style === 'spaces' && line.startsWith('        ')) {
      attrs[key] += line.slice(8);
    } else {
      // A raw line: the value held a newline (bash functions, sched_hint). Blank lines just
      // before it belong to the value too.
      attrs[key] += '\n'.repeat(blanks + 1) + line;
    }
    blanks = 0;
  }
  return attrs;
}

/** Parses the whole output of `qstat -f [ids…]`: one PbsJob per "Job Id:" block. */
export function parseQstatFull(text: string): PbsJob[] {
  const jobs: PbsJob[] = [];
  let id: string | null = null;
  let wrapper = false;
  let block: string[] = [];
  const flush = (): void => {
    if (id === null) return;
    const attrs = parseAttributeLines(block);
    const vars = attrs.Variable_List === undefined ? {} : splitVariableList(attrs.Variable_List);
    jobs.push(jobFromAttributes(id, attrs, vars, wrapper));
  };
  for (const line of text.split('\n')) {
    const m = JOB_ID_RE.exec(line);
    if (m) {
      flush();
      id = m[1]!;
      // Only Slurm's wrapper prints a TAB here (`printf("Job Id:\t%s\n")`, /usr/bin/qstat).
      wrapper = line.startsWith('Job Id:\t');
      block = [];
    } else if (id !== null) block.push(line);
  }
  flush();
  return jobs;
}
