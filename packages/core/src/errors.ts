/**
 * Errors a user can meet. Every error has a stable `code` that scripts can rely on
 * and a message that says what happened and what to do about it.
 */
export class PodkitError extends Error {
  readonly code: string;
  /** Process exit code the CLI uses when this error ends a command. */
  readonly exitCode: number;
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    options: { exitCode?: number; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    if (options.details) this.details = options.details;
  }

  toJSON(): { code: string; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Input that does not match a schema: a config file, a flag, a message on the wire. */
export class ValidationError extends PodkitError {
  readonly issues: ReadonlyArray<{ path: string; message: string }>;
  constructor(what: string, issues: ReadonlyArray<{ path: string; message: string }>) {
    const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    super("E_INVALID_INPUT", `invalid ${what}: ${lines.join("; ")}`, { exitCode: 2, details: { issues } });
    this.issues = issues;
  }
}

export class ConfigError extends PodkitError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("E_CONFIG", message, { exitCode: 2, ...options });
  }
}

export class NotFoundError extends PodkitError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("E_NOT_FOUND", message, { exitCode: 4, ...(details ? { details } : {}) });
  }
}

export class AuthError extends PodkitError {
  constructor(message: string) {
    super("E_AUTH", message, { exitCode: 5 });
  }
}

export class ConflictError extends PodkitError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("E_CONFLICT", message, { exitCode: 6, ...(details ? { details } : {}) });
  }
}

export class UnavailableError extends PodkitError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("E_UNAVAILABLE", message, { exitCode: 7, ...options });
  }
}

/**
 * Exit codes shared by every `podkit` command; their meanings are listed once, in the CLI's `--help`
 * (apps/cli/src/help.ts).
 */
export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 4,
  auth: 5,
  conflict: 6,
  unavailable: 7,
  /** `cluster run` / `torchrun` passed its deadline (as coreutils' `timeout`). */
  timeout: 124,
  interrupted: 130,
  /** `cluster run` / `torchrun` lost a node's SSH connection mid-command (as OpenSSH). */
  connectionLost: 255,
} as const;

export function isPodkitError(err: unknown): err is PodkitError {
  return err instanceof PodkitError;
}
