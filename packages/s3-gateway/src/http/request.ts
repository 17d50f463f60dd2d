import type { IncomingMessage } from "node:http";
import { parseQuery } from "../auth/sigv4.js";
import { s3ErrorFor } from "../errors/s3-errors.js";

/**
 * Percent-decode a bucket or key once. Bytes that are not valid UTF-8 (`%ff`, the overlong
 * `%c0%ae`) are refused, as S3 does: kept undecoded they would name the same file as the
 * literal key `%ff`.
 */
function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw s3ErrorFor("uri-not-utf8");
  }
}

/** The parts of an HTTP request the S3 layer works with. */
export interface S3Request {
  method: string;
  rawPath: string;
  query: Array<[string, string]>;
  bucket?: string;
  key?: string;
  header: (name: string) => string | undefined;
  headerValues: (name: string) => readonly string[] | undefined;
  has: (queryName: string) => boolean;
  param: (queryName: string) => string | undefined;
}

/**
 * Split bucket and key off the URL: virtual-host style (`<bucket>.<domain>`) when `domain` is
 * given and the Host matches, path style (`/<bucket>/<key>`) otherwise. The key is decoded
 * exactly once, so `%2F` is a "/" and `%252F` a literal "%2F".
 */
export function parseS3Request(req: IncomingMessage, domain?: string): S3Request {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  let rawPath = q < 0 ? url : url.slice(0, q);
  if (/^https?:\/\//i.test(rawPath)) rawPath = new URL(rawPath).pathname;
  const query = parseQuery(q < 0 ? "" : url.slice(q + 1));
  const distinct = req.headersDistinct;
  const headerValues = (name: string) => distinct[name];
  const header = (name: string) => distinct[name]?.[0];
  const host = (header("host") ?? "").replace(/:\d+$/, "").toLowerCase();
  let bucket: string | undefined;
  let key: string | undefined;
  if (domain && host.endsWith(`.${domain.toLowerCase()}`)) {
    bucket = host.slice(0, -(domain.length + 1));
    const rest = rawPath.slice(1);
    key = rest === "" ? undefined : decodeName(rest);
  } else {
    const path = rawPath.slice(1);
    const slash = path.indexOf("/");
    const rawBucket = slash < 0 ? path : path.slice(0, slash);
    const rawKey = slash < 0 ? "" : path.slice(slash + 1);
    bucket = rawBucket === "" ? undefined : decodeName(rawBucket);
    key = rawKey === "" ? undefined : decodeName(rawKey);
  }
  const queryMap = new Map(query);
  return {
    method: req.method ?? "GET",
    rawPath,
    query,
    ...(bucket !== undefined ? { bucket } : {}),
    ...(key !== undefined ? { key } : {}),
    header,
    headerValues,
    has: (name) => queryMap.has(name),
    param: (name) => queryMap.get(name),
  };
}
