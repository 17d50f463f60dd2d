import { s3ErrorFor } from "../errors/s3-errors.js";
import type { S3Request } from "../http/request.js";
import * as buckets from "./buckets.js";
import type { OpHandler } from "./context.js";
import * as list from "./list.js";
import * as multipart from "./multipart.js";
import * as objects from "./objects.js";

export interface Route {
  /** The S3 operation name, as AWS documents it (used in logs and metrics). */
  op: string;
  handler: OpHandler;
}

/** Sub-resources we know but do not offer; asking for them is NotImplemented, not a listing. */
const UNSUPPORTED = [
  "acl",
  "policy",
  "tagging",
  "cors",
  "lifecycle",
  "encryption",
  "object-lock",
  "retention",
  "legal-hold",
  "website",
  "logging",
  "notification",
  "replication",
  "requestPayment",
  "restore",
  "select",
  "torrent",
  "attributes",
  "accelerate",
  "analytics",
  "inventory",
  "metrics",
  "ownershipControls",
  "publicAccessBlock",
  "intelligent-tiering",
];

function unsupported(s3: S3Request): never {
  const which = UNSUPPORTED.find((name) => s3.has(name)) ?? s3.method;
  throw s3ErrorFor("operation-unsupported", { which });
}

/** Pick the S3 operation from method, bucket/key presence and sub-resource query parameters. */
export function route(s3: S3Request): Route {
  const { method } = s3;
  if (UNSUPPORTED.some((name) => s3.has(name))) unsupported(s3);
  if (s3.bucket === undefined) {
    if (method === "GET") return { op: "ListBuckets", handler: buckets.listBuckets };
    throw s3ErrorFor("method-not-allowed");
  }
  if (s3.key === undefined) {
    switch (method) {
      case "GET":
        if (s3.has("location")) return { op: "GetBucketLocation", handler: buckets.getBucketLocation };
        if (s3.has("versioning")) return { op: "GetBucketVersioning", handler: buckets.getBucketVersioning };
        if (s3.has("uploads")) return { op: "ListMultipartUploads", handler: multipart.listMultipartUploads };
        if (s3.has("versions")) return { op: "ListObjectVersions", handler: list.listObjectVersions };
        if (s3.param("list-type") === "2") return { op: "ListObjectsV2", handler: list.listObjectsV2 };
        return { op: "ListObjects", handler: list.listObjectsV1 };
      case "HEAD":
        return { op: "HeadBucket", handler: buckets.headBucket };
      case "PUT":
        if (s3.query.length > 0) unsupported(s3);
        return { op: "CreateBucket", handler: buckets.createBucket };
      case "DELETE":
        if (s3.query.length > 0) unsupported(s3);
        return { op: "DeleteBucket", handler: buckets.deleteBucket };
      case "POST":
        if (s3.has("delete")) return { op: "DeleteObjects", handler: objects.deleteObjects };
        unsupported(s3);
        break;
    }
    throw s3ErrorFor("method-not-allowed");
  }
  switch (method) {
    case "GET":
      if (s3.has("uploadId")) return { op: "ListParts", handler: multipart.listParts };
      return { op: "GetObject", handler: objects.getObject };
    case "HEAD":
      return { op: "HeadObject", handler: objects.headObject };
    case "PUT":
      if (s3.has("uploadId") || s3.has("partNumber")) {
        return s3.header("x-amz-copy-source") !== undefined
          ? { op: "UploadPartCopy", handler: multipart.uploadPartCopy }
          : { op: "UploadPart", handler: multipart.uploadPart };
      }
      if (s3.header("x-amz-copy-source") !== undefined)
        return { op: "CopyObject", handler: objects.copyObject };
      return { op: "PutObject", handler: objects.putObject };
    case "POST":
      if (s3.has("uploads")) return { op: "CreateMultipartUpload", handler: multipart.createMultipartUpload };
      if (s3.has("uploadId"))
        return { op: "CompleteMultipartUpload", handler: multipart.completeMultipartUpload };
      unsupported(s3);
      break;
    case "DELETE":
      if (s3.has("uploadId")) return { op: "AbortMultipartUpload", handler: multipart.abortMultipartUpload };
      return { op: "DeleteObject", handler: objects.deleteObject };
  }
  throw s3ErrorFor("method-not-allowed");
}
