import { CHECKSUM_ALGORITHMS, parseChecksumAlgorithm } from "../auth/checksums.js";
import type { ExpectedChecksum } from "../backend/types.js";
import { isS3Error, s3ErrorFor, s3ErrorFromFs } from "../errors/s3-errors.js";
import { endXml, errorBody, keepAliveWhitespace, sendEmpty, sendXml } from "../http/respond.js";
import { parseXmlBody, textOf, type XmlNode } from "../xml/xml.js";
import { payloadInput, readSmallBody, requireAccess } from "./body.js";
import type { OpContext } from "./context.js";
import { metaFromHeaders, parseCopySource, refuseUnsupportedWriteHeaders } from "./metadata.js";
import { conditionFor } from "./objects.js";

function uploadIdOf(ctx: OpContext): string {
  return ctx.s3.param("uploadId") ?? "";
}

function partNumberOf(ctx: OpContext): number {
  const n = Number(ctx.s3.param("partNumber"));
  if (!Number.isInteger(n) || n < 1 || n > 10000) {
    throw s3ErrorFor("bad-part-number");
  }
  return n;
}

function intParam(ctx: OpContext, name: string, fallback: number, max: number): number {
  const value = ctx.s3.param(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw s3ErrorFor("not-a-count", { name });
  return Math.min(n, max);
}

export async function createMultipartUpload(ctx: OpContext): Promise<number> {
  refuseUnsupportedWriteHeaders(ctx.s3.header);
  const meta = metaFromHeaders(ctx.s3.header, Object.keys(ctx.req.headers));
  const algorithm = parseChecksumAlgorithm(ctx.s3.header("x-amz-checksum-algorithm"));
  const typeHeader = ctx.s3.header("x-amz-checksum-type")?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== "COMPOSITE" && typeHeader !== "FULL_OBJECT") {
    throw s3ErrorFor("bad-checksum-type");
  }
  ctx.req.resume();
  const upload = await ctx.backend.createMultipartUpload(
    ctx.s3.bucket!,
    ctx.s3.key!,
    meta,
    algorithm
      ? { algorithm, ...(typeHeader ? { type: typeHeader as "COMPOSITE" | "FULL_OBJECT" } : {}) }
      : undefined,
  );
  if (upload.checksumAlgorithm) {
    ctx.res.setHeader("x-amz-checksum-algorithm", upload.checksumAlgorithm.toUpperCase());
    ctx.res.setHeader("x-amz-checksum-type", upload.checksumType ?? "COMPOSITE");
  }
  return sendXml(ctx.res, 200, "InitiateMultipartUploadResult", {
    Bucket: ctx.s3.bucket!,
    Key: ctx.s3.key!,
    UploadId: upload.uploadId,
  });
}

export async function uploadPart(ctx: OpContext): Promise<number> {
  const part = await ctx.backend.uploadPart(
    ctx.s3.bucket!,
    ctx.s3.key!,
    uploadIdOf(ctx),
    partNumberOf(ctx),
    payloadInput(ctx),
  );
  const headers: Record<string, string> = { etag: `"${part.etag}"` };
  if (part.checksum) headers[`x-amz-checksum-${part.checksum.algorithm}`] = part.checksum.base64;
  return sendEmpty(ctx.res, 200, headers);
}

export async function uploadPartCopy(ctx: OpContext): Promise<number> {
  const source = parseCopySource(ctx.s3.header("x-amz-copy-source")!);
  requireAccess(ctx, source.bucket);
  const rangeHeader = ctx.s3.header("x-amz-copy-source-range");
  let range: { start: number; end: number } | undefined;
  if (rangeHeader !== undefined) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
    if (!m) throw s3ErrorFor("bad-copy-source-range");
    range = { start: Number(m[1]), end: Number(m[2]) };
  }
  ctx.req.resume();
  const part = await ctx.backend.uploadPartCopy(
    ctx.s3.bucket!,
    ctx.s3.key!,
    uploadIdOf(ctx),
    partNumberOf(ctx),
    {
      ...source,
      ...(range ? { range } : {}),
    },
  );
  return sendXml(ctx.res, 200, "CopyPartResult", {
    LastModified: part.lastModified.toISOString(),
    ETag: `"${part.etag}"`,
  });
}

/**
 * On CompleteMultipartUpload an x-amz-checksum-<alg> header is the whole object's checksum:
 * composite (`<b64>-N`, or x-amz-checksum-type: COMPOSITE) or FULL_OBJECT.
 */
function objectChecksumOf(header: (name: string) => string | undefined): ExpectedChecksum | undefined {
  const typeHeader = header("x-amz-checksum-type")?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== "COMPOSITE" && typeHeader !== "FULL_OBJECT") {
    throw s3ErrorFor("bad-checksum-type");
  }
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = header(`x-amz-checksum-${algorithm}`)?.trim();
    if (value === undefined) continue;
    const composite = /-\d+$/.test(value);
    const type = typeHeader ?? (composite ? "COMPOSITE" : "FULL_OBJECT");
    return { algorithm, base64: value, type: type as ExpectedChecksum["type"] };
  }
  return undefined;
}

export async function completeMultipartUpload(ctx: OpContext): Promise<number> {
  const objectChecksum = objectChecksumOf(ctx.s3.header);
  // The XML body itself carries no checksum of its own here: x-amz-checksum-* name the object.
  const bodyHeader = (name: string) =>
    name.startsWith("x-amz-checksum-") || name === "x-amz-sdk-checksum-algorithm"
      ? undefined
      : ctx.s3.header(name);
  const doc = parseXmlBody(await readSmallBody(ctx, undefined, bodyHeader), "CompleteMultipartUpload");
  const parts = ((doc.Part as XmlNode[] | undefined) ?? []).map((p) => {
    const partNumber = Number(textOf(p, "PartNumber"));
    const etag = textOf(p, "ETag");
    if (!Number.isInteger(partNumber) || etag === undefined) {
      throw s3ErrorFor("part-missing-fields");
    }
    const checksum = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]
      .map((alg) => textOf(p, `Checksum${alg}`))
      .find((v) => v !== undefined);
    return { partNumber, etag, ...(checksum !== undefined ? { checksum } : {}) };
  });
  const condition = await conditionFor(ctx, ctx.s3.bucket!, ctx.s3.key!);
  const keepAlive = keepAliveWhitespace(ctx.res, ctx.settings.completeKeepAliveMs);
  let info: Awaited<ReturnType<typeof ctx.backend.completeMultipartUpload>>;
  try {
    info = await ctx.backend.completeMultipartUpload(
      ctx.s3.bucket!,
      ctx.s3.key!,
      uploadIdOf(ctx),
      parts,
      condition,
      objectChecksum,
    );
  } catch (err) {
    keepAlive.stop();
    if (!keepAlive.started) throw err;
    // The status line (200) is out: the error travels in the body, as S3 sends it.
    const failure = isS3Error(err) ? err : s3ErrorFromFs(err, { key: ctx.s3.key! });
    return endXml(ctx.res, "Error", errorBody(ctx.res, failure, ctx.s3.rawPath), false);
  }
  keepAlive.stop();
  const checksum = info.meta.checksum;
  const result = {
    Location: `/${ctx.s3.bucket!}/${ctx.s3.key!}`,
    Bucket: ctx.s3.bucket!,
    Key: ctx.s3.key!,
    ETag: `"${info.etag}"`,
    ...(checksum
      ? { [`Checksum${checksum.algorithm.toUpperCase()}`]: checksum.base64, ChecksumType: checksum.type }
      : {}),
  };
  if (keepAlive.started) return endXml(ctx.res, "CompleteMultipartUploadResult", result);
  if (checksum) ctx.res.setHeader("x-amz-checksum-type", checksum.type);
  return sendXml(ctx.res, 200, "CompleteMultipartUploadResult", result);
}

export async function abortMultipartUpload(ctx: OpContext): Promise<number> {
  await ctx.backend.abortMultipartUpload(ctx.s3.bucket!, ctx.s3.key!, uploadIdOf(ctx));
  return sendEmpty(ctx.res, 204);
}

export async function listParts(ctx: OpContext): Promise<number> {
  const { upload, parts } = await ctx.backend.listParts(ctx.s3.bucket!, ctx.s3.key!, uploadIdOf(ctx));
  const marker = intParam(ctx, "part-number-marker", 0, 10000);
  const maxParts = intParam(ctx, "max-parts", 1000, 1000);
  const after = parts.filter((p) => p.partNumber > marker);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  const id = ctx.auth.credential.accessKeyId;
  return sendXml(ctx.res, 200, "ListPartsResult", {
    Bucket: ctx.s3.bucket!,
    Key: ctx.s3.key!,
    UploadId: upload.uploadId,
    Initiator: { ID: id, DisplayName: id },
    Owner: { ID: id, DisplayName: id },
    StorageClass: "STANDARD",
    PartNumberMarker: marker,
    ...(truncated ? { NextPartNumberMarker: page[page.length - 1]!.partNumber } : {}),
    MaxParts: maxParts,
    IsTruncated: truncated,
    ...(upload.checksumAlgorithm ? { ChecksumAlgorithm: upload.checksumAlgorithm.toUpperCase() } : {}),
    Part: page.map((p) => ({
      PartNumber: p.partNumber,
      LastModified: p.lastModified.toISOString(),
      ETag: `"${p.etag}"`,
      Size: p.size,
      ...(p.checksum ? { [`Checksum${p.checksum.algorithm.toUpperCase()}`]: p.checksum.base64 } : {}),
    })),
  });
}

export async function listMultipartUploads(ctx: OpContext): Promise<number> {
  const prefix = ctx.s3.param("prefix") ?? "";
  const delimiter = ctx.s3.param("delimiter") ?? "";
  const keyMarker = ctx.s3.param("key-marker") ?? "";
  const idMarker = ctx.s3.param("upload-id-marker") ?? "";
  const maxUploads = intParam(ctx, "max-uploads", 1000, 1000);
  const all = (await ctx.backend.listMultipartUploads(ctx.s3.bucket!))
    .filter((u) => u.key.startsWith(prefix))
    .sort(
      (a, b) =>
        Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)) ||
        a.initiated.getTime() - b.initiated.getTime(),
    );
  const after = all.filter(
    (u) => u.key > keyMarker || (u.key === keyMarker && idMarker !== "" && u.uploadId > idMarker),
  );
  const uploads: typeof all = [];
  const prefixes: string[] = [];
  let truncated = false;
  for (const u of after) {
    const rest = u.key.slice(prefix.length);
    const at = delimiter ? rest.indexOf(delimiter) : -1;
    const cp = at >= 0 ? prefix + rest.slice(0, at + delimiter.length) : undefined;
    if (cp !== undefined && prefixes.includes(cp)) continue;
    if (uploads.length + prefixes.length >= maxUploads) {
      truncated = true;
      break;
    }
    if (cp !== undefined) prefixes.push(cp);
    else uploads.push(u);
  }
  const last = uploads[uploads.length - 1];
  const id = ctx.auth.credential.accessKeyId;
  return sendXml(ctx.res, 200, "ListMultipartUploadsResult", {
    Bucket: ctx.s3.bucket!,
    KeyMarker: keyMarker,
    UploadIdMarker: idMarker,
    ...(truncated && last ? { NextKeyMarker: last.key, NextUploadIdMarker: last.uploadId } : {}),
    Prefix: prefix,
    ...(delimiter ? { Delimiter: delimiter } : {}),
    MaxUploads: maxUploads,
    IsTruncated: truncated,
    Upload: uploads.map((u) => ({
      Key: u.key,
      UploadId: u.uploadId,
      Initiator: { ID: id, DisplayName: id },
      Owner: { ID: id, DisplayName: id },
      StorageClass: "STANDARD",
      Initiated: u.initiated.toISOString(),
      ...(u.checksumAlgorithm ? { ChecksumAlgorithm: u.checksumAlgorithm.toUpperCase() } : {}),
    })),
    ...(prefixes.length > 0 ? { CommonPrefixes: prefixes.map((p) => ({ Prefix: p })) } : {}),
  });
}
