import { createCipheriv, randomBytes } from "node:crypto";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { ChunkGarbage, takeV8Collector } from "./gc.js";

describe("takeV8Collector", () => {
  it("returns a working gc() and leaves none behind in contexts created later", () => {
    const gc = takeV8Collector();
    expect(typeof gc).toBe("function");
    gc?.({ type: "minor", execution: "sync" });
    gc?.();
    expect(runInNewContext("typeof gc")).toBe("undefined");
  });
});

describe("ChunkGarbage", () => {
  it("collects after every `everyBytes` of dropped chunks, not before", () => {
    const pacer = new ChunkGarbage(100);
    expect([60, 39, 1, 99, 5, 100].map((n) => pacer.dropped(n))).toEqual([
      false,
      false,
      true,
      false,
      true,
      true,
    ]);
  });

  it("keeps the cipher's per-chunk output garbage to a few MiB (V8 alone lets 32 MiB pile up)", () => {
    const pacer = new ChunkGarbage(4 * 1024 * 1024);
    const key = randomBytes(32);
    const chunk = randomBytes(32 * 1024);
    let peak = 0;
    for (let i = 0; i < 2048; i++) {
      // 64 MiB of sealed chunks, each a fresh Buffer outside the JS heap, as in a transfer.
      createCipheriv("aes-256-gcm", key, randomBytes(12)).update(chunk);
      pacer.dropped(chunk.length);
      if (i % 16 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    expect(peak).toBeLessThan(16 * 1024 * 1024);
  });

  it("leaves no gc() behind in contexts the host application creates later", () => {
    new ChunkGarbage(1).dropped(1);
    expect(runInNewContext("typeof gc")).toBe("undefined");
  });
});
