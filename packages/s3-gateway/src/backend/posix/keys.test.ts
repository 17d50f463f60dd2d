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
