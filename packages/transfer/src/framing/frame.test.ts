import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CopyingFrameDecoder, encodeFrame, FrameDecoder, FramingError, isPing } from "./frame.js";

const vectors = JSON.parse(readFileSync(new URL("../../testdata/vectors.json", import.meta.url), "utf8"));

describe("croc framing", () => {
  it("encodes ips? exactly like croc (vectors.json frame_ips?_hex)", () => {
    expect(encodeFrame(Buffer.from("ips?")).toString("hex")).toBe(vectors["frame_ips?_hex"]);
  });

  it("decodes frames split at every byte boundary", () => {
    const wire = Buffer.concat([
      encodeFrame(Buffer.from("hello")),
      encodeFrame(Buffer.alloc(0)),
      encodeFrame(Buffer.from([1])),
    ]);
    for (let split = 0; split <= wire.length; split++) {
      const d = new FrameDecoder();
      const frames = [...d.push(wire.subarray(0, split)), ...d.push(wire.subarray(split))];
      expect(frames.map((f) => f.toString("hex"))).toEqual(["68656c6c6f", "", "01"]);
      expect(d.pending).toBe(0);
    }
  });

  it("rejects bad magic and oversized lengths", () => {
    expect(() => new FrameDecoder().push(Buffer.from("GET / HTTP/1.1\r\n"))).toThrow(FramingError);
    const huge = Buffer.from("63726f63ffffffff", "hex");
    expect(() => new FrameDecoder(1024).push(huge)).toThrow(/exceeds the limit of 1024/);
  });

  it("recognises the relay ping and nothing else", () => {
    expect(isPing(Buffer.from([1]))).toBe(true);
    expect(isPing(Buffer.from([1, 1]))).toBe(false);
    expect(isPing(Buffer.from([2]))).toBe(false);
  });

  it("copying decoder: same frames from a read buffer that is overwritten after every push", () => {
    const wire = Buffer.concat([
      encodeFrame(Buffer.from("hello")),
      encodeFrame(Buffer.alloc(0)),
      encodeFrame(Buffer.from([1])),
      encodeFrame(Buffer.alloc(3000, 7)),
    ]);
    const reused = Buffer.alloc(wire.length);
    for (let split = 0; split <= wire.length; split += split < 40 ? 1 : 97) {
      const allocated: number[] = [];
      const d = new CopyingFrameDecoder((n) => {
        allocated.push(n);
        return Buffer.alloc(n);
      });
      const frames: Buffer[] = [];
      for (const part of [wire.subarray(0, split), wire.subarray(split)]) {
        part.copy(reused);
        frames.push(...d.push(reused.subarray(0, part.length)));
        reused.fill(0xee); // the socket's next read reuses the buffer
      }
      expect(frames.map((f) => f.toString("hex"))).toEqual([
        "68656c6c6f",
        "",
        "01",
        Buffer.alloc(3000, 7).toString("hex"),
      ]);
      expect(allocated).toEqual([5, 0, 1, 3000]);
    }
    expect(() => new CopyingFrameDecoder(Buffer.alloc).push(Buffer.from("GET / HTTP/1.1\r\n"))).toThrow(
      FramingError,
    );
    expect(() =>
      new CopyingFrameDecoder(Buffer.alloc, 1024).push(Buffer.from("63726f63ffffffff", "hex")),
    ).toThrow(/exceeds the limit of 1024/);
  });
});
