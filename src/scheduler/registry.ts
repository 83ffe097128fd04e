// Backend construction (spec/scheduler-plugins.md): built-in backends are imported lazily,
// plugins are JavaScript modules named in an allocation's config.json that export
// `createBackend(options)` returning an object with the Backend interface.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError, QdoError, RepositoryError, SchedulerError } from '../errors.js';
import { importModule } from '../util/import-module.js';
import type { SourceMode } from '../model/config.js';
import type { Runner } from './runner.js';
import { BUILTIN_SCHEDULERS, type Backend, type JobState } from './types.js';

export interface BackendOptions {
  /** Runs scheduler commands (tests pass a fake). */
  runner?: Runner;
  /** The job's own exit record, for ids the scheduler has forgotten. */
  readExitRecord?: (id: string) => Promise<JobState | null>;
  /** Whether an id is an array job (Slurm asks job completion records only about plain jobs). */
  isArrayJob?: (id: string) => boolean;
  /** Slurm accounting and job completion records, PBS history (config.md `slurm`, `pbs`). */
  slurmAccounting?: SourceMode;
  slurmJobcomp?: SourceMode;
  pbsHistory?: SourceMode;
  /** How long one scheduler command may run (config.md `command_timeout`); default the runner's 30 s. */
  timeoutMs?: number;
  /** Local backend: its spool folder and how many CPUs it may use. */
  spoolDir: string;
  cpus: number;
  /** Environment local jobs start with (the submitter's, like Slurm's --export=ALL); Slurm reads $SLURM_CONF from it. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Plugin name → absolute module path, and the check that must pass before a module is
   * imported (core's trust rule, spec/trust.md §Code): a plugin runs as the user, so the
   * caller says whether its files may be trusted; without a check no plugin is loaded.
   */
  plugins?: { modules: Record<string, string>; check(kind: string): Promise<void> };
}

const METHODS = ['render', 'submit', 'query', 'cancel', 'hold', 'release'] as const;

export async function createBackend(kind: string, opts: BackendOptions): Promise<Backend> {
  switch (kind) {
    case 'slurm': {
      const { SlurmBackend } = await import('./slurm/backend.js');
      const { readSlurmLimits } = await import('./slurm/conf.js');
      const limits = await readSlurmLimits(opts.env ?? {});
      return new SlurmBackend({ runner: opts.runner, readExitRecord: opts.readExitRecord, isArrayJob: opts.isArrayJob, accounting: opts.slurmAccounting, jobcomp: opts.slurmJobcomp, timeoutMs: opts.timeoutMs, ...limits });
    }
    case 'pbs': {
      const { PbsProBackend } = await import('./pbs/backend-pbspro.js');
      return new PbsProBackend({ runner: opts.runner, readExitRecord: opts.readExitRecord, history: opts.pbsHistory, timeoutMs: opts.timeoutMs });
    }
    case 'torque': {
      const { TorqueBackend } = await import('./pbs/backend-torque.js');
      return new TorqueBackend({ runner: opts.runner, readExitRecord: opts.readExitRecord, history: opts.pbsHistory, isArrayJob: opts.isArrayJob, slurmAccounting: opts.slurmAccounting, slurmJobcomp: opts.slurmJobcomp, timeoutMs: opts.timeoutMs });
    }
    case 'local': {
      const { LocalBackend } = await import('./local.js');
      return new LocalBackend({ spoolDir: opts.spoolDir, cpus: opts.cpus, env: opts.env, runner: opts.runner });
    }
    default:
      return loadPlugin(kind, opts);
  }
}

async function loadPlugin(kind: string, opts: BackendOptions): Promise<Backend> {
  const modules = opts.plugins?.modules ?? {};
  const file = Object.prototype.hasOwnProperty.call(modules, kind) ? modules[kind] : undefined;
  if (file === undefined) {
    throw new UsageError(`unknown scheduler "${kind}"`, {
      code: 'unknown-scheduler',
      hint: `built-in: ${BUILTIN_SCHEDULERS.join(', ')}${Object.keys(modules).length ? '; plugins: ' + Object.keys(modules).join(', ') : '; plugins are named in .qdo/config.json "plugins"'}`,
    });
  }
  if (!isAbsolute(file)) throw new RepositoryError('bad-plugin', `scheduler plugin "${kind}": ${file} is not an absolute path`);
  // Before the import: importing runs the module's top-level code as the user.
  await opts.plugins!.check(kind);
  let mod: Record<string, unknown>;
  try {
    mod = (await importModule(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new RepositoryError('bad-plugin', `cannot load scheduler plugin "${kind}" from ${file}: ${(e as Error).message}`);
  }
  const factory = (mod.createBackend ?? (mod.default as Record<string, unknown> | undefined)?.createBackend ?? mod.default) as unknown;
  if (typeof factory !== 'function') {
    throw new RepositoryError('bad-plugin', `scheduler plugin ${file} exports no createBackend(options) function`);
  }
  let backend: unknown;
  try {
    backend = await (factory as (o: unknown) => unknown)({ runner: opts.runner, readExitRecord: opts.readExitRecord, kind });
  } catch (e) {
    if (e instanceof QdoError) throw e;
    throw new RepositoryError('bad-plugin', `scheduler plugin "${kind}" (${file}) failed to start: ${(e as Error).message}`);
  }
  const b = backend as Record<string, unknown> | null;
  const missing = METHODS.filter((m) => typeof b?.[m] !== 'function');
  if (!b || missing.length) throw new RepositoryError('bad-plugin', `scheduler plugin "${kind}" (${file}) lacks ${missing.join(', ')}`);
  return wrapPlugin(kind, b as unknown as Backend);
}

/**
 * Checks what a plugin returns, and turns its plain errors into qdo's: a render it refuses
 * is bad input (exit 2, like an inexpressible resource), any other failure a scheduler
 * error (exit 6); neither is reported as a bug in qdo.
 */
function wrapPlugin(kind: string, b: Backend): Backend {
  const own = (e: unknown, what: string): QdoError =>
    e instanceof QdoError
      ? e
      : what === 'render'
        ? new UsageError(`scheduler plugin "${kind}" cannot render this job: ${(e as Error)?.message ?? String(e)}`, { code: 'plugin-refused' })
        : new SchedulerError('plugin-failed', `scheduler plugin "${kind}" failed in ${what}: ${(e as Error)?.message ?? String(e)}`);
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw own(e, what);
    }
  };
  return {
    kind,
    render: (spec) => {
      if (spec.elements !== undefined && typeof b.elementId !== 'function') {
        throw new UsageError(`scheduler plugin "${kind}" cannot pack jobs into an array (it has no elementId)`, {
          code: 'packing-unsupported',
          hint: 'submit one job per element',
        });
      }
      let s: unknown;
      try {
        s = b.render(spec);
      } catch (e) {
        throw own(e, 'render');
      }
      if (typeof s !== 'string') throw new RepositoryError('bad-plugin', `scheduler plugin "${kind}": render() returned ${typeof s}, not a string`);
      return s;
    },
    submit: (path, o) =>
      guard('submit', async () => {
        const id = await b.submit(path, o);
        if (typeof id !== 'string' || id === '' || /\s/.test(id)) throw new RepositoryError('bad-plugin', `scheduler plugin "${kind}": submit() returned ${JSON.stringify(id)}, not a job id`);
        return id;
      }),
    query: (ids) =>
      guard('query', async () => {
        const m = await b.query(ids);
        if (!(m instanceof Map)) throw new RepositoryError('bad-plugin', `scheduler plugin "${kind}": query() must return a Map of id → state`);
        return m;
      }),
    cancel: (ids) => guard('cancel', () => b.cancel(ids)),
    hold: (ids) => guard('hold', () => b.hold(ids)),
    release: (ids) => guard('release', () => b.release(ids)),
    ...(b.findByTag ? { findByTag: (tag: string) => guard('findByTag', () => b.findByTag!(tag)) } : {}),
    // Packed arrays (spec/scheduler-plugins.md): only for a plugin that names its elements.
    ...(typeof b.elementId === 'function'
      ? {
          elementId: (baseId: string, index: number): string => {
            let id: unknown;
            try {
              id = b.elementId!(baseId, index);
            } catch (e) {
              throw own(e, 'elementId');
            }
            if (typeof id !== 'string' || id === '' || /\s/.test(id)) {
              throw new RepositoryError('bad-plugin', `scheduler plugin "${kind}": elementId() returned ${JSON.stringify(id)}, not a job id`);
            }
            return id;
          },
        }
      : {}),
    ...(typeof b.elementId === 'function' && isCount(b.maxArraySize) ? { maxArraySize: b.maxArraySize } : {}),
    ...(isCount(b.maxScriptBytes) ? { maxScriptBytes: b.maxScriptBytes } : {}),
    ...(typeof b.elementDependencies === 'boolean' ? { elementDependencies: b.elementDependencies } : {}),
  };
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}
