import { percentDecode } from "../auth/sigv4.js";
import type { ObjectInfo, ObjectMeta } from "../backend/types.js";
import { s3ErrorFor } from "../errors/s3-errors.js";

const STORED_HEADERS = [
  "content-encoding",
  "content-disposition",
  "content-language",
  "cache-control",
  "expires",
] as const;
const MAX_USER_META_BYTES = 2048;

/**
 * Write headers that would change what is stored or who may read it, which a directory on a
 * volume cannot honour: refused (501) rather than ignored. SSE-S3 (`AES256`), the private ACLs
 * and the STANDARD storage class describe what the volume does anyway and pass.
 */
export function refuseUnsupportedWriteHeaders(header: (name: string) => string | undefined): void {
  const refuse = (name: string, why: string) => {
    throw s3ErrorFor("header-unsupported", { name, why });
  };
  const sse = header("x-amz-server-side-encryption");
  if (sse !== undefined && sse.trim().toUpperCase() !== "AES256")
    refuse("x-amz-server-side-encryption", "only AES256 (the volume's own storage) is");
  if (header("x-amz-server-side-encryption-customer-algorithm") !== undefined)
    refuse("SSE-C", "objects are stored as the volume stores them");
  for (const name of [
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
  ])
    if (header(name) !== undefined) refuse(name, "volumes have no object lock");
  if (header("x-amz-tagging") !== undefined) refuse("x-amz-tagging", "objects carry no tags");
  if (header("x-amz-website-redirect-location") !== undefined)
    refuse("x-amz-website-redirect-location", "there is no website hosting");
  for (const name of [
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
  ])
    if (header(name) !== undefined) refuse(name, "access is per key pair and volume");
  const acl = header("x-amz-acl")?.trim();
  if (acl !== undefined && acl !== "private" && acl !== "bucket-owner-full-control")
    refuse(`x-amz-acl: ${acl}`, "access is per key pair and volume");
  const storageClass = header("x-amz-storage-class")?.trim().toUpperCase();
  if (storageClass !== undefined && storageClass !== "STANDARD")
    refuse(`x-amz-storage-class: ${storageClass}`, "a volume has one storage class");
}

/** Content headers and `x-amz-meta-*` of a PUT / Create / Copy(REPLACE) request. */
export function metaFromHeaders(
  header: (name: string) => string | undefined,
  names: Iterable<string>,
): ObjectMeta {
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = header(name);
    // aws-chunked is transfer framing, not the object's encoding.
    if (name === "content-encoding" && value !== undefined) {
      // Stored verbatim (`deflate, gzip` stays so), only the aws-chunked token is taken out.
      const tokens = value.split(",");
      const rest = tokens.filter((v) => v.trim().toLowerCase() !== "aws-chunked");
      const kept = rest.length === tokens.length ? value : rest.join(",").trim();
      if (kept.trim() !== "") headers[name] = kept;
      continue;
    }
    if (value !== undefined) headers[name] = value;
  }
  const userMeta: Record<string, string> = {};
  let bytes = 0;
  for (const name of names) {
    if (!name.startsWith("x-amz-meta-")) continue;
    const short = name.slice("x-amz-meta-".length);
    const value = header(name) ?? "";
    userMeta[short] = value;
    bytes += Buffer.byteLength(short) + Buffer.byteLength(value);
  }
  if (bytes > MAX_USER_META_BYTES) throw s3ErrorFor("metadata-too-large");
  const contentType = header("content-type");
  return { ...(contentType ? { contentType } : {}), headers, userMeta };
}

/** Response headers describing an object (GET/HEAD). */
export function objectHeaders(info: ObjectInfo, withChecksum: boolean): Record<string, string> {
  const out: Record<string, string> = {
    etag: `"${info.etag}"`,
    "last-modified": info.lastModified.toUTCString(),
    "content-type": info.meta.contentType ?? "application/octet-stream",
    "accept-ranges": "bytes",
    ...info.meta.headers,
  };
  for (const [name, value] of Object.entries(info.meta.userMeta)) out[`x-amz-meta-${name}`] = value;
  const checksum = info.meta.checksum;
  if (withChecksum && checksum) {
    out[`x-amz-checksum-${checksum.algorithm}`] = checksum.base64;
    out["x-amz-checksum-type"] = checksum.type;
  }
  return out;
}

const OVERRIDES: Record<string, string> = {
  "response-content-type": "content-type",
  "response-content-language": "content-language",
  "response-expires": "expires",
  "response-cache-control": "cache-control",
  "response-content-disposition": "content-disposition",
  "response-content-encoding": "content-encoding",
};

/** GetObject's `response-content-*` query parameters replace the stored headers in the answer. */
export function applyResponseOverrides(
  headers: Record<string, string>,
  param: (name: string) => string | undefined,
): void {
  for (const [query, header] of Object.entries(OVERRIDES)) {
    const value = param(query);
    if (value !== undefined) headers[header] = value;
  }
}

/** `x-amz-copy-source: /bucket/key?versionId=…` (URL-encoded) → bucket and key. */
export function parseCopySource(value: string): { bucket: string; key: string } {
  const noVersion = value.split("?")[0] ?? "";
  const decoded = percentDecode(noVersion).replace(/^\//, "");
  const slash = decoded.indexOf("/");
  if (slash <= 0 || slash === decoded.length - 1) {
    throw s3ErrorFor("bad-copy-source");
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}
