import { RetryLaterError } from "../errors.js";

/**
 * What a database error means for the caller:
 * - `unavailable`: the database cannot be reached or cannot write (connection lost or refused,
 *   server shutting down, a timeout, SQLite busy/locked, a full disk). Retry later; the whole
 *   store is treated as away until a probe succeeds.
 * - `retry`: this transaction lost a race (serialization failure, deadlock); try again.
 * - `null`: anything else (a bug, a constraint): not a reason to think the database is away.
 */
export type DbFault = "unavailable" | "retry" | null;

const NODE_NET_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** node-postgres reports a lost or refused connection in words, not codes. */
const PG_CLIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable|Connection ended|database is away/i;

/** Classify an error from pg, better-sqlite3 or the pool around them. Pure, table-tested. */
export function classifyDbError(err: unknown): DbFault {
  if (err instanceof DatabaseUnavailableError) return "unavailable";
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== "object") return null;
  const code = typeof e.code === "string" ? e.code : "";
  if (code.startsWith("SQLITE_")) {
    // SQLITE_BUSY, _LOCKED: another process holds the write lock; _FULL: disk full; _IOERR: the disk failed.
    if (/^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|NOMEM|PROTOCOL)/.test(code)) return "unavailable";
    return null;
  }
  if (NODE_NET_CODES.has(code)) return "unavailable";
  if (/^[0-9A-Z]{5}$/.test(code)) {
    // PostgreSQL SQLSTATEs: 08 connection exception, 53 insufficient resources (disk full, too
    // many connections), 57P0x shutdown / cannot connect now, 57014 statement timeout,
    // 58 system (I/O) error, 25P03 idle-in-transaction timeout; 40001/40P01 lost a race.
    if (code === "40001" || code === "40P01") return "retry";
    if (/^(08|53|58)/.test(code) || /^57P0/.test(code) || code === "57014" || code === "25P03")
      return "unavailable";
    return null;
  }
  if (typeof e.message === "string" && PG_CLIENT_MESSAGES.test(e.message)) return "unavailable";
  if (e.cause && e.cause !== err) return classifyDbError(e.cause);
  return null;
}

/** The store is away: the caller should try again later (an API 503, an agent's retry-later nack). */
export class DatabaseUnavailableError extends RetryLaterError {}

export type AvailabilityState = "up" | "down" | "trial";

export interface AvailabilitySnapshot {
  state: AvailabilityState;
  /** When the store went away (ISO), while it is. */
  since: string | null;
  lastError: string | null;
}

export interface AvailabilityOptions {
  /** A cheap check that the database takes writes again; throws when it does not. */
  probe: () => Promise<void>;
  probeEveryMs?: number;
  onChange?: (state: AvailabilityState, snapshot: AvailabilitySnapshot, err: unknown) => void;
  clock?: () => number;
}

/**
 * A circuit breaker around the store. A query failing because the database is away opens it
 * (`down`): callers are answered "retry later" at once instead of each waiting for its own
 * timeout, and a probe runs every second. A passing probe lets work through again (`trial`);
 * the first committed write closes it (`up`), a failure opens it again without a new log line,
 * so a disk that stays full does not flap the log.
 */
export class Availability {
  private current: AvailabilityState = "up";
  private since: number | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private probing = false;
  private closed = false;

  constructor(private readonly options: AvailabilityOptions) {}

  get state(): AvailabilityState {
    return this.current;
  }

  snapshot(): AvailabilitySnapshot {
    return {
      state: this.current,
      since: this.since === null ? null : new Date(this.since).toISOString(),
      lastError: this.lastError,
    };
  }

  /** Throw a retry-later error while the store is known to be away. */
  check(): void {
    if (this.current === "down")
      throw new DatabaseUnavailableError(
        `the database is unavailable (since ${this.snapshot().since}): ${this.lastError ?? "unknown error"}; try again shortly`,
      );
  }

  /** Tell the breaker how an operation ended; returns the error's classification. */
  observe(err: unknown): DbFault {
    const fault = classifyDbError(err);
    if (fault === "unavailable") this.open(err);
    return fault;
  }

  /** A write committed: the store is up. */
  succeeded(): void {
    if (this.current === "up") return;
    const was = this.snapshot();
    this.current = "up";
    this.since = null;
    this.lastError = null;
    this.stopProbing();
    this.options.onChange?.("up", was, null);
  }

  close(): void {
    this.closed = true;
    this.stopProbing();
  }

  private open(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = message;
    if (this.current === "down") return;
    const fromUp = this.current === "up";
    this.current = "down";
    if (fromUp) {
      this.since = (this.options.clock ?? Date.now)();
      this.options.onChange?.("down", this.snapshot(), err);
    }
    this.startProbing();
  }

  private startProbing(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.probe(), this.options.probeEveryMs ?? 1000);
    this.timer.unref();
  }

  private stopProbing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async probe(): Promise<void> {
    if (this.probing || this.current !== "down") return;
    this.probing = true;
    try {
      await this.options.probe();
      if (this.current === "down") {
        this.current = "trial";
        this.stopProbing();
      }
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    } finally {
      this.probing = false;
    }
  }
}
