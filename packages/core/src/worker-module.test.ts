import { describe, expect, it } from "vitest";
import { workerModuleUrl } from "./worker-module.js";

describe("workerModuleUrl", () => {
  it("finds a compiled worker beside its compiled caller", () => {
    expect(workerModuleUrl("./md5-worker.js", "file:///opt/p/dist/auth/md5-offload.js").href).toBe(
      "file:///opt/p/dist/auth/md5-worker.js",
    );
  });

  it("maps a TypeScript caller under src/ to the compiled worker under dist/", () => {
    expect(workerModuleUrl("./md5-worker.js", "file:///opt/p/src/auth/md5-offload.ts").href).toBe(
      "file:///opt/p/dist/auth/md5-worker.js",
    );
  });

  it("refuses a TypeScript caller outside src/", () => {
    expect(() => workerModuleUrl("./w.js", "file:///opt/p/lib/x.ts")).toThrow(/under src\//);
  });
});
