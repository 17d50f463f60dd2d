import { describe, expect, it } from "vitest";
import { fsReason, S3_ERRORS, S3_REASONS, S3Error, s3ErrorFor, s3ErrorFromFs } from "./s3-errors.js";

const fsError = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

describe("S3 reasons", () => {
  it("map each reason to a code of the wire table", () => {
    for (const [reason, entry] of Object.entries(S3_REASONS)) {
      expect(S3_ERRORS, reason).toHaveProperty(entry.code);
    }
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
