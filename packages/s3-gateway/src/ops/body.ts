import { CredentialStore } from "../auth/credentials.js";
import { openPayload } from "../auth/payload.js";
import type { WriteInput } from "../backend/types.js";
import { s3ErrorFor } from "../errors/s3-errors.js";
import type { OpContext } from "./context.js";

/** The verified request payload as a writer input (streamed, never buffered whole). */
export function payloadInput(ctx: OpContext, header = ctx.s3.header): WriteInput {
  const streaming =
    ctx.auth.payload.kind === "streaming-signed" || ctx.auth.payload.kind === "streaming-unsigned-trailer";
  // An object body of unknown length (plain Transfer-Encoding: chunked, or none at all) is
  // refused as S3 refuses it; aws-chunked bodies announce x-amz-decoded-content-length instead.
  if (ctx.s3.method === "PUT" && ctx.s3.header("content-length") === undefined && !streaming) {
    throw s3ErrorFor("no-content-length");
  }
  const { stream, verifier, declaredSize } = openPayload(ctx.req, ctx.auth, header);
  return {
    body: stream,
    digest: () => {
      ctx.received = verifier.digest.size;
      return verifier.digest;
    },
    ...(declaredSize !== undefined ? { declaredSize } : {}),
  };
}

/** Read a small XML request body (Delete, CompleteMultipartUpload…) after verifying it. */
export async function readSmallBody(
  ctx: OpContext,
  limit = 2 * 1024 * 1024,
  header = ctx.s3.header,
): Promise<string> {
  const input = payloadInput(ctx, header);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input.body) {
    size += (chunk as Buffer).length;
    if (size > limit) throw s3ErrorFor("body-over-limit", { limit });
    chunks.push(chunk as Buffer);
  }
  input.digest();
  return Buffer.concat(chunks).toString("utf8");
}

/** The key pair of this request may reach `bucket`, or AccessDenied. */
export function requireAccess(ctx: OpContext, bucket: string): void {
  if (!CredentialStore.canAccess(ctx.auth.credential, bucket)) {
    throw s3ErrorFor(
      "volume-not-granted",
      { bucket },
      {
        BucketName: bucket,
      },
    );
  }
}
