import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findOnPath } from "./path.js";

describe("findOnPath", () => {
  const dir = mkdtempSync(join(tmpdir(), "podkit-path-"));
  const [a, b] = [join(dir, "a"), join(dir, "b")];
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the first executable of that name, skipping files that cannot run", () => {
    for (const d of [a, b]) {
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d);
    }
    writeFileSync(join(a, "tool"), "#!/bin/sh\n");
    chmodSync(join(a, "tool"), 0o644);
    writeFileSync(join(b, "tool"), "#!/bin/sh\n");
    chmodSync(join(b, "tool"), 0o755);
    expect(findOnPath("tool", ["", a, b].join(delimiter))).toBe(join(b, "tool"));
    expect(findOnPath("missing", [a, b].join(delimiter))).toBeNull();
    expect(findOnPath("tool", undefined)).toBeNull();
  });
});
