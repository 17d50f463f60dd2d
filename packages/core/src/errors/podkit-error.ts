import { type ErrorCode, exitCodeOf, httpStatusOf, type PassthroughCode } from "./catalogue.js";

interface ErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** Codes that carry another program's exit status take it as `exitCode`; every other code's comes from the catalogue. */
export type PodkitErrorOptions<C extends ErrorCode> = C extends PassthroughCode
  ? ErrorOptions & { exitCode?: number }
  : ErrorOptions & {
      /** @deprecated Transitional while throw sites move to the catalogue; the catalogue's status wins from here on. */
      exitCode?: number;
    };

/**
 * Errors a user can meet. Every error has a stable `code` from the catalogue that scripts can
 * rely on, and a message that says what happened and what to do about it; the exit status and
 * HTTP status follow from the code.
 */
export class PodkitError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  /** Process exit code the CLI uses when this error ends a command. */
  readonly exitCode: number;
  readonly details?: Record<string, unknown>;

  constructor(code: C, message: string, options: PodkitErrorOptions<C> = {} as PodkitErrorOptions<C>) {
    const { cause, details } = options as ErrorOptions;
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    const passed = (options as { exitCode?: number }).exitCode;
    this.exitCode = passed ?? exitCodeOf(code);
    if (details) this.details = details;
  }

  /** The HTTP status the control plane's API answers this error with. */
  get httpStatus(): number {
    return httpStatusOf(this.code);
  }

  toJSON(): { code: C; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Input that does not match a schema: a config file, a flag, a message on the wire. */
export class ValidationError extends PodkitError<"E_INVALID_INPUT"> {
  readonly issues: ReadonlyArray<{ path: string; message: string }>;
  constructor(what: string, issues: ReadonlyArray<{ path: string; message: string }>) {
    const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    super("E_INVALID_INPUT", `invalid ${what}: ${lines.join("; ")}`, { details: { issues } });
    this.issues = issues;
  }
}

export class ConfigError extends PodkitError<"E_CONFIG"> {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("E_CONFIG", message, options);
  }
}

export class NotFoundError extends PodkitError<"E_NOT_FOUND"> {
  constructor(message: string, details?: Record<string, unknown>) {
    super("E_NOT_FOUND", message, details ? { details } : {});
  }
}

export class AuthError extends PodkitError<"E_AUTH"> {
  constructor(message: string) {
    super("E_AUTH", message);
  }
}

export class ConflictError extends PodkitError<"E_CONFLICT"> {
  constructor(message: string, details?: Record<string, unknown>) {
    super("E_CONFLICT", message, details ? { details } : {});
  }
}

export class UnavailableError extends PodkitError<"E_UNAVAILABLE"> {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("E_UNAVAILABLE", message, options);
  }
}

export function isPodkitError(err: unknown): err is PodkitError {
  return err instanceof PodkitError;
}
