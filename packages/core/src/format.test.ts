import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, parseBytes, parseDuration } from "./format.js";

describe("byte and duration formatting", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [80 * 1024 ** 3, "80.0 GiB"],
  ])("formats %d bytes as %s", (n, text) => expect(formatBytes(n)).toBe(text));

  it.each([
    ["200MiB", 200 * 1024 ** 2],
    ["1.5 GB", 1.5e9],
    ["4096", 4096],
  ])("parses %s", (text, n) => expect(parseBytes(text)).toBe(n));

  it("rejects sizes it cannot read", () => expect(() => parseBytes("lots")).toThrow('not a size: "lots"'));

  it.each([
    ["4h", 4 * 3_600_000],
    ["1h30m", 5_400_000],
    ["2d", 172_800_000],
    ["500ms", 500],
    ["30", 30_000],
  ])("parses the duration %s", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it("rejects durations with junk", () => {
    expect(() => parseDuration("4 hours")).toThrow('not a duration: "4 hours"');
    expect(() => parseDuration("")).toThrow(/not a duration/);
  });

  it.each([
    [250, "250ms"],
    [5_400_000, "1h30m"],
    [90_061_000, "1d1h1m1s"],
  ])("formats %d ms as %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});
