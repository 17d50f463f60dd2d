import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

/**
 * Paths that must never reach a log line. Tokens, secrets and passwords are redacted
 * wherever they appear one or two levels deep in a logged object.
 */
export const REDACTED_PATHS = [
  "token",
  "secret",
  "password",
  "secretKey",
  "adminToken",
  "hostToken",
  "authorization",
  "*.token",
  "*.secret",
  "*.password",
  "*.secretKey",
  "*.adminToken",
  "*.hostToken",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
];

export interface CreateLoggerOptions {
  name: string;
  level?: string;
  /** Where log lines go; defaults to stderr so stdout stays clean for `--json` output. */
  destination?: NodeJS.WritableStream;
}

/** One structured (JSON lines) logger per component, with secrets redacted. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    name: options.name,
    level: options.level ?? process.env.PODKIT_LOG_LEVEL ?? "info",
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
  };
  return pino(config, (options.destination ?? process.stderr) as pino.DestinationStream);
}
