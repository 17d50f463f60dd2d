import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { useHarness } from "./testing/harness.js";

const h = useHarness();

/** What a client sees of the key's parents: no listing entry and no `dir/` object. */
async function expectNoTrace(bucket: string, top: string): Promise<void> {
  expect(existsSync(join(h.root, bucket, top))).toBe(false);
  const listed = await h.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: top }));
  expect(listed.Contents ?? []).toEqual([]);
  expect(listed.KeyCount).toBe(0);
  await expect(h.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${top}/` }))).rejects.toThrow();
  expect(readdirSync(join(h.root, bucket, ".s3compat_uploads/tmp"))).toEqual([]);
}

describe("a rejected write leaves nothing behind", () => {
  it("PUT a/b/c.txt refused for a bad Content-MD5 leaves no a/ or a/b/", async () => {
    await expect(
      h.client.send(
        new PutObjectCommand({
          Bucket: "vol-a",
          Key: "md5-a/b/c.txt",
          Body: "hello",
          ContentMD5: Buffer.alloc(16, 1).toString("base64"),
        }),
      ),
    ).rejects.toMatchObject({ name: "BadDigest" });
    await expectNoTrace("vol-a", "md5-a");
  });

  it("a signed PUT whose client goes away mid-body leaves no directories and no temporary", async () => {
    const { S3Client } = await import("@aws-sdk/client-s3");
    const { getSignedUrl } = await import("@aws-sdk/s3-request-presigner");
    const signer = new S3Client({
      endpoint: h.gateway.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: await h.client.config.credentials(),
    });
    const url = new URL(
      await getSignedUrl(signer, new PutObjectCommand({ Bucket: "vol-a", Key: "abort-b/x/y.bin" }), {
        expiresIn: 60,
      }),
    );
    signer.destroy();
    await new Promise<void>((resolve) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        method: "PUT",
        path: `${url.pathname}${url.search}`,
        headers: { "content-length": String(4 << 20) },
      });
      req.on("error", () => resolve());
      req.write(randomBytes(256 * 1024), () => {
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 300);
      });
    });
    // The gateway notices the abort asynchronously.
    for (let i = 0; i < 50 && existsSync(join(h.root, "vol-a/abort-b")); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < 50 && readdirSync(join(h.root, "vol-a/.s3compat_uploads/tmp")).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await expectNoTrace("vol-a", "abort-b");
  }, 30_000);

  it("a CompleteMultipartUpload that fails while assembling leaves no directories", async () => {
    const { UploadId } = await h.client.send(
      new CreateMultipartUploadCommand({ Bucket: "vol-b", Key: "mp-a/b/c.bin" }),
    );
    const part = await h.client.send(
      new UploadPartCommand({
        Bucket: "vol-b",
        Key: "mp-a/b/c.bin",
        UploadId,
        PartNumber: 1,
        Body: randomBytes(1024),
      }),
    );
    // The part's data vanishes behind the gateway's back (a Pod cleaning up): the copy fails.
    const dir = join(h.root, "vol-b/.s3compat_uploads", UploadId!);
    for (const name of readdirSync(dir)) if (/^part-00001-/.test(name)) rmSync(join(dir, name));
    await expect(
      h.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: "vol-b",
          Key: "mp-a/b/c.bin",
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      ),
    ).rejects.toThrow();
    await expectNoTrace("vol-b", "mp-a");
  });

  it("a sibling key in a directory another failed write made still lands", async () => {
    await Promise.all([
      expect(
        h.client.send(
          new PutObjectCommand({
            Bucket: "vol-a",
            Key: "sib/x/bad.txt",
            Body: "bad",
            ContentMD5: Buffer.alloc(16, 2).toString("base64"),
          }),
        ),
      ).rejects.toMatchObject({ name: "BadDigest" }),
      h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "sib/x/good.txt", Body: "good" })),
    ]);
    const listed = await h.client.send(new ListObjectsV2Command({ Bucket: "vol-a", Prefix: "sib/" }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(["sib/x/good.txt"]);
  });
});
