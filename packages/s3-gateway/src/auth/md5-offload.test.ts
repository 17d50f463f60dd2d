import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Slab } from "./body-slabs.js";
import { OffloadedMd5 } from "./md5-offload.js";

/** Feed `data` in chunks of `size` bytes through slabs, honouring back-pressure as the verifier does. */
async function offloaded(data: Buffer, size: number): Promise<string> {
  const md5 = new OffloadedMd5();
  let slab = new Slab();
  const post = async () => {
    const wait = md5.hash(slab);
    slab.release();
    slab = new Slab();
    await wait;
  };
  for (let off = 0; off < data.length; off += size) {
    const chunk = data.subarray(off, off + size);
    for (let at = 0; at < chunk.length; ) {
      at += slab.fill(chunk, at);
      if (slab.full) await post();
    }
  }
  await post();
  slab.release();
  return (await md5.digest()).toString("hex");
}

describe("MD5 on the worker thread", () => {
  const data = randomBytes(9 * 1024 * 1024 + 123);
  const expected = createHash("md5").update(data).digest("hex");
  it.each([
    ["64 KiB socket chunks", 64 * 1024],
    ["odd chunks straddling the 1 MiB slabs", 100_003],
    ["chunks bigger than a slab", 3 * 1024 * 1024 + 7],
  ])("matches node:crypto with %s", async (_name, size) => {
    expect(await offloaded(data, size)).toBe(expected);
  });

  it("hashes several uploads at once without mixing them", async () => {
    const other = randomBytes(5 * 1024 * 1024);
    const [a, b] = await Promise.all([offloaded(data, 65536), offloaded(other, 65536)]);
    expect(a).toBe(expected);
    expect(b).toBe(createHash("md5").update(other).digest("hex"));
  });

  it("hashes an empty body", async () => {
    expect((await new OffloadedMd5().digest()).toString("hex")).toBe(createHash("md5").digest("hex"));
  });
});
