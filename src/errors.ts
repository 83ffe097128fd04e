// Typed errors with stable codes and exit codes (spec/exit-codes.md).
// A QdoError is a user-facing condition: it is printed as one message (plus an optional
// hint) and never with a stack. Anything else that escapes is a bug (exit 70).

export const ExitCode = {
  ok: 0,
  negative: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  busy: 5,
  scheduler: 6,
  repository: 7,
  /** `qdo wait`: a job was lost (spec/submissions.md §Lost). */
  lost: 8,
  /** `qdo wait`: a job can never start (a dependency that can never be satisfied). */
  neverStarts: 9,
  internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorOptions {
  hint?: string;
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class QdoError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;
  constructor(code: string, exitCode: ExitCodeValue, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'QdoError';
    this.code = code;
    this.exitCode = exitCode;
    this.hint = opts.hint;
    this.data = opts.data ?? {};
  }
}

/** Bad input: a name, a flag, a value (exit 2). */
export class UsageError extends QdoError {
  constructor(message: string, opts: ErrorOptions & { code?: string } = {}) {
    super(opts.code ?? 'usage', ExitCode.usage, message, opts);
  }
}

/** Something named does not exist (exit 3). */
export class NotFoundError extends QdoError {
  constructor(code: string, message: string, opts: ErrorOptions = {}) {
    super(code, ExitCode.notFound, message, opts);
  }
}

/** Compare-and-swap lost, name already taken (exit 4). */
export class ConflictError extends QdoError {
  constructor(code: string, message: string, opts: ErrorOptions = {}) {
    super(code, ExitCode.conflict, message, opts);
  }
}

/** A lock could not be had in time (exit 5). */
export class BusyError extends QdoError {
  constructor(code: string, message: string, opts: ErrorOptions = {}) {
    super(code, ExitCode.busy, message, opts);
  }
}

/** A scheduler command failed, hung, or answered garbage (exit 6). */
export class SchedulerError extends QdoError {
  constructor(code: string, message: string, opts: ErrorOptions = {}) {
    super(code, ExitCode.scheduler, message, opts);
  }
}

/** The .qdo tree is missing, foreign, newer, or damaged (exit 7). */
export class RepositoryError extends QdoError {
  constructor(code: string, message: string, opts: ErrorOptions = {}) {
    super(code, ExitCode.repository, message, opts);
  }
}

export function isQdoError(e: unknown): e is QdoError {
  return e instanceof QdoError;
}

/** Node's fs error code, if any. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}
