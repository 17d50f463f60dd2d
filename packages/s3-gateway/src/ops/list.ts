import { uriEncode } from "../auth/sigv4.js";
import type { Backend, ListEntry, ObjectInfo } from "../backend/types.js";
import { s3ErrorFor } from "../errors/s3-errors.js";
import { sendXml } from "../http/respond.js";
import type { XmlNode } from "../xml/xml.js";
import type { OpContext } from "./context.js";

export interface Page {
  keys: string[];
  prefixes: string[];
  truncated: boolean;
  /** The last key or common prefix returned: the next page starts after it. */
  last?: string;
}

/**
 * Take one page from a stream of keys in S3 order: group keys into common prefixes by the
 * delimiter (those the backend did not group already), skip prefixes that the marker shows were
 * returned on an earlier page, and stop after maxKeys entries (keys and prefixes together).
 */
export async function takePage(
  entries: AsyncIterable<ListEntry>,
  options: { prefix: string; delimiter: string; maxKeys: number; after: string },
): Promise<Page> {
  const page: Page = { keys: [], prefixes: [], truncated: false };
  let lastPrefix: string | undefined;
  for await (const entry of entries) {
    let prefix: string | undefined;
    let key: string | undefined;
    if (entry.kind === "prefix") prefix = entry.prefix;
    else if (options.delimiter !== "") {
      const rest = entry.key.slice(options.prefix.length);
      const at = rest.indexOf(options.delimiter);
      if (at >= 0) prefix = options.prefix + rest.slice(0, at + options.delimiter.length);
      else key = entry.key;
    } else key = entry.key;
    if (prefix !== undefined && (prefix === lastPrefix || options.after.startsWith(prefix))) continue;
    if (page.keys.length + page.prefixes.length >= options.maxKeys) {
      page.truncated = true;
      break;
    }
    if (prefix !== undefined) {
      page.prefixes.push(prefix);
      lastPrefix = prefix;
      page.last = prefix;
    } else if (key !== undefined) {
      page.keys.push(key);
      page.last = key;
    }
  }
  return page;
}

export function encodeToken(key: string): string {
  return Buffer.from(key, "utf8").toString("base64url");
}

export function decodeToken(token: string): string {
  const key = Buffer.from(token, "base64url").toString("utf8");
  if (token === "" || encodeToken(key) !== token) {
    throw s3ErrorFor("bad-continuation-token", {
      ArgumentName: "continuation-token",
    });
  }
  return key;
}

function maxKeysOf(value: string | undefined, name: string): number {
  if (value === undefined) return 1000;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw s3ErrorFor("not-a-count", { name });
  return Math.min(n, 1000);
}

/** Describe the page's keys (stat + ETag) a few at a time; keys that vanished meanwhile drop out. */
async function describeAll(backend: Backend, bucket: string, keys: string[]): Promise<ObjectInfo[]> {
  const out: Array<ObjectInfo | undefined> = new Array(keys.length);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const i = next++;
      out[i] = await backend.describe(bucket, keys[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, keys.length) }, worker));
  return out.filter((x): x is ObjectInfo => x !== undefined);
}

interface ListParams {
  prefix: string;
  delimiter: string;
  maxKeys: number;
  after: string;
  encode: (value: string) => string;
  encodingType?: string;
}

function commonParams(ctx: OpContext, maxKeysName: string): ListParams {
  const encodingType = ctx.s3.param("encoding-type");
  if (encodingType !== undefined && encodingType !== "url") {
    throw s3ErrorFor("bad-encoding-type");
  }
  return {
    prefix: ctx.s3.param("prefix") ?? "",
    delimiter: ctx.s3.param("delimiter") ?? "",
    maxKeys: maxKeysOf(ctx.s3.param(maxKeysName), maxKeysName),
    after: "",
    encode: encodingType === "url" ? (v) => uriEncode(v, true) : (v) => v,
    ...(encodingType ? { encodingType } : {}),
  };
}

async function listPage(ctx: OpContext, params: ListParams): Promise<{ page: Page; objects: ObjectInfo[] }> {
  const bucket = ctx.s3.bucket!;
  await ctx.backend.headBucket(bucket);
  const page =
    params.maxKeys === 0
      ? { keys: [], prefixes: [], truncated: false }
      : await takePage(
          ctx.backend.list(bucket, {
            prefix: params.prefix,
            delimiter: params.delimiter,
            after: params.after,
          }),
          params,
        );
  return { page, objects: await describeAll(ctx.backend, bucket, page.keys) };
}

function owner(ctx: OpContext): XmlNode {
  return { ID: ctx.auth.credential.accessKeyId, DisplayName: ctx.auth.credential.accessKeyId };
}

function contents(objects: ObjectInfo[], params: ListParams, ownerNode?: XmlNode): XmlNode[] {
  return objects.map((o) => ({
    Key: params.encode(o.key),
    LastModified: o.lastModified.toISOString(),
    ETag: `"${o.etag}"`,
    Size: o.size,
    ...(ownerNode ? { Owner: ownerNode } : {}),
    StorageClass: "STANDARD",
  }));
}

function prefixesXml(page: Page, params: ListParams): XmlNode {
  return page.prefixes.length > 0
    ? { CommonPrefixes: page.prefixes.map((p) => ({ Prefix: params.encode(p) })) }
    : {};
}

export async function listObjectsV2(ctx: OpContext): Promise<number> {
  const params = commonParams(ctx, "max-keys");
  const token = ctx.s3.param("continuation-token");
  const startAfter = ctx.s3.param("start-after");
  // An empty token is no token (as S3 answers it): the listing starts at start-after.
  params.after = token !== undefined && token !== "" ? decodeToken(token) : (startAfter ?? "");
  const fetchOwner = ctx.s3.param("fetch-owner") === "true";
  const { page, objects } = await listPage(ctx, params);
  return sendXml(ctx.res, 200, "ListBucketResult", {
    Name: ctx.s3.bucket!,
    Prefix: params.encode(params.prefix),
    ...(params.delimiter ? { Delimiter: params.encode(params.delimiter) } : {}),
    MaxKeys: params.maxKeys,
    ...(params.encodingType ? { EncodingType: params.encodingType } : {}),
    KeyCount: objects.length + page.prefixes.length,
    IsTruncated: page.truncated,
    ...(token !== undefined ? { ContinuationToken: token } : {}),
    ...(page.truncated && page.last !== undefined ? { NextContinuationToken: encodeToken(page.last) } : {}),
    ...(startAfter !== undefined ? { StartAfter: params.encode(startAfter) } : {}),
    Contents: contents(objects, params, fetchOwner ? owner(ctx) : undefined),
    ...prefixesXml(page, params),
  });
}

export async function listObjectsV1(ctx: OpContext): Promise<number> {
  const params = commonParams(ctx, "max-keys");
  params.after = ctx.s3.param("marker") ?? "";
  const { page, objects } = await listPage(ctx, params);
  return sendXml(ctx.res, 200, "ListBucketResult", {
    Name: ctx.s3.bucket!,
    Prefix: params.encode(params.prefix),
    Marker: params.encode(params.after),
    MaxKeys: params.maxKeys,
    ...(params.delimiter ? { Delimiter: params.encode(params.delimiter) } : {}),
    ...(params.encodingType ? { EncodingType: params.encodingType } : {}),
    IsTruncated: page.truncated,
    ...(page.truncated && page.last !== undefined ? { NextMarker: params.encode(page.last) } : {}),
    Contents: contents(objects, params, owner(ctx)),
    ...prefixesXml(page, params),
  });
}

/** Volumes keep no versions: every object is listed once, as version "null". */
export async function listObjectVersions(ctx: OpContext): Promise<number> {
  const params = commonParams(ctx, "max-keys");
  const keyMarker = ctx.s3.param("key-marker") ?? "";
  params.after = keyMarker;
  const { page, objects } = await listPage(ctx, params);
  return sendXml(ctx.res, 200, "ListVersionsResult", {
    Name: ctx.s3.bucket!,
    Prefix: params.encode(params.prefix),
    KeyMarker: params.encode(keyMarker),
    VersionIdMarker: ctx.s3.param("version-id-marker") ?? "",
    MaxKeys: params.maxKeys,
    ...(params.delimiter ? { Delimiter: params.encode(params.delimiter) } : {}),
    ...(params.encodingType ? { EncodingType: params.encodingType } : {}),
    IsTruncated: page.truncated,
    ...(page.truncated && page.last !== undefined
      ? { NextKeyMarker: params.encode(page.last), NextVersionIdMarker: "null" }
      : {}),
    Version: objects.map((o) => ({
      Key: params.encode(o.key),
      VersionId: "null",
      IsLatest: true,
      LastModified: o.lastModified.toISOString(),
      ETag: `"${o.etag}"`,
      Size: o.size,
      Owner: owner(ctx),
      StorageClass: "STANDARD",
    })),
    ...prefixesXml(page, params),
  });
}
