import { getHeapSpaceStatistics } from "node:v8";
import { describe, expect, it } from "vitest";
import { tuneHeapForDaemon } from "./daemon-heap.js";

describe("tuneHeapForDaemon (this test file runs in a process of its own)", () => {
  it("gives a working full collection and keeps the young generation from growing", () => {
    const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!.space_size;
    const heap = tuneHeapForDaemon();
    expect(heap.canCompact).toBe(true);
    // The main context's globals are untouched: no `gc` leaks into application code.
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    const before = newSpace();
    // Objects that survive scavenges (what grows the young generation in a long-running agent).
    let kept: Array<{ i: number; s: string }> = [];
    for (let i = 0; i < 400_000; i++) {
      kept.push({ i, s: `value ${i}` });
      if (kept.length > 100_000) kept = kept.slice(50_000);
    }
    expect(newSpace()).toBe(before);
    heap.compact();
    const afterCompact = process.memoryUsage().heapUsed;
    kept = [];
    heap.compact();
    expect(process.memoryUsage().heapUsed).toBeLessThan(afterCompact);
  });
});
