import type { WriteCondition } from "../backend/types.js";
import { s3ErrorFor } from "../errors/s3-errors.js";

/** Does an If-Match / If-None-Match list (`"a", "b"` or `*`) match this ETag? */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(",").some((item) => {
    const t = item.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
    return t === "*" || t === etag;
  });
}

export type ConditionOutcome = "proceed" | "not-modified" | "precondition-failed";

/**
 * RFC 9110 §13.2.2 evaluation order, which also gives S3's documented combinations
 * (If-Match true + If-Unmodified-Since false → 200; If-None-Match false + If-Modified-Since true → 304).
 */
export function evaluateConditions(
  header: (name: string) => string | undefined,
  etag: string,
  lastModified: Date,
  forRead: boolean,
): ConditionOutcome {
  const seconds = Math.floor(lastModified.getTime() / 1000);
  const ifMatch = header("if-match");
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, etag)) return "precondition-failed";
  } else {
    const since = Date.parse(header("if-unmodified-since") ?? "");
    if (!Number.isNaN(since) && seconds > Math.floor(since / 1000)) return "precondition-failed";
  }
  const ifNoneMatch = header("if-none-match");
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, etag)) return forRead ? "not-modified" : "precondition-failed";
  } else if (forRead) {
    const since = Date.parse(header("if-modified-since") ?? "");
    if (!Number.isNaN(since) && seconds <= Math.floor(since / 1000)) return "not-modified";
  }
  return "proceed";
}

/**
 * Parse a single `Range: bytes=…` against an object size: undefined means "the whole object"
 * (no header, or one we ignore as S3 does, like multiple ranges); an unsatisfiable range is
 * InvalidRange (416).
 */
export function parseRange(
  value: string | undefined,
  size: number,
): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === "" && b === "") return undefined;
  let start: number;
  let end: number;
  if (a === "") {
    const suffix = Number(b);
    if (suffix === 0)
      throw s3ErrorFor("range-not-satisfiable", { RangeRequested: value, ActualObjectSize: String(size) });
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== "" && Number(b) < start) return undefined;
  }
  if (start >= size || size === 0) {
    throw s3ErrorFor("range-not-satisfiable", { RangeRequested: value, ActualObjectSize: String(size) });
  }
  return { start, end };
}

/**
 * The conditional-write headers of a PutObject, CopyObject, CompleteMultipartUpload or
 * DeleteObject. If-None-Match takes only `*` on writes, as on S3; the size and last-modified
 * variants of a conditional delete are refused rather than ignored.
 */
export function writeConditionOf(
  header: (name: string) => string | undefined,
  allowIfNoneMatch = true,
): WriteCondition | undefined {
  for (const name of [
    "x-amz-if-match-last-modified-time",
    "x-amz-if-match-size",
    "x-amz-if-match-initiated-time",
  ]) {
    if (header(name) !== undefined) throw s3ErrorFor("condition-header-unsupported", { name });
  }
  const ifNoneMatch = header("if-none-match")?.trim();
  const ifMatch = header("if-match")?.trim();
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && (!allowIfNoneMatch || ifNoneMatch !== "*")) {
    throw s3ErrorFor("if-none-match-not-star");
  }
  if (ifMatch?.includes(",")) {
    throw s3ErrorFor("if-match-not-one-etag");
  }
  return {
    ...(ifNoneMatch !== undefined ? { ifNoneMatch: true as const } : {}),
    ...(ifMatch !== undefined ? { ifMatch: ifMatch.replace(/^"|"$/g, "") } : {}),
  };
}

/**
 * The same check against what the key holds before the body is read, so a write bound to fail
 * does not upload first (the commit checks again, atomically).
 */
export function precheckWrite(condition: WriteCondition, current: string | undefined, key: string): void {
  if (condition.ifNoneMatch && current !== undefined) {
    throw s3ErrorFor("object-exists", {
      Key: key,
      Condition: "If-None-Match",
    });
  }
  if (condition.ifMatch !== undefined) {
    if (current === undefined) throw s3ErrorFor("key-not-found", { Key: key });
    if (condition.ifMatch !== "*" && condition.ifMatch !== current) {
      throw s3ErrorFor("precondition-failed", { Key: key, Condition: "If-Match" });
    }
  }
}
