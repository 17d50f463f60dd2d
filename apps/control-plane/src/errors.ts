import { type NackCode, PodkitError } from "@podkit/core";
import type { FastifyReply } from "fastify";

/**
 * The API's answer to an error: the HTTP status the catalogue gives its code (or `status`, where the
 * framework already chose one) and the body `{"error": {"code", "message", "details"?}}`.
 */
export function sendError(reply: FastifyReply, err: PodkitError, status = err.httpStatus): FastifyReply {
  return reply.code(status).send({ error: err.toJSON() });
}

/** A request the platform's rules refuse (too little notice, a rented machine…); `rule` names which. */
export class RuleViolation extends PodkitError<"E_CONFLICT" | "E_RULE"> {
  readonly rule: string;
  constructor(rule: string, message: string, options: { conflict?: boolean } = {}) {
    super(options.conflict ? "E_CONFLICT" : "E_RULE", message, { details: { rule } });
    this.rule = rule;
  }
}

/**
 * Work the control plane cannot do now but will later (its database away, overloaded, shutting
 * down): an API 503 with `Retry-After`, a `retry-later` nack to an agent (which keeps the message).
 */
export class RetryLaterError extends PodkitError<"E_UNAVAILABLE"> {
  readonly nackCode: NackCode;
  readonly retryAfterMs: number;
  constructor(
    message: string,
    options: { cause?: unknown; nackCode?: NackCode; retryAfterMs?: number } = {},
  ) {
    super("E_UNAVAILABLE", message, { cause: options.cause });
    this.nackCode = options.nackCode ?? "STORAGE_UNAVAILABLE";
    this.retryAfterMs = options.retryAfterMs ?? 2000;
  }
}
