import { describe, expect, it } from "vitest";
import { compareKeys, keyToPath } from "./keys.js";

describe("keyToPath", () => {
  it.each([
    ["a/b/c.txt", ["a", "b", "c.txt"], false],
    ["dir/", ["dir"], true],
    ["with space/#+%.txt", ["with space", "#+%.txt"], false],
    ["ünïcödé/文件", ["ünïcödé", "文件"], false],
    ["..x/y..", ["..x", "y.."], false],
  ])("maps %j inside the bucket", (key, segments, isDirectory) => {
    expect(keyToPath(key)).toEqual({ segments, isDirectory });
  });

  it.each([
    ["../etc/passwd", "InvalidArgument"],
    ["a/../../b", "InvalidArgument"],
    ["./a", "InvalidArgument"],
    ["a//b", "InvalidArgument"],
    ["/abs", "InvalidArgument"],
    ["a\\..\\b", "InvalidArgument"],
    ["nul\0byte", "InvalidArgument"],
    [".s3compat_uploads/x", "InvalidArgument"],
    ["", "InvalidArgument"],
    [`${"x".repeat(256)}`, "KeyTooLongError"],
    [`a/${"y".repeat(1100)}`, "KeyTooLongError"],
  ])("refuses %j with %s", (key, code) => {
    expect(() => keyToPath(key)).toThrow(expect.objectContaining({ code }));
  });

  it("orders keys by UTF-8 bytes, as S3 does", () => {
    const keys = ["a/x", "a-b", "ä", "a", "\uFF61", "\u{1F600}"];
    expect([...keys].sort(compareKeys)).toEqual(["a", "a-b", "a/x", "ä", "\uFF61", "\u{1F600}"]);
  });
});

describe("compareKeys", () => {
  // Code units around the places where UTF-16 order and UTF-8 byte order part ways.
  const samples = [
    "",
    "a",
    "a/",
    "a-b",
    "a/x",
    "A",
    "~",
    "\u007f",
    "\u0080",
    "ä",
    "\u07ff",
    "\u0800",
    "\ud7ff",
    "\ue000",
    "\uff61",
    "\uffff",
    "\u{10000}",
    "\u{1F600}",
    "\u{10FFFF}",
    "x\u{1F600}y",
    "x\uffffy",
    "x\ue000",
    "x",
    "xa",
    "文件",
    "文件/",
    "\u{1F600}a",
  ];
  it("orders every pair exactly as their UTF-8 bytes do", () => {
    for (const a of samples) {
      for (const b of samples) {
        const bytes = Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
        expect(Math.sign(compareKeys(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(bytes);
      }
    }
  });
});
