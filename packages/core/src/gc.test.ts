import { spawnSync } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ChunkGarbage, takeV8Collector } from "./gc.js";

/** takeV8Collector() in a fresh node started with `flags`; prints what it saw. */
function inFreshNode(flags: string[]): { collector: string; laterContext: string } {
  const gcModule = new URL("../dist/gc.js", import.meta.url).href;
  const script = `
    const { takeV8Collector } = await import(${JSON.stringify(gcModule)});
    const { runInNewContext } = await import("node:vm");
    const gc = takeV8Collector();
    if (gc) gc({ type: "minor", execution: "sync" });
    console.log(JSON.stringify({ collector: typeof gc, laterContext: runInNewContext("typeof gc") }));`;
  const r = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe("takeV8Collector", () => {
  it("returns the gc() of a process started with --expose-gc", () => {
    expect(inFreshNode(["--expose-gc"]).collector).toBe("function");
  });

  it("changes no V8 flag at run time: without --expose-gc at start it returns null", () => {
    expect(inFreshNode([])).toEqual({ collector: "object", laterContext: "undefined" });
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
    // The test workers start with --expose-gc (vitest.config.ts), as the podkit launcher does.
    expect(takeV8Collector()).not.toBeNull();
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
});
