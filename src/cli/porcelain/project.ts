import type { CommandDef } from '../command.js';
import { bool, json, str } from '../command.js';
import { tableText } from '../table-out.js';
import { UsageError } from '../../errors.js';

export const projectCommand: CommandDef = {
  command: 'project <action> [name]',
  describe: 'Add or list projects (project add NAME, project list)',
  builder: (y) =>
    y
      .positional('action', { choices: ['add', 'list'] })
      .positional('name', { type: 'string', describe: 'project name, e.g. paper/run' })
      .option('alloc', { type: 'string', describe: 'allocation to add the project to (default: the one around the current folder)' })
      .option('json', { type: 'boolean', describe: 'machine-readable output' }),
  async run(args, { ctx, io }) {
    const { addProject, listProjects } = await import('../../core/projects.js');
    if (args.action === 'add') {
      const name = str(args, 'name');
      if (name === undefined) throw new UsageError('project add needs a NAME');
      const r = await addProject(ctx, name, str(args, 'alloc'));
      for (const w of r.warnings) io.stderr(`qdo: warning: ${w}\n`);
      if (bool(args, 'json')) io.stdout(json({ version: 1, project: r.project, allocation: r.alloc, path: r.dir, created: r.created }));
      else io.stdout(r.created ? `added project ${r.project} in ${r.alloc} (${r.dir})\n` : `project ${r.project} already exists in ${r.alloc}\n`);
      return;
    }
    if (str(args, 'name') !== undefined) throw new UsageError('project list takes no NAME');
    const { projects, unreachable } = await listProjects(ctx);
    const { unreachableWarning } = await import('../../core/world.js');
    for (const a of unreachable) io.stderr(unreachableWarning(a, 'its projects are not listed'));
    if (bool(args, 'json')) {
      io.stdout(json({ version: 1, projects: projects.map((p) => ({ name: p.project, allocation: p.alloc, path: p.dir })) }));
      return;
    }
    io.stdout(tableText(io, ['PROJECT', 'ALLOCATION'], projects.map((p) => [p.project, p.alloc]), { shrink: [1, 0] }));
  },
};
