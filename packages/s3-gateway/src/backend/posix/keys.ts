import { s3ErrorFor } from "../../errors/s3-errors.js";

/** Hidden per-volume folder for multipart state, temporaries and sidecar metadata. */
export const RESERVED_DIR = ".s3compat_uploads";
export const MAX_KEY_BYTES = 1024;
/** NAME_MAX of Linux file systems. */
export const MAX_COMPONENT_BYTES = 255;

export interface KeyPath {
  /** Path components below the bucket directory. */
  segments: string[];
  /** A key ending in "/": a directory marker. */
  isDirectory: boolean;
}

/**
 * Map an object key to a path inside its bucket, refusing anything that could escape it or
 * that a file system cannot hold: `.`/`..` segments, empty segments (`//`, a leading `/`),
 * backslashes, NUL, the reserved folder, and over-long keys or components (KeyTooLongError).
 * Percent-encoded variants arrive here already decoded, so they meet the same checks.
 */
export function keyToPath(key: string): KeyPath {
  if (key === "") throw s3ErrorFor("key-empty");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw s3ErrorFor("key-too-long", { maxBytes: MAX_KEY_BYTES }, { Key: key });
  }
  const isDirectory = key.endsWith("/");
  const segments = (isDirectory ? key.slice(0, -1) : key).split("/");
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..") {
      throw s3ErrorFor("key-bad-segment", { key }, { Key: key });
    }
    if (segment.includes("\\") || segment.includes("\0")) {
      throw s3ErrorFor(
        "key-bad-character",
        { key },
        {
          Key: key,
        },
      );
    }
    if (Buffer.byteLength(segment, "utf8") > MAX_COMPONENT_BYTES) {
      throw s3ErrorFor("key-segment-over-limit", { maxBytes: MAX_COMPONENT_BYTES }, { Key: key });
    }
  }
  if (segments[0] === RESERVED_DIR) {
    throw s3ErrorFor(
      "key-reserved",
      { dir: RESERVED_DIR },
      {
        Key: key,
      },
    );
  }
  return { segments, isDirectory };
}

/** Bucket names are volume ids: S3 bucket naming rules (3-63 of a-z 0-9 . -). */
export function isValidBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !name.includes("..");
}

export function checkBucketName(name: string): void {
  if (!isValidBucketName(name)) {
    throw s3ErrorFor(
      "bucket-name-invalid",
      { name },
      {
        BucketName: name,
      },
    );
  }
}

/** A UTF-16 code unit moved so that plain comparison follows code point (= UTF-8 byte) order. */
function codePointRank(unit: number): number {
  // Surrogates (U+10000 and up) sort after U+E000–U+FFFF in code point order, before them in
  // UTF-16: swap the two ranges.
  if (unit >= 0xd800) return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
  return unit;
}

/**
 * Compare two keys in S3 order (by their UTF-8 bytes), straight on the strings: no Buffer per key,
 * which made a cached 100,000-entry directory listing cost ~40 MiB of heap.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}
