import { open } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { FileSink } from "./sink.js";

const MiB = 1024 * 1024;

/** Writes `size` bytes through a sink in 4 MiB chunks. */
async function fill(sink: FileSink, size: number): Promise<void> {
  const chunk = Buffer.alloc(4 * MiB, 7);
  for (let offset = 0; offset < size; offset += chunk.length) await sink.write(offset, [chunk]);
}

describe("file sink", () => {
  it("flushes to disk as it goes, and a flush that fails fails the file", async () => {
    // /dev/null takes positional writes but refuses fdatasync: the background flush fails.
    const handle = await open("/dev/null", "w");
    try {
      const sink = new FileSink(handle, 128 * MiB, null, () => {});
      await fill(sink, 128 * MiB);
      await sink.done;
      await expect(sink.settle()).rejects.toThrow(/EINVAL/);
    } finally {
      await handle.close();
    }
  });

  it("a small file needs no background flush", async () => {
    const handle = await open("/dev/null", "w");
    try {
      const sink = new FileSink(handle, 8 * MiB, null, () => {});
      await fill(sink, 8 * MiB);
      await sink.done;
      await expect(sink.settle()).resolves.toBeUndefined();
    } finally {
      await handle.close();
    }
  });
});
