import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ListEntry } from "../types.js";
import { startDirectory, walkKeys } from "./walker.js";

const root = mkdtempSync(join(tmpdir(), "podkit-walker-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function keys(prefix: string, after: string, delimiter = ""): Promise<string[]> {
  const out: string[] = [];
  const ctx = { bucketDir: root, isMarked: async () => false };
  for await (const e of walkKeys(ctx, { prefix, after, delimiter }) as AsyncIterable<ListEntry>) {
    out.push(e.kind === "object" ? e.key : `PRE ${e.prefix}`);
  }
  return out;
}

describe("walkKeys", () => {
  it.each([
    ["", ""],
    ["a", ""],
    ["a/", "a/"],
    ["a/b/c", "a/b/"],
    ["../x", undefined],
    ["a//b", undefined],
    [".s3compat_uploads/", undefined],
  ])("starts prefix %j in directory %j", (prefix, dir) => {
    expect(startDirectory(prefix)).toBe(dir);
  });

  it("resumes inside a subtree and skips subtrees before the marker", async () => {
    for (const f of ["a/x/1", "a/x/2", "a/y/1", "a-z", "b"]) {
      mkdirSync(join(root, f, ".."), { recursive: true });
      writeFileSync(join(root, f), "");
    }
    expect(await keys("", "")).toEqual(["a-z", "a/x/1", "a/x/2", "a/y/1", "b"]);
    expect(await keys("", "a/x/1")).toEqual(["a/x/2", "a/y/1", "b"]);
    expect(await keys("", "a/x/2")).toEqual(["a/y/1", "b"]);
    expect(await keys("a/", "", "/")).toEqual(["PRE a/x/", "PRE a/y/"]);
    expect(await keys("a/", "a/x/", "/")).toEqual(["PRE a/y/"]);
  });

  it("keeps big quiet directories sorted in a cache that a change invalidates", async () => {
    const big = join(root, "big");
    mkdirSync(big);
    for (let i = 0; i < 2500; i++) writeFileSync(join(big, `k${String(i).padStart(4, "0")}`), "");
    const past = new Date(Date.now() - 60_000);
    utimesSync(big, past, past);
    const first = await keys("big/", "big/k1000");
    expect(first.length).toBe(1499);
    expect((await keys("big/", "big/k1000")).length).toBe(1499); // served from the cache
    writeFileSync(join(big, "k9999-new"), "");
    const after = await keys("big/", "big/k2498");
    expect(after).toEqual(["big/k2499", "big/k9999-new"]);
  });
});
