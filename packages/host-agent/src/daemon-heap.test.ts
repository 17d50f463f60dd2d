import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { tuneHeapForDaemon } from "./daemon-heap.js";
import { NODE_FLAGS } from "./systemd.js";

// The package is built before its tests run (turbo: test depends on build); a child process loads the built module.
const BUILT = new URL("../dist/daemon-heap.js", import.meta.url).href;

describe("tuneHeapForDaemon", () => {
  it("flips no V8 flag at run time: without the daemon's start flags there is no gc to call", () => {
    const heap = tuneHeapForDaemon();
    expect(heap.canCompact).toBe(false);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    heap.compact();
  });

  it("in a process started with NODE_FLAGS: a working full collection and a capped young generation", () => {
    const script = `
      const { getHeapSpaceStatistics } = await import("node:v8");
      const { tuneHeapForDaemon } = await import(${JSON.stringify(BUILT)});
      const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;
      const heap = tuneHeapForDaemon();
      const before = newSpace();
      let kept = [];
      for (let i = 0; i < 400000; i++) {
        kept.push({ i, s: "value " + i });
        if (kept.length > 100000) kept = kept.slice(50000);
      }
      const after = newSpace();
      heap.compact();
      const afterCompact = process.memoryUsage().heapUsed;
      kept = [];
      heap.compact();
      console.log(JSON.stringify({ canCompact: heap.canCompact, before, after, shrunk: process.memoryUsage().heapUsed < afterCompact }));
    `;
    const run = (flags: string[]) => {
      const r = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { canCompact: boolean; before: number; after: number; shrunk: boolean };
    };
    const tuned = run(NODE_FLAGS.split(" "));
    expect(tuned.canCompact).toBe(true);
    // --max-semi-space-size=1: the young generation (two semi-spaces) stays within 2 MiB.
    expect(tuned.after).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(tuned.shrunk).toBe(true);
    // The same work with Node's defaults grows it past that.
    expect(run([]).after).toBeGreaterThan(2 * 1024 * 1024);
  });
});
