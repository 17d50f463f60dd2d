import type { Readable, Writable } from "node:stream";
import type { ChecksumAlgorithm } from "../auth/checksums.js";
import type { PayloadDigest } from "../auth/payload.js";

/** Object metadata that persists with the data: content headers, user metadata, checksum. */
export interface ObjectMeta {
  contentType?: string;
  /** content-encoding, content-disposition, content-language, cache-control, expires. */
  headers: Record<string, string>;
  /** `x-amz-meta-*` without the prefix, names lower-case. */
  userMeta: Record<string, string>;
  checksum?: StoredChecksum;
}

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  base64: string;
  type: "FULL_OBJECT" | "COMPOSITE";
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  /** Without quotes: a hex MD5, or `<hex>-N` for multipart uploads. */
  etag: string;
  meta: ObjectMeta;
  /** Multipart objects: part sizes as runs of [size, count] (for GET/HEAD ?partNumber=N). */
  parts?: Array<[number, number]>;
}

export interface OpenObject {
  info: ObjectInfo;
  /** Send [start, end] (inclusive) of the opened file to `out` and end it; the file then closes. */
  send(out: Writable, range?: { start: number; end: number }): Promise<void>;
  close(): Promise<void>;
}

/** A body that verifies itself: `digest()` is valid once `body` has ended without error. */
export interface WriteInput {
  body: Readable;
  digest: () => PayloadDigest;
  declaredSize?: number;
}

export type ListEntry = { kind: "object"; key: string } | { kind: "prefix"; prefix: string };

export interface ListQuery {
  prefix: string;
  /** Only "/" is pushed down into the walk; other delimiters are grouped by the caller. */
  delimiter: string;
  /** Return only entries strictly after this key (marker / start-after / continuation token). */
  after: string;
}

export interface UploadInfo {
  uploadId: string;
  key: string;
  initiated: Date;
  meta: ObjectMeta;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: "FULL_OBJECT" | "COMPOSITE";
}

/** The checksum an upload was created with (x-amz-checksum-algorithm / -type). */
export interface ChecksumChoice {
  algorithm: ChecksumAlgorithm;
  type?: "FULL_OBJECT" | "COMPOSITE";
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: Date;
  checksum?: { algorithm: ChecksumAlgorithm; base64: string };
}

/**
 * The whole object's checksum a CompleteMultipartUpload announces (x-amz-checksum-<alg>): the
 * composite of the parts' checksums (`<b64>-N`) or, with x-amz-checksum-type: FULL_OBJECT, the
 * checksum of all the bytes.
 */
export interface ExpectedChecksum {
  algorithm: ChecksumAlgorithm;
  base64: string;
  type: "FULL_OBJECT" | "COMPOSITE";
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
  checksum?: string;
}

/**
 * A conditional write (If-None-Match: * / If-Match), checked atomically with the commit:
 * PreconditionFailed (412) when it does not hold, ConditionalRequestConflict (409) when another
 * write changed the key between the check and the commit.
 */
export interface WriteCondition {
  /** The key must hold no object. */
  ifNoneMatch?: true;
  /** The key's current ETag (without quotes), or "*" for any existing object. */
  ifMatch?: string;
}

export interface BucketInfo {
  name: string;
  created: Date;
}

/**
 * Storage behind the S3 operations. The POSIX directory backend is the one implementation;
 * the interface keeps the HTTP and S3 layers free of file-system details.
 */
export interface Backend {
  listBuckets(): Promise<BucketInfo[]>;
  headBucket(bucket: string): Promise<void>;
  createBucket(bucket: string): Promise<void>;
  deleteBucket(bucket: string): Promise<void>;

  headObject(bucket: string, key: string): Promise<ObjectInfo>;
  openObject(bucket: string, key: string): Promise<OpenObject>;
  putObject(
    bucket: string,
    key: string,
    input: WriteInput,
    meta: ObjectMeta,
    condition?: WriteCondition,
  ): Promise<ObjectInfo>;
  /** Copy; `meta` undefined keeps the source's metadata (directive COPY). */
  copyObject(
    source: { bucket: string; key: string },
    target: { bucket: string; key: string },
    meta: ObjectMeta | undefined,
    condition?: WriteCondition,
  ): Promise<ObjectInfo>;
  deleteObject(bucket: string, key: string, condition?: WriteCondition): Promise<void>;

  /** Keys and (for "/") common prefixes in S3 byte order, streamed from the directory tree. */
  list(bucket: string, query: ListQuery): AsyncIterable<ListEntry>;
  /** Size, mtime and ETag of one listed key; undefined if it vanished meanwhile. */
  describe(bucket: string, key: string): Promise<ObjectInfo | undefined>;

  createMultipartUpload(
    bucket: string,
    key: string,
    meta: ObjectMeta,
    checksum?: ChecksumChoice,
  ): Promise<UploadInfo>;
  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    input: WriteInput,
  ): Promise<PartInfo>;
  uploadPartCopy(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: { bucket: string; key: string; range?: { start: number; end: number } },
  ): Promise<PartInfo>;
  completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: CompletedPart[],
    condition?: WriteCondition,
    checksum?: ExpectedChecksum,
  ): Promise<ObjectInfo>;
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  listMultipartUploads(bucket: string): Promise<UploadInfo[]>;
  listParts(
    bucket: string,
    key: string,
    uploadId: string,
  ): Promise<{ upload: UploadInfo; parts: PartInfo[] }>;
}
