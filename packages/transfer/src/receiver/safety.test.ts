import { describe, expect, it } from "vitest";
import type { FileInfo } from "../protocol/schemas.js";
import { UnsafeOfferError, validateOffer } from "./safety.js";

const file = (fr: string, n: string, extra: Partial<FileInfo> = {}): FileInfo => ({ fr, n, s: 1, ...extra });

describe("validateOffer", () => {
  it("accepts croc's normal shapes", () => {
    const { files, emptyFolders } = validateOffer({
      FilesToTransfer: [
        file("./", "a.txt"),
        file("dir/sub/", "b b.bin"),
        file("dir/", "link", { sy: "sub/b b.bin" }),
        file("./", "ünï 文件.txt"),
      ],
      EmptyFoldersToTransfer: [{ fr: "dir/empty/", n: "", s: 0 }],
    });
    expect(files.map((f) => f.relPath)).toEqual(["a.txt", "dir/sub/b b.bin", "dir/link", "ünï 文件.txt"]);
    expect(emptyFolders).toEqual(["dir/empty"]);
  });

  const hostile: Array<[string, FileInfo]> = [
    ["parent escape in folder", file("../", "x")],
    ["escape in middle", file("a/../../", "x")],
    ["parent as name", file("./", "..")],
    ["slash in name", file("./", "a/b")],
    ["absolute folder", file("/etc/", "passwd")],
    ["windows absolute", file("C:/Windows/", "x")],
    [".ssh folder", file(".ssh/", "authorized_keys")],
    [".ssh nested", file("home/.SSH/", "authorized_keys")],
    [".ssh as name", file("./", ".ssh")],
    ["control char", file("./", "a\u001b[31m.txt")],
    ["newline", file("./", "a\nb")],
    ["bidi override", file("./", "exe\u202etxt.sh")],
    ["backslash", file("./", "..\\x")],
    ["symlink absolute", file("./", "l", { sy: "/etc" })],
    ["symlink escaping", file("a/", "l", { sy: "../../x" })],
    ["symlink into .ssh", file("./", "l", { sy: ".ssh/authorized_keys" })],
    ["empty name", file("./", "")],
  ];
  for (const [what, f] of hostile) {
    it(`refuses ${what}`, () => {
      expect(() => validateOffer({ FilesToTransfer: [f] })).toThrow(UnsafeOfferError);
    });
  }

  it("refuses duplicates and unsafe empty folders", () => {
    expect(() => validateOffer({ FilesToTransfer: [file("./", "a"), file("", "a")] })).toThrow(/twice/);
    expect(() => validateOffer({ EmptyFoldersToTransfer: [{ fr: "../up/", n: "", s: 0 }] })).toThrow(/\.\./);
    expect(() => validateOffer({ EmptyFoldersToTransfer: [{ fr: "./", n: "", s: 0 }] })).toThrow(
      /not a folder/,
    );
  });

  it("allows symlinks that stay inside", () => {
    expect(() => validateOffer({ FilesToTransfer: [file("a/b/", "l", { sy: "../c" })] })).not.toThrow();
  });
});
