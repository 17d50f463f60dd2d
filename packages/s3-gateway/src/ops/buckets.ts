import { CredentialStore } from "../auth/credentials.js";
import { S3Error } from "../errors/s3-errors.js";
import { sendEmpty, sendXml } from "../http/respond.js";
import type { OpContext } from "./context.js";

export async function listBuckets(ctx: OpContext): Promise<number> {
  const buckets = (await ctx.backend.listBuckets()).filter((b) =>
    CredentialStore.canAccess(ctx.auth.credential, b.name),
  );
  const id = ctx.auth.credential.accessKeyId;
  return sendXml(ctx.res, 200, "ListAllMyBucketsResult", {
    Owner: { ID: id, DisplayName: id },
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.created.toISOString() })) },
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
    throw new S3Error(
      "AccessDenied",
      `${what} is not offered here: buckets are network volumes, created and deleted by the platform (start the gateway with --allow-bucket-admin to allow it).`,
    );
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
