import { CredentialStore } from "../auth/credentials.js";
import { s3ErrorFor } from "../errors/s3-errors.js";
import { sendEmpty, sendXml } from "../http/respond.js";
import type { OpContext } from "./context.js";
import { decodeToken, encodeToken } from "./list.js";

/** ListBuckets, paged as S3 pages it: max-buckets (1–10,000), continuation-token, prefix. */
export async function listBuckets(ctx: OpContext): Promise<number> {
  const maxParam = ctx.s3.param("max-buckets");
  const max = maxParam === undefined ? 10_000 : Number(maxParam);
  if (!Number.isInteger(max) || max < 1 || max > 10_000) {
    throw s3ErrorFor("bad-max-buckets", {
      ArgumentName: "max-buckets",
    });
  }
  const token = ctx.s3.param("continuation-token");
  const after = token !== undefined && token !== "" ? decodeToken(token) : "";
  const prefix = ctx.s3.param("prefix") ?? "";
  const visible = (await ctx.backend.listBuckets()).filter(
    (b) =>
      CredentialStore.canAccess(ctx.auth.credential, b.name) && b.name.startsWith(prefix) && b.name > after,
  );
  const page = visible.slice(0, max);
  const id = ctx.auth.credential.accessKeyId;
  return sendXml(ctx.res, 200, "ListAllMyBucketsResult", {
    Owner: { ID: id, DisplayName: id },
    Buckets: { Bucket: page.map((b) => ({ Name: b.name, CreationDate: b.created.toISOString() })) },
    ...(visible.length > page.length ? { ContinuationToken: encodeToken(page[page.length - 1]!.name) } : {}),
    ...(ctx.s3.param("prefix") !== undefined ? { Prefix: prefix } : {}),
  });
}

export async function headBucket(ctx: OpContext): Promise<number> {
  await ctx.backend.headBucket(ctx.s3.bucket!);
  return sendEmpty(ctx.res, 200, { "x-amz-bucket-region": ctx.settings.region });
}

export async function getBucketLocation(ctx: OpContext): Promise<number> {
  await ctx.backend.headBucket(ctx.s3.bucket!);
  // S3 answers an empty constraint for us-east-1.
  const region = ctx.settings.region === "us-east-1" ? "" : ctx.settings.region;
  return sendXml(ctx.res, 200, "LocationConstraint", { "#text": region });
}

export async function getBucketVersioning(ctx: OpContext): Promise<number> {
  await ctx.backend.headBucket(ctx.s3.bucket!);
  return sendXml(ctx.res, 200, "VersioningConfiguration", {});
}

function refuseBucketAdmin(ctx: OpContext, what: string): void {
  if (!ctx.settings.allowBucketAdmin) {
    throw s3ErrorFor("bucket-admin-off", { what });
  }
}

export async function createBucket(ctx: OpContext): Promise<number> {
  refuseBucketAdmin(ctx, "CreateBucket");
  ctx.req.resume(); // a CreateBucketConfiguration body only names a region
  await ctx.backend.createBucket(ctx.s3.bucket!);
  return sendEmpty(ctx.res, 200, { location: `/${ctx.s3.bucket!}` });
}

export async function deleteBucket(ctx: OpContext): Promise<number> {
  refuseBucketAdmin(ctx, "DeleteBucket");
  await ctx.backend.deleteBucket(ctx.s3.bucket!);
  return sendEmpty(ctx.res, 204);
}
