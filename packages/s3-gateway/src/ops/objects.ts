import type { ObjectInfo } from "../backend/types.js";
import { S3Error, s3ErrorFor } from "../errors/s3-errors.js";
import { sendEmpty, sendXml } from "../http/respond.js";
import { parseXmlBody, textOf, type XmlNode } from "../xml/xml.js";
import { payloadInput, readSmallBody, requireAccess } from "./body.js";
import { evaluateConditions, parseRange, precheckWrite, writeConditionOf } from "./conditions.js";
import type { OpContext } from "./context.js";
import {
  applyResponseOverrides,
  metaFromHeaders,
  objectHeaders,
  parseCopySource,
  refuseUnsupportedWriteHeaders,
} from "./metadata.js";

function target(ctx: OpContext): { bucket: string; key: string } {
  return { bucket: ctx.s3.bucket!, key: ctx.s3.key! };
}

async function getOrHead(ctx: OpContext, withBody: boolean): Promise<number> {
  const { bucket, key } = target(ctx);
  const object = await ctx.backend.openObject(bucket, key);
  try {
    const { info } = object;
    const outcome = evaluateConditions(ctx.s3.header, info.etag, info.lastModified, true);
    if (outcome === "precondition-failed") throw s3ErrorFor("precondition-failed");
    if (outcome === "not-modified") {
      return sendEmpty(ctx.res, 304, {
        etag: `"${info.etag}"`,
        "last-modified": info.lastModified.toUTCString(),
      });
    }
    const part = partOf(ctx, info);
    const range = part?.range ?? parseRange(ctx.s3.header("range"), info.size);
    const checksumMode = ctx.s3.header("x-amz-checksum-mode")?.toUpperCase() === "ENABLED";
    const headers = objectHeaders(info, checksumMode && range === undefined);
    applyResponseOverrides(headers, ctx.s3.param);
    const length = range ? range.end - range.start + 1 : info.size;
    headers["content-length"] = String(length);
    if (range) headers["content-range"] = `bytes ${range.start}-${range.end}/${info.size}`;
    if (part?.count !== undefined) headers["x-amz-mp-parts-count"] = String(part.count);
    // A single-part object's part 1 is the whole object: a plain 200, as S3 answers it.
    const partial = range !== undefined && !(part !== undefined && part.count === undefined);
    ctx.res.writeHead(partial ? 206 : 200, headers);
    if (!withBody || length === 0) {
      ctx.res.end();
      return 0;
    }
    await object.send(ctx.res, range);
    return length;
  } finally {
    await object.close();
  }
}

/**
 * GET/HEAD ?partNumber=N: the bytes of part N of a multipart object (its parts' sizes are kept
 * with it) and how many parts it has; part 1 of any other object is the whole object.
 */
function partOf(
  ctx: OpContext,
  info: ObjectInfo,
): { range?: { start: number; end: number }; count?: number } | undefined {
  const value = ctx.s3.param("partNumber");
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw s3ErrorFor("bad-part-number", {
      ArgumentName: "partNumber",
    });
  }
  if (ctx.s3.header("range") !== undefined) {
    throw s3ErrorFor("range-and-part-number");
  }
  const multipart = /-(\d+)$/.exec(info.etag);
  if (!info.parts) {
    if (multipart && Number(multipart[1]) > 1) {
      throw s3ErrorFor("part-sizes-unrecorded");
    }
    if (n !== 1) throw s3ErrorFor("part-number-not-satisfiable");
    return info.size > 0 ? { range: { start: 0, end: info.size - 1 } } : {};
  }
  let start = 0;
  let index = 0;
  for (const [size, count] of info.parts) {
    if (n <= index + count) {
      start += (n - 1 - index) * size;
      const total = info.parts.reduce((sum, [, c]) => sum + c, 0);
      return { ...(size > 0 ? { range: { start, end: start + size - 1 } } : {}), count: total };
    }
    start += size * count;
    index += count;
  }
  throw s3ErrorFor("part-number-not-satisfiable");
}

export const getObject = (ctx: OpContext) => getOrHead(ctx, true);
export const headObject = (ctx: OpContext) => getOrHead(ctx, false);

/** What the key holds now (its ETag), for a conditional write's early check. */
async function currentEtag(ctx: OpContext, bucket: string, key: string): Promise<string | undefined> {
  return ctx.backend.headObject(bucket, key).then(
    (info) => info.etag,
    (err: S3Error) => {
      if (err.code === "NoSuchKey") return undefined;
      throw err;
    },
  );
}

/** The write condition of this request, checked early against the key's current ETag. */
export async function conditionFor(ctx: OpContext, bucket: string, key: string) {
  const condition = writeConditionOf(ctx.s3.header);
  if (condition) precheckWrite(condition, await currentEtag(ctx, bucket, key), key);
  return condition;
}

export async function putObject(ctx: OpContext): Promise<number> {
  const { bucket, key } = target(ctx);
  refuseUnsupportedWriteHeaders(ctx.s3.header);
  const meta = metaFromHeaders(ctx.s3.header, Object.keys(ctx.req.headers));
  const condition = await conditionFor(ctx, bucket, key);
  const info = await ctx.backend.putObject(bucket, key, payloadInput(ctx), meta, condition);
  const headers: Record<string, string> = { etag: `"${info.etag}"` };
  if (info.meta.checksum)
    headers[`x-amz-checksum-${info.meta.checksum.algorithm}`] = info.meta.checksum.base64;
  return sendEmpty(ctx.res, 200, headers);
}

/** Map x-amz-copy-source-if-* onto the ordinary conditional header names. */
function copySourceConditions(header: (name: string) => string | undefined) {
  return (name: string) => header(`x-amz-copy-source-${name}`);
}

export async function copyObject(ctx: OpContext): Promise<number> {
  const dest = target(ctx);
  const source = parseCopySource(ctx.s3.header("x-amz-copy-source")!);
  requireAccess(ctx, source.bucket);
  refuseUnsupportedWriteHeaders(ctx.s3.header);
  const directive = (ctx.s3.header("x-amz-metadata-directive") ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE") {
    throw s3ErrorFor("bad-metadata-directive");
  }
  const sourceInfo = await ctx.backend.headObject(source.bucket, source.key);
  const outcome = evaluateConditions(
    copySourceConditions(ctx.s3.header),
    sourceInfo.etag,
    sourceInfo.lastModified,
    false,
  );
  if (outcome !== "proceed") throw s3ErrorFor("precondition-failed");
  const meta =
    directive === "REPLACE" ? metaFromHeaders(ctx.s3.header, Object.keys(ctx.req.headers)) : undefined;
  const condition = await conditionFor(ctx, dest.bucket, dest.key);
  // Drain the (empty) request body before answering.
  ctx.req.resume();
  const info = await ctx.backend.copyObject(source, dest, meta, condition);
  return sendXml(ctx.res, 200, "CopyObjectResult", {
    LastModified: info.lastModified.toISOString(),
    ETag: `"${info.etag}"`,
  });
}

export async function deleteObject(ctx: OpContext): Promise<number> {
  const { bucket, key } = target(ctx);
  const condition = writeConditionOf(ctx.s3.header, false);
  await ctx.backend.deleteObject(bucket, key, condition);
  return sendEmpty(ctx.res, 204);
}

export async function deleteObjects(ctx: OpContext): Promise<number> {
  const bucket = ctx.s3.bucket!;
  const doc = parseXmlBody(await readSmallBody(ctx), "Delete");
  const quiet = textOf(doc, "Quiet")?.trim().toLowerCase() === "true";
  const objects = (doc.Object as XmlNode[] | undefined) ?? [];
  if (objects.length === 0 || objects.length > 1000) {
    throw s3ErrorFor("delete-count-out-of-range");
  }
  const deleted: XmlNode[] = [];
  const errors: XmlNode[] = [];
  for (const object of objects) {
    const key = textOf(object, "Key") ?? "";
    const versionId = textOf(object, "VersionId");
    const etag = textOf(object, "ETag")?.trim().replace(/^"|"$/g, "");
    try {
      if (versionId !== undefined && versionId !== "null") {
        throw s3ErrorFor("no-such-version");
      }
      await ctx.backend.deleteObject(bucket, key, etag !== undefined ? { ifMatch: etag } : undefined);
      if (!quiet) deleted.push({ Key: key, ...(versionId !== undefined ? { VersionId: versionId } : {}) });
    } catch (err) {
      const e = err instanceof S3Error ? err : s3ErrorFor("unexpected");
      errors.push({ Key: key, Code: e.code, Message: e.message });
    }
  }
  return sendXml(ctx.res, 200, "DeleteResult", {
    ...(deleted.length > 0 ? { Deleted: deleted } : {}),
    ...(errors.length > 0 ? { Error: errors } : {}),
  });
}
