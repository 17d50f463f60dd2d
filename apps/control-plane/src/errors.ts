import { type NackCode, PodkitError } from "@podkit/core";

/** A request the platform's rules refuse (too little notice, a rented machine…); `rule` names which. */
export class RuleViolation extends PodkitError {
  readonly rule: string;
  constructor(rule: string, message: string, options: { conflict?: boolean } = {}) {
    super(options.conflict ? "E_CONFLICT" : "E_RULE", message, {
      exitCode: options.conflict ? 6 : 2,
      details: { rule },
    });
    this.rule = rule;
  }
}

/** HTTP status for each stable error code; the CLI maps statuses back to exit codes. */
export const HTTP_STATUS_BY_CODE: Record<string, number> = {
  E_INVALID_INPUT: 400,
  E_CONFIG: 400,
  E_RULE: 422,
  E_AUTH: 401,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_UNAVAILABLE: 503,
};

/**
 * Work the control plane cannot do now but will later (its database away, overloaded, shutting
 * down): an API 503 with `Retry-After`, a `retry-later` nack to an agent (which keeps the message).
 */
export class RetryLaterError extends PodkitError {
  readonly nackCode: NackCode;
  readonly retryAfterMs: number;
  constructor(
    message: string,
    options: { cause?: unknown; nackCode?: NackCode; retryAfterMs?: number } = {},
  ) {
    super("E_UNAVAILABLE", message, { exitCode: 7, cause: options.cause });
    this.nackCode = options.nackCode ?? "STORAGE_UNAVAILABLE";
    this.retryAfterMs = options.retryAfterMs ?? 2000;
  }
}
