import { describe, expect, it } from "vitest";
import { IdleHeapTrim } from "./idle-heap-trim.js";

/** Longer than the quiet time the tests give (1 ms). */
const tick = () => new Promise((r) => setTimeout(r, 10));

/** One request from start to end, then the turn of the event loop in which a collection may run. */
async function oneRequest(trim: IdleHeapTrim): Promise<void> {
  trim.requestStarted();
  trim.requestEnded();
  await tick();
}

describe("IdleHeapTrim", () => {
  it("collects only when the last request ends, the heap grew enough, and not twice within the interval", async () => {
    let used = 10;
    const runs: number[] = [];
    const trim = new IdleHeapTrim(
      () => {
        runs.push(used);
        used = 12; // what survives the collection
      },
      16,
      50,
      () => used,
      1,
    );
    trim.requestStarted();
    trim.requestStarted();
    used = 40;
    trim.requestEnded(); // one still in flight
    await tick();
    expect(runs).toEqual([]);
    trim.requestEnded();
    await tick();
    expect(runs).toEqual([40]);
    // Grew again, but within the interval: left alone.
    used = 60;
    await oneRequest(trim);
    expect(runs).toEqual([40]);
    await new Promise((r) => setTimeout(r, 60));
    // Not enough growth over what survived (12 + 16).
    used = 20;
    await oneRequest(trim);
    expect(runs).toEqual([40]);
    used = 30;
    await oneRequest(trim);
    expect(runs).toEqual([40, 30]);
  });

  it("does nothing without a collector", async () => {
    const trim = new IdleHeapTrim(null, 0, 0, () => 1e9, 1);
    await oneRequest(trim);
    expect(trim.collections).toBe(0);
  });

  it("skips a collection when a request arrived before it could run", async () => {
    let runs = 0;
    const trim = new IdleHeapTrim(
      () => runs++,
      0,
      0,
      () => 1e9,
      1,
    );
    trim.requestStarted();
    trim.requestEnded();
    trim.requestStarted(); // before the scheduled check
    await tick();
    expect(runs).toBe(0);
    trim.requestEnded();
    await tick();
    expect(runs).toBe(1);
  });

  it("waits until no request has come for the quiet time: steady load between requests is not idle", async () => {
    let runs = 0;
    const trim = new IdleHeapTrim(
      () => runs++,
      0,
      0,
      () => 1e9,
      40,
    );
    // Requests every 10 ms: the count in flight touches zero after each, yet the gateway is busy.
    for (let i = 0; i < 8; i++) {
      trim.requestStarted();
      trim.requestEnded();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(runs).toBe(0);
    await new Promise((r) => setTimeout(r, 120));
    expect(runs).toBe(1);
  });
});
