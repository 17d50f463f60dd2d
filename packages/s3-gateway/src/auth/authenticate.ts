import type { S3Credential } from "@podkit/core";
import { s3ErrorFor } from "../errors/s3-errors.js";
import type { CredentialStore } from "./credentials.js";
import {
  ALGORITHM,
  type CredentialScope,
  canonicalQuery,
  canonicalRequest,
  parseAmzDate,
  parseAuthorizationHeader,
  parseCredential,
  percentDecode,
  type QueryPairs,
  scopeString,
  signaturesEqual,
  signHex,
  signingKey,
  stringToSign,
  uriEncode,
} from "./sigv4.js";

/** How the request body is (or is not) covered by the signature. */
export type PayloadMode =
  | { kind: "signed"; sha256Hex: string }
  | { kind: "unsigned" }
  | { kind: "streaming-signed"; trailer: boolean }
  | { kind: "streaming-unsigned-trailer" };

export interface AuthRequest {
  method: string;
  /** Path exactly as it came on the request line, still percent-encoded. */
  rawPath: string;
  query: QueryPairs;
  header: (name: string) => readonly string[] | undefined;
}

export interface AuthContext {
  credential: S3Credential;
  payload: PayloadMode;
  /** What aws-chunked bodies need to verify chunk and trailer signatures. */
  seedSignature: string;
  signingKey: Buffer;
  amzDate: string;
  scope: string;
}

export interface AuthOptions {
  /** Requests whose date is further than this from the server clock are refused. */
  maxSkewMs: number;
  now: () => number;
}

const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

function firstHeader(req: AuthRequest, name: string): string | undefined {
  return req.header(name)?.[0];
}

function payloadModeOf(value: string | undefined): PayloadMode {
  if (value === undefined) {
    throw s3ErrorFor("content-sha256-missing");
  }
  if (/^[0-9a-f]{64}$/.test(value)) return { kind: "signed", sha256Hex: value };
  switch (value) {
    case "UNSIGNED-PAYLOAD":
      return { kind: "unsigned" };
    case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD":
      return { kind: "streaming-signed", trailer: false };
    case "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER":
      return { kind: "streaming-signed", trailer: true };
    case "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
      return { kind: "streaming-unsigned-trailer" };
    default:
      if (value.startsWith("STREAMING-AWS4-ECDSA")) {
        throw s3ErrorFor("sigv4a-unsupported");
      }
      throw s3ErrorFor("content-sha256-unknown", { value });
  }
}

/**
 * Candidate canonical URIs: clients encode paths slightly differently (e.g. '~', '!' or '%2F'),
 * so we try the AWS-canonical re-encoding of the decoded path first and the raw path as sent.
 */
function canonicalUris(rawPath: string): string[] {
  const reencoded = rawPath
    .split("/")
    .map((segment) => uriEncode(percentDecode(segment), false))
    .join("/");
  return reencoded === rawPath ? [reencoded] : [reencoded, rawPath];
}

function checkClock(requestMs: number, options: AuthOptions): void {
  if (Math.abs(options.now() - requestMs) > options.maxSkewMs) {
    throw s3ErrorFor("clock-skewed", {
      requestTime: new Date(requestMs).toISOString(),
      minutes: Math.round(options.maxSkewMs / 60000),
      serverTime: new Date(options.now()).toISOString(),
    });
  }
}

function resolveCredential(store: CredentialStore, scope: CredentialScope): S3Credential {
  const credential = store.lookup(scope.accessKeyId);
  if (!credential) throw s3ErrorFor("unknown-access-key");
  if (scope.service !== "s3") {
    throw s3ErrorFor("scope-wrong-service", { service: scope.service });
  }
  return credential;
}

function verify(
  req: AuthRequest,
  credential: S3Credential,
  scope: CredentialScope,
  amzDate: string,
  signedHeaders: readonly string[],
  canonicalQueryString: string,
  payloadHash: string,
  givenSignature: string,
): { key: Buffer; scopeText: string } {
  const key = signingKey(credential.secretAccessKey, scope.date, scope.region, scope.service);
  const scopeText = scopeString(scope);
  for (const uri of canonicalUris(req.rawPath)) {
    const text = canonicalRequest({
      method: req.method,
      canonicalUri: uri,
      canonicalQueryString,
      headers: req.header,
      signedHeaders,
      payloadHash,
    });
    if (signaturesEqual(signHex(key, stringToSign(amzDate, scopeText, text)), givenSignature)) {
      return { key, scopeText };
    }
  }
  throw s3ErrorFor("signature-mismatch");
}

/**
 * Authenticate a request signed with SigV4, in the Authorization header or as a presigned URL.
 * Throws an S3Error (AccessDenied for anonymous requests) when it is not.
 */
export function authenticate(req: AuthRequest, store: CredentialStore, options: AuthOptions): AuthContext {
  const authorization = firstHeader(req, "authorization");
  const presignAlgorithm = req.query.find(([name]) => name === "X-Amz-Algorithm")?.[1];
  if (authorization !== undefined) return authenticateHeader(req, authorization, store, options);
  if (presignAlgorithm !== undefined) return authenticatePresigned(req, presignAlgorithm, store, options);
  if (req.query.some(([name]) => name === "AWSAccessKeyId")) {
    throw s3ErrorFor("sigv2-presign-unsupported");
  }
  throw s3ErrorFor("anonymous-request");
}

function authenticateHeader(
  req: AuthRequest,
  authorization: string,
  store: CredentialStore,
  options: AuthOptions,
): AuthContext {
  if (authorization.startsWith("AWS ")) {
    throw s3ErrorFor("sigv2-unsupported");
  }
  const parsed = parseAuthorizationHeader(authorization);
  if (!parsed) throw s3ErrorFor("authorization-malformed");
  const amzDate = firstHeader(req, "x-amz-date");
  const requestMs =
    amzDate !== undefined ? parseAmzDate(amzDate) : Date.parse(firstHeader(req, "date") ?? "") || undefined;
  if (requestMs === undefined) {
    throw s3ErrorFor("request-date-missing");
  }
  checkClock(requestMs, options);
  const dateText =
    amzDate ??
    new Date(requestMs)
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d{3}/, "");
  if (!dateText.startsWith(parsed.credential.date)) {
    throw s3ErrorFor("scope-date-mismatch");
  }
  const credential = resolveCredential(store, parsed.credential);
  if (!parsed.signedHeaders.includes("host")) {
    throw s3ErrorFor("host-unsigned");
  }
  const payloadHash = firstHeader(req, "x-amz-content-sha256");
  const payload = payloadModeOf(payloadHash);
  const { key, scopeText } = verify(
    req,
    credential,
    parsed.credential,
    dateText,
    parsed.signedHeaders,
    canonicalQuery(req.query),
    payloadHash!,
    parsed.signature,
  );
  return {
    credential,
    payload,
    seedSignature: parsed.signature,
    signingKey: key,
    amzDate: dateText,
    scope: scopeText,
  };
}

function authenticatePresigned(
  req: AuthRequest,
  algorithm: string,
  store: CredentialStore,
  options: AuthOptions,
): AuthContext {
  const q = (name: string) => req.query.find(([n]) => n === name)?.[1];
  if (algorithm !== ALGORITHM) {
    throw s3ErrorFor("presign-bad-algorithm", { algorithm: ALGORITHM });
  }
  const scope = parseCredential(q("X-Amz-Credential") ?? "");
  const amzDate = q("X-Amz-Date") ?? "";
  const requestMs = parseAmzDate(amzDate);
  const expires = Number(q("X-Amz-Expires"));
  const signedHeaders = q("X-Amz-SignedHeaders")?.split(";");
  const signature = q("X-Amz-Signature") ?? "";
  if (!scope || requestMs === undefined || !signedHeaders || !/^[0-9a-f]{64}$/.test(signature)) {
    throw s3ErrorFor("presign-malformed");
  }
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_SECONDS) {
    throw s3ErrorFor("presign-bad-expires");
  }
  if (!amzDate.startsWith(scope.date)) {
    throw s3ErrorFor("presign-scope-date-mismatch");
  }
  const now = options.now();
  if (requestMs - now > options.maxSkewMs) checkClock(requestMs, options);
  if (now > requestMs + expires * 1000) {
    throw s3ErrorFor("presign-expired", { validUntil: new Date(requestMs + expires * 1000).toISOString() });
  }
  const credential = resolveCredential(store, scope);
  // Presigned URLs sign the payload as UNSIGNED-PAYLOAD unless the client sent a hash header.
  const payloadHash = firstHeader(req, "x-amz-content-sha256") ?? "UNSIGNED-PAYLOAD";
  const payload = payloadModeOf(payloadHash);
  const { key, scopeText } = verify(
    req,
    credential,
    scope,
    amzDate,
    signedHeaders,
    canonicalQuery(req.query, "X-Amz-Signature"),
    payloadHash,
    signature,
  );
  return { credential, payload, seedSignature: signature, signingKey: key, amzDate, scope: scopeText };
}
