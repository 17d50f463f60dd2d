import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * AWS Signature Version 4, as pure functions: canonical request, string to sign, signing key
 * and the chunk/trailer signatures of aws-chunked bodies. Nothing here touches a socket.
 * Spec: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
 */

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

const signingKeys = new Map<string, Buffer>();

/** kSigning = HMAC chain over date, region, service and "aws4_request" (cached: it changes daily). */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${secret}\n${date}\n${region}\n${service}`;
  const cached = signingKeys.get(cacheKey);
  if (cached) return cached;
  const key = deriveSigningKey(secret, date, region, service);
  if (signingKeys.size > 1000) signingKeys.clear();
  signingKeys.set(cacheKey, key);
  return key;
}

function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secret}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, "aws4_request");
}

export function signHex(key: Buffer, stringToSign: string): string {
  return createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
}

/** URI-encode every byte except the unreserved set A-Z a-z 0-9 - _ . ~ (and '/' when asked). */
export function uriEncode(value: string, keepSlash: boolean): string {
  let out: string;
  try {
    // encodeURIComponent also leaves ! ' ( ) * alone; SigV4 wants those escaped.
    out = encodeURIComponent(value).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  } catch {
    // lone surrogates: encode the UTF-8 bytes Node would produce
    out = [...Buffer.from(value, "utf8")]
      .map((b) =>
        /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
          ? String.fromCharCode(b)
          : `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
      )
      .join("");
  }
  return keepSlash ? out.replace(/%2F/g, "/") : out;
}

/** Decode %XX escapes without treating '+' as a space (S3 clients encode spaces as %20). */
export function percentDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export type QueryPairs = ReadonlyArray<readonly [string, string]>;

/** Split a raw query string into decoded name/value pairs, in order. */
export function parseQuery(rawQuery: string): Array<[string, string]> {
  if (rawQuery === "") return [];
  return rawQuery
    .split("&")
    .filter((part) => part !== "")
    .map((part) => {
      const eq = part.indexOf("=");
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? "" : part.slice(eq + 1);
      return [percentDecode(name), percentDecode(value)] as [string, string];
    });
}

export function canonicalQuery(pairs: QueryPairs, exclude?: string): string {
  return pairs
    .filter(([name]) => name !== exclude)
    .map(([name, value]) => [uriEncode(name, false), uriEncode(value, false)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

/** Header values are trimmed and inner runs of spaces collapsed, as SigV4 requires. */
export function canonicalHeaderValue(values: readonly string[]): string {
  return values.map((v) => v.trim().replace(/\s+/g, " ")).join(",");
}

export interface CanonicalRequestInput {
  method: string;
  /** The canonical (URI-encoded) path, e.g. "/bucket/my%20key". */
  canonicalUri: string;
  canonicalQueryString: string;
  /** Lower-case header name → its values, for the signed headers only. */
  headers: (name: string) => readonly string[] | undefined;
  signedHeaders: readonly string[];
  payloadHash: string;
}

export function canonicalRequest(input: CanonicalRequestInput): string {
  const headerLines = input.signedHeaders.map(
    (name) => `${name}:${canonicalHeaderValue(input.headers(name) ?? [])}\n`,
  );
  return [
    input.method,
    input.canonicalUri,
    input.canonicalQueryString,
    headerLines.join(""),
    input.signedHeaders.join(";"),
    input.payloadHash,
  ].join("\n");
}

export function stringToSign(amzDate: string, scope: string, canonicalRequestText: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequestText)].join("\n");
}

/** String to sign for one chunk of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body. */
export function chunkStringToSign(
  amzDate: string,
  scope: string,
  previousSignature: string,
  chunkSha256Hex: string,
): string {
  return ["AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previousSignature, EMPTY_SHA256, chunkSha256Hex].join(
    "\n",
  );
}

/** String to sign for the trailing headers of a STREAMING-…-TRAILER body. */
export function trailerStringToSign(
  amzDate: string,
  scope: string,
  previousSignature: string,
  trailerText: string,
): string {
  return ["AWS4-HMAC-SHA256-TRAILER", amzDate, scope, previousSignature, sha256Hex(trailerText)].join("\n");
}

/** Compare two hex signatures in constant time (length is not secret). */
export function signaturesEqual(expectedHex: string, givenHex: string): boolean {
  const a = Buffer.from(expectedHex, "utf8");
  const b = Buffer.from(givenHex, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/** "AKID/20260101/us-east-1/s3/aws4_request" → parts, or undefined when malformed. */
export function parseCredential(value: string): CredentialScope | undefined {
  const parts = value.split("/");
  if (parts.length < 5 || parts[parts.length - 1] !== "aws4_request") return undefined;
  // Access keys never contain '/', but be exact about the last four fields.
  const service = parts[parts.length - 2]!;
  const region = parts[parts.length - 3]!;
  const date = parts[parts.length - 4]!;
  const accessKeyId = parts.slice(0, parts.length - 4).join("/");
  if (!/^\d{8}$/.test(date) || accessKeyId === "") return undefined;
  return { accessKeyId, date, region, service };
}

export function scopeString(scope: CredentialScope): string {
  return `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
}

export interface AuthorizationHeader {
  credential: CredentialScope;
  signedHeaders: string[];
  signature: string;
}

/** Parse `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
export function parseAuthorizationHeader(value: string): AuthorizationHeader | undefined {
  if (!value.startsWith(`${ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = parseCredential(fields.get("Credential") ?? "");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!credential || !signedHeaders || !signature || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  return { credential, signedHeaders: signedHeaders.split(";"), signature };
}

/** "20260101T120000Z" → epoch ms, or undefined. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}
