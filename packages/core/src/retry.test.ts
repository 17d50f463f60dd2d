import { describe, expect, it } from "vitest";
import { Backoff, sleep } from "./retry.js";

describe("Backoff", () => {
  it("doubles from the base up to the cap, jittered over the upper half, and starts again after reset", () => {
    const top = new Backoff(500, 4000, () => 1);
    expect([1, 2, 3, 4, 5].map(() => top.next())).toEqual([500, 1000, 2000, 4000, 4000]);
    const bottom = new Backoff(500, 4000, () => 0);
    expect([1, 2, 3].map(() => bottom.next())).toEqual([250, 500, 1000]);
    top.reset();
    expect(top.next()).toBe(500);
  });
});

describe("sleep", () => {
  it("ends early when its signal aborts", async () => {
    const ac = new AbortController();
    const started = Date.now();
    const waiting = sleep(60_000, ac.signal);
    ac.abort();
    await waiting;
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
