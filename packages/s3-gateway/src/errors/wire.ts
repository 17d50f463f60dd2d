/**
 * The one table of S3 error codes this gateway answers with: HTTP status and the default
 * message a client sees in the XML `<Error>` body. Codes follow AWS's names so SDKs map them to
 * their typed exceptions; the few non-AWS codes (file/directory conflicts, reserved names) follow
 * the names other directory-backed gateways use.
 */
export const S3_ERRORS = {
  AccessDenied: { status: 403, message: "Access Denied." },
  AuthorizationHeaderMalformed: { status: 400, message: "The authorization header is malformed." },
  AuthorizationQueryParametersError: {
    status: 400,
    message: "The presigned URL's X-Amz-* query parameters are malformed.",
  },
  BadDigest: {
    status: 400,
    message: "The Content-MD5 or checksum you specified did not match what we received.",
  },
  BucketAlreadyOwnedByYou: { status: 409, message: "The bucket already exists and is yours." },
  BucketNotEmpty: { status: 409, message: "The bucket you tried to delete is not empty." },
  ConditionalRequestConflict: {
    status: 409,
    message: "A conflicting operation occurred on this key; retry the request.",
  },
  EntityTooLarge: { status: 400, message: "Your proposed upload exceeds the maximum allowed size." },
  EntityTooSmall: {
    status: 400,
    message: "Your proposed upload is smaller than the minimum allowed object size.",
  },
  ExistingObjectIsDirectory: {
    status: 409,
    message: "A directory exists under this key; delete what is inside it first or choose another key.",
  },
  ExpiredToken: { status: 400, message: "The presigned URL has expired." },
  IncompleteBody: {
    status: 400,
    message: "You did not provide the number of bytes specified by the Content-Length header.",
  },
  InsufficientStorage: { status: 507, message: "The volume is full; free some space or grow the volume." },
  InternalError: { status: 500, message: "We encountered an internal error. Please try again." },
  InvalidAccessKeyId: {
    status: 403,
    message: "The access key ID you provided does not exist in our records.",
  },
  InvalidArgument: { status: 400, message: "Invalid Argument." },
  InvalidBucketName: { status: 400, message: "The specified bucket is not valid." },
  InvalidDigest: { status: 400, message: "The Content-MD5 or checksum you specified is not valid." },
  InvalidURI: { status: 400, message: "Couldn't parse the specified URI." },
  InvalidPart: {
    status: 400,
    message: "One or more of the specified parts could not be found or did not match.",
  },
  InvalidPartNumber: { status: 416, message: "The requested partnumber is not satisfiable." },
  InvalidPartOrder: { status: 400, message: "The list of parts was not in ascending order." },
  InvalidRange: { status: 416, message: "The requested range is not satisfiable." },
  InvalidRequest: { status: 400, message: "Invalid Request." },
  KeyTooLongError: { status: 400, message: "Your key is too long." },
  MalformedXML: { status: 400, message: "The XML you provided was not well-formed or did not validate." },
  MetadataTooLarge: {
    status: 400,
    message: "Your metadata headers exceed the maximum allowed metadata size (2 KB).",
  },
  MethodNotAllowed: { status: 405, message: "The specified method is not allowed against this resource." },
  MissingContentLength: { status: 411, message: "You must provide the Content-Length HTTP header." },
  NoSuchBucket: { status: 404, message: "The specified bucket does not exist." },
  NoSuchKey: { status: 404, message: "The specified key does not exist." },
  NoSuchUpload: {
    status: 404,
    message: "The specified multipart upload does not exist; it may have been aborted or completed.",
  },
  NotImplemented: {
    status: 501,
    message: "A header or query you provided implies functionality this gateway does not offer.",
  },
  NotModified: { status: 304, message: "Not Modified." },
  ObjectParentIsFile: {
    status: 409,
    message: "A parent of this key is a file, so the key cannot be a path below it.",
  },
  PreconditionFailed: {
    status: 412,
    message: "At least one of the preconditions you specified did not hold.",
  },
  RequestTimeTooSkewed: {
    status: 403,
    message: "The difference between the request time and the server's time is too large (more than 1 hour).",
  },
  SignatureDoesNotMatch: {
    status: 403,
    message:
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  },
  XAmzContentSHA256Mismatch: {
    status: 400,
    message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

/** An S3 error a handler throws; the HTTP layer turns it into status + XML body. */
export class S3Error extends Error {
  readonly code: S3ErrorCode;
  readonly status: number;
  /** Extra elements for the XML body (e.g. `Key`, `BucketName`), as AWS adds them. */
  readonly extra: Record<string, string>;

  constructor(code: S3ErrorCode, message?: string, extra: Record<string, string> = {}) {
    super(message ?? S3_ERRORS[code].message);
    this.name = "S3Error";
    this.code = code;
    this.status = S3_ERRORS[code].status;
    this.extra = extra;
  }
}

export function isS3Error(err: unknown): err is S3Error {
  return err instanceof S3Error;
}
