import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { takeV8Collector } from "./gc.js";

describe("takeV8Collector", () => {
  it("returns a working gc() and leaves none behind in contexts created later", () => {
    const gc = takeV8Collector();
    expect(typeof gc).toBe("function");
    gc?.({ type: "minor", execution: "sync" });
    gc?.();
    expect(runInNewContext("typeof gc")).toBe("undefined");
  });
});
