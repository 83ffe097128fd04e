// Job-name templates such as "train-lr{{lr}}-bs{{bs}}" (sweeps name each job from its
// parameters; spec/templates.md §Name templates): rendered as strictly as scripts, and the
// result must be a valid job name (spec/layout.md §Names).
import { UsageError } from '../errors.js';
import { checkLeafName } from '../model/names.js';
import { runTemplate, type RenderOptions } from './engine.js';

/** `field` names the option or setting the template came from, for messages. */
export async function renderNameTemplate(template: string, vars: Record<string, string>, field: string, opts: RenderOptions = {}): Promise<string> {
  // No includes in a name: whatever roots the caller passed, none are searched.
  const name = await runTemplate({ text: template, name: field }, vars, { ...opts, searchPaths: [] });
  try {
    return checkLeafName(name, 'job name');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const why = [`invalid job name "${name}": `, 'invalid job name: '].reduce((m, p) => (m.startsWith(p) ? m.slice(p.length) : m), e.message);
    throw new UsageError(`${field}: template ${JSON.stringify(template)} gives ${JSON.stringify(name)}, not a valid job name: ${why}`, {
      code: 'bad-name',
      hint: e.hint,
      data: { template, result: name },
    });
  }
}
