import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { descriptorsUnder } from "../../testing/descriptors.js";
import { OpenFile } from "./open-file.js";

const dir = mkdtempSync(join(tmpdir(), "podkit-open-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("OpenFile", () => {
  it("reads, writes, syncs and stats through one descriptor, and closes it", async () => {
    const path = join(dir, "rw");
    const file = await OpenFile.open(path, "wx+", 0o644);
    expect(await file.writev([Buffer.from("hello "), Buffer.from("world")])).toBe(11);
    expect(await file.write(Buffer.from("!!"), 0, 1)).toBe(1);
    await file.datasync();
    await file.sync();
    expect((await file.stat()).size).toBe(12);
    const buf = Buffer.alloc(20);
    expect(await file.read(buf, 0, 20, 6)).toBe(6);
    expect(buf.subarray(0, 6).toString()).toBe("world!");
    expect(descriptorsUnder(dir)).toEqual([path]);
    await file.close();
    expect(descriptorsUnder(dir)).toEqual([]);
  });

  it("closes once: a second close does not close the file that reused its descriptor number", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    writeFileSync(a, "aaaa");
    writeFileSync(b, "bbbb");
    const first = await OpenFile.open(a, "r");
    const fd = first.fd;
    await first.close();
    expect(first.closed).toBe(true);
    const second = await OpenFile.open(b, "r");
    expect(second.fd).toBe(fd); // the kernel hands out the lowest free number again
    await first.close();
    const buf = Buffer.alloc(4);
    expect(await second.read(buf, 0, 4, 0)).toBe(4);
    expect(buf.toString()).toBe("bbbb");
    // Every later call on the closed one fails instead of reaching the other file.
    await expect(first.read(buf, 0, 4, 0)).rejects.toMatchObject({ code: "EBADF" });
    await expect(first.writev([Buffer.from("x")])).rejects.toMatchObject({ code: "EBADF" });
    await expect(first.stat()).rejects.toMatchObject({ code: "EBADF" });
    expect(() => first.fd).toThrow(/EBADF/);
    await second.close();
    expect(descriptorsUnder(dir)).toEqual([]);
  });

  it("reports the file system's errors with their codes", async () => {
    await expect(OpenFile.open(join(dir, "missing"), "r")).rejects.toMatchObject({ code: "ENOENT" });
    writeFileSync(join(dir, "exists"), "");
    await expect(OpenFile.open(join(dir, "exists"), "wx")).rejects.toMatchObject({ code: "EEXIST" });
    const readOnly = await OpenFile.open(join(dir, "exists"), "r");
    await expect(readOnly.write(Buffer.from("x"), 0, 1)).rejects.toMatchObject({ code: "EBADF" });
    await readOnly.close();
    expect(descriptorsUnder(dir)).toEqual([]);
  });
});
