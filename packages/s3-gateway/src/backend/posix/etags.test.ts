import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { md5OfFile } from "./etags.js";

const dir = mkdtempSync(join(tmpdir(), "podkit-etags-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("md5OfFile", () => {
  it("hashes every byte whatever size the caller expected (the file may have changed since its stat)", async () => {
    const MiB = 1 << 20;
    const cases: Array<[number, number | undefined]> = [
      [0, 0],
      [1, 1],
      [4097, 4097],
      [MiB, MiB],
      [MiB + 1, MiB + 1],
      [3 * MiB + 7, undefined],
      [2 * MiB, 10], // grew after the stat: still hashed whole
      [10, 2 * MiB], // shrank
    ];
    for (const [i, [size, hint]] of cases.entries()) {
      const bytes = randomBytes(size);
      const path = join(dir, `f${i}`);
      writeFileSync(path, bytes);
      expect(await md5OfFile(path, hint)).toBe(createHash("md5").update(bytes).digest("hex"));
    }
  });

  it("fails for a missing file", async () => {
    await expect(md5OfFile(join(dir, "missing"), 1)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
