import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fsReason, S3_ERRORS, S3_REASONS, S3Error, s3ErrorFor, s3ErrorFromFs } from "./s3-errors.js";

const SRC = fileURLToPath(new URL("../", import.meta.url));

/** The gateway's TypeScript sources, tests aside. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

const fsError = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

describe("S3 reasons", () => {
  it("map each reason to a code of the wire table", () => {
    for (const [reason, entry] of Object.entries(S3_REASONS)) {
      expect(S3_ERRORS, reason).toHaveProperty(entry.code);
    }
  });

  it("are the only way gateway code makes an S3 error: no S3Error built from a literal code", () => {
    const offenders = sources(SRC)
      .map((p) => relative(SRC, p))
      .filter((p) => !p.startsWith("errors/"))
      .flatMap((p) =>
        [...readFileSync(join(SRC, p), "utf8").matchAll(/new\s+S3Error\s*\(\s*["'`]\w+/g)].map(
          (m) => `${p}: ${m[0]}`,
        ),
      );
    expect(offenders).toEqual([]);
    // The scan itself must see the gateway's sources, or it would pass on nothing.
    expect(sources(SRC).length).toBeGreaterThan(20);
  });

  it("give a reason's message values as typed parameters and keep the wire text", () => {
    const err = s3ErrorFor("part-too-small", { partNumber: 2, size: 10 }, { PartNumber: "2" });
    expect(err).toMatchObject({ code: "EntityTooSmall", status: 400, extra: { PartNumber: "2" } });
    expect(err.message).toBe("Part 2 is 10 bytes; every part but the last must be at least 5 MiB.");
    expect(s3ErrorFor("key-bad-segment", { key: "a//b" }, { Key: "a//b" }).message).toBe(
      'The key "a//b" has an empty, "." or ".." path segment; keys are file paths inside the volume.',
    );
    expect(s3ErrorFor("upload-not-found", { UploadId: "u1" })).toMatchObject({
      code: "NoSuchUpload",
      message: S3_ERRORS.NoSuchUpload.message,
      extra: { UploadId: "u1" },
    });
    expect(s3ErrorFor("content-md5-mismatch").message).toBe(
      "The Content-MD5 you specified did not match what we received.",
    );
  });

  it.each([
    ["ENOENT", "key-not-found", "NoSuchKey", 404],
    ["ENAMETOOLONG", "key-segment-too-long", "KeyTooLongError", 400],
    ["ENOTDIR", "parent-is-file", "ObjectParentIsFile", 409],
    ["EISDIR", "directory-in-the-way", "ExistingObjectIsDirectory", 409],
    ["ENOTEMPTY", "directory-in-the-way", "ExistingObjectIsDirectory", 409],
    ["EEXIST", "directory-in-the-way", "ExistingObjectIsDirectory", 409],
    ["ENOSPC", "volume-full", "InsufficientStorage", 507],
    ["EDQUOT", "volume-full", "InsufficientStorage", 507],
    ["EACCES", "not-permitted", "AccessDenied", 403],
    ["EPERM", "not-permitted", "AccessDenied", 403],
    ["EROFS", "not-permitted", "AccessDenied", 403],
  ])("a file-system %s is %s: %s (%i) naming the key", (errno, reason, code, status) => {
    expect(fsReason(fsError(errno))).toBe(reason);
    const err = s3ErrorFromFs(fsError(errno), { key: "a/b.txt" });
    expect(err).toMatchObject({ code, status, extra: { Key: "a/b.txt" } });
  });

  it("keeps the messages clients have always read", () => {
    expect(s3ErrorFromFs(fsError("ENAMETOOLONG")).message).toBe(
      "A path component of the key is longer than the file system allows.",
    );
    expect(s3ErrorFromFs(fsError("EROFS")).message).toBe(
      "The gateway may not write there (file permissions or a read-only volume).",
    );
    expect(s3ErrorFor("key-not-found").message).toBe(S3_ERRORS.NoSuchKey.message);
  });

  it("turns anything else into an InternalError without details, and passes S3 errors through", () => {
    for (const err of [fsError("EIO"), new Error("boom"), undefined, fsError("toString")]) {
      expect(fsReason(err)).toBe("unexpected");
      expect(s3ErrorFromFs(err, { key: "k" })).toMatchObject({
        code: "InternalError",
        status: 500,
        extra: {},
      });
    }
    const already = new S3Error("PreconditionFailed");
    expect(s3ErrorFromFs(already, { key: "k" })).toBe(already);
  });
});
