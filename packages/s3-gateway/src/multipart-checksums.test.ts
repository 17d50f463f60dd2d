import { createHash, randomBytes } from "node:crypto";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { useHarness } from "./testing/harness.js";

const MiB = 1024 * 1024;
const h = useHarness();

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest();

/** Upload `parts` with SHA256 part checksums; returns what Complete needs. */
async function uploadParts(key: string, parts: Buffer[], type?: "COMPOSITE" | "FULL_OBJECT") {
  const { UploadId } = await h.client.send(
    new CreateMultipartUploadCommand({
      Bucket: "vol-a",
      Key: key,
      ChecksumAlgorithm: "SHA256",
      ...(type ? { ChecksumType: type } : {}),
    }),
  );
  const done = [];
  for (let i = 0; i < parts.length; i++) {
    const out = await h.client.send(
      new UploadPartCommand({
        Bucket: "vol-a",
        Key: key,
        UploadId,
        PartNumber: i + 1,
        Body: parts[i],
        ChecksumAlgorithm: "SHA256",
      }),
    );
    done.push({ PartNumber: i + 1, ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256 });
  }
  return { UploadId: UploadId!, Parts: done };
}

describe("CompleteMultipartUpload with the whole object's checksum", () => {
  const parts = [randomBytes(5 * MiB), randomBytes(MiB + 3)];
  const composite = `${createHash("sha256")
    .update(Buffer.concat(parts.map(sha256)))
    .digest("base64")}-2`;

  it("accepts the composite SHA256 (-N) and returns it", async () => {
    const { UploadId, Parts } = await uploadParts("cs/composite.bin", parts);
    const out = await h.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: "vol-a",
        Key: "cs/composite.bin",
        UploadId,
        MultipartUpload: { Parts },
        ChecksumSHA256: composite,
      }),
    );
    expect(out.ChecksumSHA256).toBe(composite);
    const head = await h.client.send(
      new HeadObjectCommand({ Bucket: "vol-a", Key: "cs/composite.bin", ChecksumMode: "ENABLED" }),
    );
    expect(head.ChecksumSHA256).toBe(composite);
  });

  it("refuses a wrong composite value with BadDigest and keeps the upload", async () => {
    const { UploadId, Parts } = await uploadParts("cs/wrong.bin", parts);
    const wrong = `${sha256(Buffer.from("x")).toString("base64")}-2`;
    const complete = (ChecksumSHA256: string) =>
      h.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: "vol-a",
          Key: "cs/wrong.bin",
          UploadId,
          MultipartUpload: { Parts },
          ChecksumSHA256,
        }),
      );
    await expect(complete(wrong)).rejects.toMatchObject({ name: "BadDigest" });
    await expect(
      h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "cs/wrong.bin" })),
    ).rejects.toThrow();
    await complete(composite);
  });

  it("accepts the full-object SHA256 with x-amz-checksum-type: FULL_OBJECT", async () => {
    const { UploadId, Parts } = await uploadParts("cs/full.bin", parts);
    const full = sha256(Buffer.concat(parts)).toString("base64");
    const out = await h.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: "vol-a",
        Key: "cs/full.bin",
        UploadId,
        MultipartUpload: { Parts },
        ChecksumSHA256: full,
        ChecksumType: "FULL_OBJECT",
      }),
    );
    expect(out.ChecksumSHA256).toBe(full);
    expect(out.ChecksumType).toBe("FULL_OBJECT");
    const got = await h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "cs/full.bin" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(parts))).toBe(true);
  });

  it("refuses a wrong full-object value with BadDigest", async () => {
    const { UploadId, Parts } = await uploadParts("cs/full-wrong.bin", parts);
    await expect(
      h.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: "vol-a",
          Key: "cs/full-wrong.bin",
          UploadId,
          MultipartUpload: { Parts },
          ChecksumSHA256: sha256(Buffer.from("nope")).toString("base64"),
          ChecksumType: "FULL_OBJECT",
        }),
      ),
    ).rejects.toMatchObject({ name: "BadDigest" });
  });
});

describe("GetObject / HeadObject with partNumber", () => {
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(700)];

  it("returns part N of a multipart object with x-amz-mp-parts-count", async () => {
    const { UploadId, Parts } = await uploadParts("pn/three.bin", parts);
    await h.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: "vol-a",
        Key: "pn/three.bin",
        UploadId,
        MultipartUpload: { Parts },
      }),
    );
    for (const n of [1, 2, 3]) {
      const got = await h.client.send(
        new GetObjectCommand({ Bucket: "vol-a", Key: "pn/three.bin", PartNumber: n }),
      );
      expect(got.PartsCount).toBe(3);
      expect(got.ContentLength).toBe(parts[n - 1]!.length);
      expect(got.ETag).toMatch(/-3"$/);
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(parts[n - 1]!)).toBe(true);
    }
    const head = await h.client.send(
      new HeadObjectCommand({ Bucket: "vol-a", Key: "pn/three.bin", PartNumber: 3 }),
    );
    expect(head.PartsCount).toBe(3);
    expect(head.ContentLength).toBe(700);
    expect(head.ContentRange).toBe(`bytes ${10 * MiB}-${10 * MiB + 699}/${10 * MiB + 700}`);
    await expect(
      h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "pn/three.bin", PartNumber: 4 })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 416 } });
  });

  it("part 1 of a single-part object is the whole object; part 2 is 416", async () => {
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "pn/single.txt", Body: "whole" }));
    const got = await h.client.send(
      new GetObjectCommand({ Bucket: "vol-a", Key: "pn/single.txt", PartNumber: 1 }),
    );
    expect(await got.Body!.transformToString()).toBe("whole");
    expect(got.PartsCount).toBeUndefined();
    await expect(
      h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "pn/single.txt", PartNumber: 2 })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 416 } });
  });
});
