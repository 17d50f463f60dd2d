import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { lendSlab, releaseSlab, SLAB_BYTES, Slab } from "./body-slabs.js";
import { OFFLOAD_MIN_BYTES } from "./md5-offload.js";
import { PayloadVerifier } from "./payload.js";

describe("body slabs", () => {
  it("go back to the pool only when the last reader lets go", () => {
    const first = new Slab();
    first.fill(Buffer.from("first"), 0);
    first.hold(); // a second reader, e.g. the MD5 thread
    first.release();
    // Still read by one: a new slab must not get its memory.
    const meanwhile = new Slab();
    expect(meanwhile.memory).not.toBe(first.memory);
    first.release();
    const next = new Slab();
    expect(next.memory).toBe(first.memory);
    meanwhile.release();
    next.release();
  });

  it("refuse a release without a hold, and a hold after the last release", () => {
    const slab = new Slab();
    slab.release();
    expect(() => slab.release()).toThrow(/released more often than it was held/);
    expect(() => slab.hold()).toThrow(/held after its last release/);
    new Slab().release(); // take the pooled memory back out of the way of later tests
  });

  it("lend a Buffer of the filled bytes that is given back once, whoever gives it back twice", () => {
    const slab = new Slab();
    const data = randomBytes(1000);
    expect(slab.fill(data, 0)).toBe(1000);
    const lent = lendSlab(slab);
    expect(lent.equals(data)).toBe(true);
    slab.release();
    releaseSlab(lent);
    releaseSlab(lent); // a second release of the same Buffer is ignored, not a second reader gone
    releaseSlab(Buffer.from("not a slab"));
    const reused = new Slab();
    expect(reused.memory).toBe(slab.memory);
    reused.release();
  });

  it("fill a slab up to 1 MiB and take the rest of a chunk into the next", () => {
    const slab = new Slab();
    const chunk = randomBytes(SLAB_BYTES + 10);
    expect(slab.fill(chunk, 0)).toBe(SLAB_BYTES);
    expect(slab.full).toBe(true);
    const next = new Slab();
    expect(next.fill(chunk, SLAB_BYTES)).toBe(10);
    slab.release();
    next.release();
  });
});

/**
 * A big body through the verifier, read as the file writer reads it (`data` events: each slab
 * arrives as the Buffer it was lent as), by a slow writer that gives each slab back only after
 * its "write".
 */
async function throughVerifier(data: Buffer, chunkBytes: number, writeMs: number) {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkBytes) chunks.push(data.subarray(at, at + chunkBytes));
  const verifier = new PayloadVerifier({ size: data.length });
  Readable.from(chunks).pipe(verifier);
  const written: Buffer[] = [];
  let writes = Promise.resolve();
  await new Promise<void>((resolve, reject) => {
    verifier.on("data", (piece: Buffer) => {
      verifier.pause();
      writes = writes.then(async () => {
        await sleep(writeMs); // the disk write, during which the slab must stay untouched
        written.push(Buffer.from(piece)); // a copy: what reached the "file"
        releaseSlab(piece);
        verifier.resume();
      });
    });
    verifier.on("end", () => void writes.then(resolve));
    verifier.on("error", reject);
  });
  return {
    written: Buffer.concat(written),
    sizes: written.map((w) => w.length),
    md5: verifier.digest.md5Hex,
  };
}

describe("a big body through the payload verifier", () => {
  it("reaches the writer and the MD5 intact while slabs are reused by two uploads at once", async () => {
    const a = randomBytes(OFFLOAD_MIN_BYTES + 3 * SLAB_BYTES + 12_345);
    const b = randomBytes(OFFLOAD_MIN_BYTES + 777);
    const [ra, rb] = await Promise.all([throughVerifier(a, 65_536, 2), throughVerifier(b, 100_003, 1)]);
    expect(ra.written.equals(a)).toBe(true);
    expect(rb.written.equals(b)).toBe(true);
    expect(ra.md5).toBe(createHash("md5").update(a).digest("hex"));
    expect(rb.md5).toBe(createHash("md5").update(b).digest("hex"));
  });

  it("uses ordinary memory when every shared slab is taken, and still hashes and writes it intact", async () => {
    const taken: Slab[] = [];
    for (let i = 0; i < 64 && (taken.length === 0 || taken[taken.length - 1]!.shared); i++)
      taken.push(new Slab());
    expect(taken.filter((slab) => slab.shared).length).toBe(8);
    expect(taken[taken.length - 1]!.shared).toBe(false);
    const data = randomBytes(OFFLOAD_MIN_BYTES + 3 * SLAB_BYTES + 1);
    const result = await throughVerifier(data, 65_536, 1);
    for (const slab of taken) slab.release();
    expect(result.written.equals(data)).toBe(true);
    expect(result.md5).toBe(createHash("md5").update(data).digest("hex"));
    // The shared ones went back to the pool: the next slab is one of them again.
    const again = new Slab();
    expect(again.shared).toBe(true);
    again.release();
  });

  it("hands the writer whole 1 MiB slabs, and the rest at the end", async () => {
    const data = randomBytes(OFFLOAD_MIN_BYTES + 5);
    const { sizes } = await throughVerifier(data, 70_000, 0);
    expect(sizes).toEqual([...Array<number>(OFFLOAD_MIN_BYTES / SLAB_BYTES).fill(SLAB_BYTES), 5]);
  });
});
