import type { S3ErrorCode } from "./wire.js";

/** A value a message shows. */
type Shown = string | number;

interface ReasonEntry {
  code: S3ErrorCode;
  message?: string | ((p: never) => string);
}

/**
 * Why a request failed, by name, in the manner of versitygw's `s3err`: each reason maps to one wire
 * error: its code, and a message where the code's default would not say enough. A message that
 * shows values is a template whose parameters are typed, so a call site names the values and the
 * text lives only here. Code that meets a failure names its reason; only this table and
 * `S3_ERRORS` know what goes on the wire.
 */
export const S3_REASONS = {
  "key-not-found": { code: "NoSuchKey" },
  "key-segment-too-long": {
    code: "KeyTooLongError",
    message: "A path component of the key is longer than the file system allows.",
  },
  "parent-is-file": { code: "ObjectParentIsFile" },
  "directory-in-the-way": { code: "ExistingObjectIsDirectory" },
  "volume-full": { code: "InsufficientStorage" },
  "not-permitted": {
    code: "AccessDenied",
    message: "The gateway may not write there (file permissions or a read-only volume).",
  },
  unexpected: { code: "InternalError" },
  "bad-continuation-token": {
    code: "InvalidArgument",
    message: "The continuation token provided is incorrect.",
  },
  "not-a-count": {
    code: "InvalidArgument",
    message: (p: { name: Shown }) => `${p.name} must be a non-negative integer.`,
  },
  "bad-encoding-type": { code: "InvalidArgument", message: 'encoding-type must be "url".' },
  "bad-max-buckets": { code: "InvalidArgument", message: "max-buckets must be an integer from 1 to 10000." },
  "bucket-admin-off": {
    code: "AccessDenied",
    message: (p: { what: Shown }) =>
      `${p.what} is not offered here: buckets are network volumes, created and deleted by the platform (start the gateway with --allow-bucket-admin to allow it).`,
  },
  "no-content-length": { code: "MissingContentLength" },
  "body-over-limit": {
    code: "InvalidRequest",
    message: (p: { limit: Shown }) => `The request body is larger than ${p.limit} bytes.`,
  },
  "volume-not-granted": {
    code: "AccessDenied",
    message: (p: { bucket: Shown }) => `This access key may not reach the volume "${p.bucket}".`,
  },
  "range-not-satisfiable": { code: "InvalidRange" },
  "condition-header-unsupported": {
    code: "NotImplemented",
    message: (p: { name: Shown }) => `The ${p.name} header is not supported.`,
  },
  "if-none-match-not-star": {
    code: "NotImplemented",
    message: "If-None-Match on a write accepts only * (create if absent).",
  },
  "if-match-not-one-etag": { code: "NotImplemented", message: "If-Match on a write takes one ETag." },
  "object-exists": {
    code: "PreconditionFailed",
    message: "An object already exists under this key (If-None-Match: *).",
  },
  "precondition-failed": { code: "PreconditionFailed" },
  "bad-part-number": {
    code: "InvalidArgument",
    message: "Part number must be an integer between 1 and 10000, inclusive.",
  },
  "bad-checksum-type": {
    code: "InvalidArgument",
    message: "x-amz-checksum-type must be COMPOSITE or FULL_OBJECT.",
  },
  "bad-copy-source-range": {
    code: "InvalidArgument",
    message: "x-amz-copy-source-range must look like bytes=first-last.",
  },
  "part-missing-fields": { code: "MalformedXML", message: "Each Part needs a PartNumber and an ETag." },
  "range-and-part-number": {
    code: "InvalidRequest",
    message: "Cannot specify both Range header and partNumber query parameter.",
  },
  "part-sizes-unrecorded": {
    code: "NotImplemented",
    message: "The part sizes of this multipart object were not recorded.",
  },
  "part-number-not-satisfiable": { code: "InvalidPartNumber" },
  "bad-metadata-directive": {
    code: "InvalidArgument",
    message: "x-amz-metadata-directive must be COPY or REPLACE.",
  },
  "delete-count-out-of-range": { code: "MalformedXML", message: "A Delete request names 1 to 1000 objects." },
  "no-such-version": {
    code: "NoSuchKey",
    message: 'Only the version "null" exists: volumes keep no versions.',
  },
  "header-unsupported": {
    code: "NotImplemented",
    message: (p: { name: Shown; why: Shown }) => `${p.name} is not supported: ${p.why}.`,
  },
  "metadata-too-large": { code: "MetadataTooLarge" },
  "bad-copy-source": { code: "InvalidArgument", message: "x-amz-copy-source must be /<bucket>/<key>." },
  "operation-unsupported": {
    code: "NotImplemented",
    message: (p: { which: Shown }) => `The ${p.which} operation is not offered by this gateway.`,
  },
  "method-not-allowed": { code: "MethodNotAllowed" },
  "xml-bare-ampersand": { code: "MalformedXML", message: "A bare & in the XML body." },
  "xml-bad-reference": {
    code: "MalformedXML",
    message: (p: { whole: Shown }) => `The XML body holds a reference XML does not allow: ${p.whole}`,
  },
  "xml-doctype": { code: "MalformedXML", message: "A DOCTYPE is not allowed in the XML body." },
  "xml-malformed": { code: "MalformedXML" },
  "xml-wrong-root": {
    code: "MalformedXML",
    message: (p: { root: Shown }) => `The XML body must have a <${p.root}> root element.`,
  },
  "body-short": {
    code: "IncompleteBody",
    message: (p: { received: Shown; announced: Shown }) =>
      `Received ${p.received} bytes but the request announced ${p.announced}; the upload was not stored.`,
  },
  "content-sha256-mismatch": { code: "XAmzContentSHA256Mismatch" },
  "content-md5-mismatch": {
    code: "BadDigest",
    message: "The Content-MD5 you specified did not match what we received.",
  },
  "checksum-mismatch": {
    code: "BadDigest",
    message: (p: { algorithm: Shown }) =>
      `The ${p.algorithm} you specified did not match the calculated checksum.`,
  },
  "content-md5-invalid": {
    code: "InvalidDigest",
    message: "The Content-MD5 you specified is not the base64 of a 16-byte MD5.",
  },
  "trailer-unsupported": {
    code: "InvalidArgument",
    message: (p: { trailer: Shown }) => `Unsupported trailing header "${p.trailer}".`,
  },
  "bad-decoded-length": {
    code: "InvalidArgument",
    message: "The announced content length is not a valid number.",
  },
  "trailer-missing": {
    code: "InvalidRequest",
    message: (p: { name: Shown }) => `The body did not carry the announced ${p.name} trailer.`,
  },
  "client-closed-mid-body": { code: "IncompleteBody", message: "The client closed the connection mid-body." },
  "checksum-algorithm-unsupported": {
    code: "InvalidArgument",
    message: (p: { value: Shown }) =>
      `Unsupported checksum algorithm "${p.value}"; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.`,
  },
  "content-sha256-missing": {
    code: "InvalidRequest",
    message: "Missing required header for this request: x-amz-content-sha256.",
  },
  "sigv4a-unsupported": {
    code: "NotImplemented",
    message: "SigV4a (ECDSA) streaming signatures are not supported; use SigV4.",
  },
  "content-sha256-unknown": {
    code: "InvalidArgument",
    message: (p: { value: Shown }) => `x-amz-content-sha256 has an unknown value "${p.value}".`,
  },
  "clock-skewed": {
    code: "RequestTimeTooSkewed",
    message: (p: { requestTime: Shown; minutes: Shown; serverTime: Shown }) =>
      `The request time ${p.requestTime} is more than ${p.minutes} minutes from the server time ${p.serverTime}; fix the client's clock.`,
  },
  "unknown-access-key": { code: "InvalidAccessKeyId" },
  "scope-wrong-service": {
    code: "AuthorizationHeaderMalformed",
    message: (p: { service: Shown }) => `The credential scope names service "${p.service}", not "s3".`,
  },
  "signature-mismatch": { code: "SignatureDoesNotMatch" },
  "sigv2-presign-unsupported": {
    code: "InvalidRequest",
    message:
      'Signature Version 2 presigned URLs are not supported; presign with SigV4 (boto3: Config(signature_version="s3v4")).',
  },
  "anonymous-request": {
    code: "AccessDenied",
    message: "Anonymous access is not allowed; sign requests with an S3 key pair (SigV4).",
  },
  "sigv2-unsupported": {
    code: "InvalidRequest",
    message: "Signature Version 2 is not supported; configure the client for SigV4 (s3v4).",
  },
  "authorization-malformed": { code: "AuthorizationHeaderMalformed" },
  "request-date-missing": {
    code: "AccessDenied",
    message: "The request has no valid x-amz-date or Date header.",
  },
  "scope-date-mismatch": {
    code: "AuthorizationHeaderMalformed",
    message: "The credential scope date does not match x-amz-date.",
  },
  "host-unsigned": { code: "AuthorizationHeaderMalformed", message: "The Host header must be signed." },
  "presign-bad-algorithm": {
    code: "AuthorizationQueryParametersError",
    message: (p: { algorithm: Shown }) => `X-Amz-Algorithm must be ${p.algorithm}.`,
  },
  "presign-malformed": { code: "AuthorizationQueryParametersError" },
  "presign-bad-expires": {
    code: "AuthorizationQueryParametersError",
    message: "X-Amz-Expires must be a number of seconds between 1 and 604800 (7 days).",
  },
  "presign-scope-date-mismatch": {
    code: "AuthorizationQueryParametersError",
    message: "The credential scope date does not match X-Amz-Date.",
  },
  "presign-expired": {
    code: "AccessDenied",
    message: (p: { validUntil: Shown }) => `Request has expired: the URL was valid until ${p.validUntil}.`,
  },
  "chunked-no-final-chunk": {
    code: "IncompleteBody",
    message: "The aws-chunked body ended before its final chunk.",
  },
  "chunked-length-mismatch": {
    code: "IncompleteBody",
    message: (p: { decoded: Shown; decodedLength: Shown }) =>
      `The body decoded to ${p.decoded} bytes but x-amz-decoded-content-length says ${p.decodedLength}.`,
  },
  "chunked-line-too-long": { code: "InvalidRequest", message: "An aws-chunked header line is too long." },
  "chunked-missing-crlf": {
    code: "InvalidRequest",
    message: "An aws-chunked chunk is not followed by CRLF.",
  },
  "chunked-bad-header": { code: "InvalidRequest", message: "An aws-chunked chunk header is malformed." },
  "chunked-signature-missing": {
    code: "SignatureDoesNotMatch",
    message: "A chunk of a signed aws-chunked body has no chunk-signature.",
  },
  "chunked-signature-mismatch": {
    code: "SignatureDoesNotMatch",
    message: "A chunk signature of the aws-chunked body does not match.",
  },
  "chunked-bad-trailer": {
    code: "InvalidRequest",
    message: "A trailing header of the aws-chunked body is malformed.",
  },
  "trailer-signature-missing": {
    code: "SignatureDoesNotMatch",
    message: "The signed trailer has no x-amz-trailer-signature.",
  },
  "trailer-signature-mismatch": {
    code: "SignatureDoesNotMatch",
    message: "The trailer signature of the aws-chunked body does not match.",
  },
  "uri-not-utf8": {
    code: "InvalidURI",
    message: "The key (or bucket) is not valid UTF-8 once percent-decoded.",
  },
  "body-incomplete": { code: "IncompleteBody" },
  "parts-lack-checksums": {
    code: "InvalidRequest",
    message: (p: { algorithm: Shown }) =>
      `The parts carry no ${p.algorithm} checksums, so a composite checksum cannot be checked.`,
  },
  "multipart-checksum-mismatch": {
    code: "BadDigest",
    message: (p: { kind: Shown; algorithm: Shown }) =>
      `The ${p.kind} ${p.algorithm} you specified did not match the calculated checksum.`,
  },
  "copy-onto-directory-marker": {
    code: "InvalidRequest",
    message: "Cannot copy an object onto a directory marker key.",
  },
  "copy-onto-itself": {
    code: "InvalidRequest",
    message:
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata.",
  },
  "conditional-delete-of-marker": {
    code: "NotImplemented",
    message: "Conditional deletes of directory markers are not supported.",
  },
  "delete-raced-write": {
    code: "ConditionalRequestConflict",
    message: "Another write replaced the object while this delete was checked.",
  },
  "bucket-not-found": {
    code: "NoSuchBucket",
    message: (p: { bucket: Shown }) => `The bucket (volume) "${p.bucket}" does not exist.`,
  },
  "symlink-escapes-volume": {
    code: "AccessDenied",
    message: "The key resolves (through a symlink) outside the volume.",
  },
  "symlink-leads-outside-volume": {
    code: "AccessDenied",
    message: "The key leads (through a symlink) outside the volume.",
  },
  "upload-not-found": { code: "NoSuchUpload" },
  "multipart-of-marker": {
    code: "InvalidArgument",
    message: "A directory marker key cannot be a multipart upload.",
  },
  "part-too-large": { code: "EntityTooLarge", message: "A part is at most 5 GiB." },
  "copy-source-range-outside": {
    code: "InvalidArgument",
    message: (p: { size: Shown }) =>
      `The x-amz-copy-source-range is outside the ${p.size}-byte source object.`,
  },
  "upload-completing-elsewhere": {
    code: "InternalError",
    message: "Another gateway is still completing this upload.",
  },
  "complete-without-parts": {
    code: "MalformedXML",
    message: "CompleteMultipartUpload needs at least one part.",
  },
  "parts-out-of-order": { code: "InvalidPartOrder" },
  "part-not-uploaded": {
    code: "InvalidPart",
    message: (p: { partNumber: Shown }) =>
      `Part ${p.partNumber} was not uploaded or its ETag does not match.`,
  },
  "part-checksum-mismatch": {
    code: "InvalidPart",
    message: (p: { partNumber: Shown }) =>
      `The checksum given for part ${p.partNumber} does not match the uploaded part.`,
  },
  "part-too-small": {
    code: "EntityTooSmall",
    message: (p: { partNumber: Shown; size: Shown }) =>
      `Part ${p.partNumber} is ${p.size} bytes; every part but the last must be at least 5 MiB.`,
  },
  "upload-exceeds-free-space": {
    code: "EntityTooLarge",
    message: (p: { size: Shown; free: Shown }) =>
      `The upload is ${p.size} bytes but the volume has only ${p.free} bytes free; free space or grow the volume.`,
  },
  "write-raced-write": {
    code: "ConditionalRequestConflict",
    message: "Another write replaced the object while this one was checked.",
  },
  "bucket-exists": { code: "BucketAlreadyOwnedByYou" },
  "bucket-not-empty": {
    code: "BucketNotEmpty",
    message: (p: { bucket: Shown }) => `The volume "${p.bucket}" still holds objects; delete them first.`,
  },
  "conditional-write-of-marker": {
    code: "NotImplemented",
    message: "Conditional writes of directory markers are not supported.",
  },
  "copy-of-marker": { code: "InvalidRequest", message: "Directory markers cannot be copied." },
  "key-empty": { code: "InvalidArgument", message: "The object key is empty." },
  "key-too-long": {
    code: "KeyTooLongError",
    message: (p: { maxBytes: Shown }) => `Object keys are at most ${p.maxBytes} bytes.`,
  },
  "key-bad-segment": {
    code: "InvalidArgument",
    message: (p: { key: Shown }) =>
      `The key "${p.key}" has an empty, "." or ".." path segment; keys are file paths inside the volume.`,
  },
  "key-bad-character": {
    code: "InvalidArgument",
    message: (p: { key: Shown }) => `The key "${p.key}" contains a backslash or NUL, which is not allowed.`,
  },
  "key-segment-over-limit": {
    code: "KeyTooLongError",
    message: (p: { maxBytes: Shown }) =>
      `A path segment of the key is longer than ${p.maxBytes} bytes, the file system's limit.`,
  },
  "key-reserved": {
    code: "InvalidArgument",
    message: (p: { dir: Shown }) => `Keys under ${p.dir}/ are reserved for the gateway.`,
  },
  "bucket-name-invalid": {
    code: "InvalidBucketName",
    message: (p: { name: Shown }) =>
      `"${p.name}" is not a valid bucket (volume id): use 3-63 of a-z 0-9 . -.`,
  },
  "object-shrank": { code: "InternalError", message: "The object became shorter while it was being sent." },
  "conditional-write-running": {
    code: "ConditionalRequestConflict",
    message: "Another conditional write to this key is still running.",
  },
  "marker-with-body": {
    code: "InvalidArgument",
    message: "A key ending in / is a directory marker and must have an empty body.",
  },
  "file-has-marker-name": { code: "ObjectParentIsFile", message: "A file already has this name." },
} as const satisfies Record<string, ReasonEntry>;

export type S3Reason = keyof typeof S3_REASONS;
