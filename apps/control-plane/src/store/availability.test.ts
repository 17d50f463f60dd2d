import { describe, expect, it } from "vitest";
import { Availability, classifyDbError, DatabaseUnavailableError } from "./availability.js";

const err = (code: string | undefined, message = "x") => Object.assign(new Error(message), { code });

describe("classifyDbError", () => {
  it.each([
    [err("ECONNRESET", "read ECONNRESET"), "unavailable"],
    [err("ECONNREFUSED"), "unavailable"],
    [err(undefined, "Connection terminated unexpectedly"), "unavailable"],
    [err(undefined, "timeout exceeded when trying to connect"), "unavailable"],
    [err(undefined, "Query read timeout"), "unavailable"],
    [err("57P01", "terminating connection due to administrator command"), "unavailable"],
    [err("57P03", "the database system is starting up"), "unavailable"],
    [err("57014", "canceling statement due to statement timeout"), "unavailable"],
    [err("08006"), "unavailable"],
    [err("53100", "could not extend file: No space left on device"), "unavailable"],
    [err("53300", "too many connections"), "unavailable"],
    [err("40001"), "retry"],
    [err("40P01"), "retry"],
    [err("SQLITE_BUSY", "database is locked"), "unavailable"],
    [err("SQLITE_BUSY_SNAPSHOT"), "unavailable"],
    [err("SQLITE_FULL", "database or disk is full"), "unavailable"],
    [err("SQLITE_IOERR_WRITE"), "unavailable"],
    [err("SQLITE_CONSTRAINT_PRIMARYKEY"), null],
    [err("23505", "duplicate key"), null],
    [err("42P01", "relation does not exist"), null],
    [new TypeError("cannot read properties of undefined"), null],
    [new Error("wrapped", { cause: err("ECONNRESET") }), "unavailable"],
    [new DatabaseUnavailableError("away"), "unavailable"],
    ["a string", null],
  ])("%s → %s", (e, expected) => {
    expect(classifyDbError(e)).toBe(expected);
  });
});

describe("Availability (the store's circuit breaker)", () => {
  it("opens on an outage, probes, lets work through on trial and closes on the first success", async () => {
    let healthy = false;
    const changes: string[] = [];
    const a = new Availability({
      probe: async () => {
        if (!healthy) throw new Error("still away");
      },
      probeEveryMs: 10,
      onChange: (state) => changes.push(state),
    });
    expect(a.observe(err("23505"))).toBeNull();
    expect(a.state).toBe("up");
    expect(a.observe(err("ECONNREFUSED"))).toBe("unavailable");
    expect(a.state).toBe("down");
    expect(() => a.check()).toThrow(DatabaseUnavailableError);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.state).toBe("down");
    expect(a.snapshot().lastError).toBe("still away");
    healthy = true;
    await new Promise((r) => setTimeout(r, 50));
    expect(a.state).toBe("trial");
    expect(() => a.check()).not.toThrow();
    // Failing again on trial re-opens it without a second "down" notice (a disk that stays full).
    a.observe(err("SQLITE_FULL"));
    expect(a.state).toBe("down");
    await new Promise((r) => setTimeout(r, 50));
    a.succeeded();
    expect(a.state).toBe("up");
    expect(changes).toEqual(["down", "up"]);
    a.close();
  });
});
