import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3Gateway } from "./http/server.js";
import { ACCESS_KEY, type Harness, SECRET_KEY, signedRequest, startHarness } from "./testing/harness.js";

const MiB = 1024 * 1024;
let h: Harness;
const seen: Array<Record<string, string>> = [];

beforeAll(async () => {
  h = await startHarness();
  h.client.middlewareStack.add(
    (next) => async (args) => {
      seen.push({ ...(args.request as { headers: Record<string, string> }).headers });
      return next(args);
    },
    { step: "finalizeRequest", priority: "low" },
  );
});
afterAll(async () => {
  await h.close();
});

function md5(data: Buffer): string {
  return createHash("md5").update(data).digest("hex");
}

describe("multipart uploads", () => {
  it("uploads a streamed 17 MiB body with lib-storage (CRC32 checksums) and reads it back", async () => {
    const data = randomBytes(17 * MiB);
    seen.length = 0;
    const upload = new Upload({
      client: h.client,
      params: {
        Bucket: "vol-a",
        Key: "big/stream.bin",
        Body: Readable.from([data.subarray(0, 9 * MiB), data.subarray(9 * MiB)]),
        ChecksumAlgorithm: "CRC32",
      },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    const done = await upload.done();
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-4"$/);
    expect(seen.some((hd) => hd["x-amz-checksum-crc32"] !== undefined)).toBe(true);
    expect(
      createHash("sha256")
        .update(readFileSync(join(h.root, "vol-a/big/stream.bin")))
        .digest("hex"),
    ).toBe(createHash("sha256").update(data).digest("hex"));
    const head = await h.client.send(
      new HeadObjectCommand({ Bucket: "vol-a", Key: "big/stream.bin", ChecksumMode: "ENABLED" }),
    );
    expect(head.ContentLength).toBe(17 * MiB);
    expect(head.ChecksumCRC32).toMatch(/-4$/);
    // nothing left in the upload area
    expect(readdirSync(join(h.root, "vol-a/.s3compat_uploads")).filter((n) => n !== "tmp")).toEqual([]);
  });

  it("drives every multipart call by hand: list, part copy, complete twice, abort", async () => {
    const src = randomBytes(6 * MiB);
    await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "src.bin", Body: src }));
    const { UploadId } = await h.client.send(
      new CreateMultipartUploadCommand({
        Bucket: "vol-a",
        Key: "mp/out.bin",
        ContentType: "application/x-test",
        Metadata: { a: "1" },
      }),
    );
    const part1 = randomBytes(5 * MiB);
    const p1 = await h.client.send(
      new UploadPartCommand({ Bucket: "vol-a", Key: "mp/out.bin", UploadId, PartNumber: 1, Body: part1 }),
    );
    expect(p1.ETag).toBe(`"${md5(part1)}"`);
    const p2 = await h.client.send(
      new UploadPartCopyCommand({
        Bucket: "vol-a",
        Key: "mp/out.bin",
        UploadId,
        PartNumber: 2,
        CopySource: "vol-a/src.bin",
        CopySourceRange: "bytes=100-1099",
      }),
    );
    expect(p2.CopyPartResult?.ETag).toBe(`"${md5(src.subarray(100, 1100))}"`);
    const uploads = await h.client.send(new ListMultipartUploadsCommand({ Bucket: "vol-a" }));
    expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([["mp/out.bin", UploadId]]);
    const parts = await h.client.send(new ListPartsCommand({ Bucket: "vol-a", Key: "mp/out.bin", UploadId }));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [1, 5 * MiB],
      [2, 1000],
    ]);
    const page = await h.client.send(
      new ListPartsCommand({ Bucket: "vol-a", Key: "mp/out.bin", UploadId, MaxParts: 1 }),
    );
    expect(page.IsTruncated).toBe(true);
    expect(page.NextPartNumberMarker).toBe("1");

    const wrongOrder = h.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: "vol-a",
        Key: "mp/out.bin",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 2, ETag: p2.CopyPartResult!.ETag! },
            { PartNumber: 1, ETag: p1.ETag! },
          ],
        },
      }),
    );
    await expect(wrongOrder).rejects.toMatchObject({ name: "InvalidPartOrder" });
    const wrongEtag = h.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: "vol-a",
        Key: "mp/out.bin",
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] },
      }),
    );
    await expect(wrongEtag).rejects.toMatchObject({ name: "InvalidPart" });

    const complete = new CompleteMultipartUploadCommand({
      Bucket: "vol-a",
      Key: "mp/out.bin",
      UploadId,
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: p1.ETag! },
          { PartNumber: 2, ETag: p2.CopyPartResult!.ETag! },
        ],
      },
    });
    const first = await h.client.send(complete);
    const expectedEtag = `"${md5(Buffer.concat([Buffer.from(md5(part1), "hex"), Buffer.from(md5(src.subarray(100, 1100)), "hex")]))}-2"`;
    expect(first.ETag).toBe(expectedEtag);
    // A client that timed out and retries gets the same answer.
    const retry = await h.client.send(complete);
    expect(retry.ETag).toBe(expectedEtag);
    const got = await h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "mp/out.bin" }));
    expect(got.ContentType).toBe("application/x-test");
    expect(got.Metadata).toEqual({ a: "1" });
    const body = Buffer.from(await got.Body!.transformToByteArray());
    expect(body.equals(Buffer.concat([part1, src.subarray(100, 1100)]))).toBe(true);

    const { UploadId: other } = await h.client.send(
      new CreateMultipartUploadCommand({ Bucket: "vol-a", Key: "mp/aborted.bin" }),
    );
    await h.client.send(
      new AbortMultipartUploadCommand({ Bucket: "vol-a", Key: "mp/aborted.bin", UploadId: other }),
    );
    await expect(
      h.client.send(new ListPartsCommand({ Bucket: "vol-a", Key: "mp/aborted.bin", UploadId: other })),
    ).rejects.toMatchObject({ name: "NoSuchUpload" });
  });

  it("refuses a non-last part under 5 MiB with EntityTooSmall", async () => {
    const { UploadId } = await h.client.send(
      new CreateMultipartUploadCommand({ Bucket: "vol-a", Key: "small.bin" }),
    );
    const a = await h.client.send(
      new UploadPartCommand({ Bucket: "vol-a", Key: "small.bin", UploadId, PartNumber: 1, Body: "tiny" }),
    );
    const b = await h.client.send(
      new UploadPartCommand({ Bucket: "vol-a", Key: "small.bin", UploadId, PartNumber: 2, Body: "tiny" }),
    );
    await expect(
      h.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: "vol-a",
          Key: "small.bin",
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: a.ETag! },
              { PartNumber: 2, ETag: b.ETag! },
            ],
          },
        }),
      ),
    ).rejects.toMatchObject({ name: "EntityTooSmall" });
  });

  it("shares uploads between two gateways over one file system", async () => {
    const other = await startS3Gateway({
      root: h.root,
      listen: "127.0.0.1:0",
      credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, volumes: ["*"] }],
      accessLog: false,
    });
    const second = new S3Client({
      endpoint: other.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
      maxAttempts: 1,
    });
    try {
      const { UploadId } = await h.client.send(
        new CreateMultipartUploadCommand({ Bucket: "vol-b", Key: "shared.bin" }),
      );
      const a = randomBytes(5 * MiB);
      const b = randomBytes(1234);
      const p1 = await second.send(
        new UploadPartCommand({ Bucket: "vol-b", Key: "shared.bin", UploadId, PartNumber: 1, Body: a }),
      );
      const p2 = await h.client.send(
        new UploadPartCommand({ Bucket: "vol-b", Key: "shared.bin", UploadId, PartNumber: 2, Body: b }),
      );
      const listed = await second.send(
        new ListPartsCommand({ Bucket: "vol-b", Key: "shared.bin", UploadId }),
      );
      expect(listed.Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
      const parts = {
        Parts: [
          { PartNumber: 1, ETag: p1.ETag! },
          { PartNumber: 2, ETag: p2.ETag! },
        ],
      };
      const done = await second.send(
        new CompleteMultipartUploadCommand({
          Bucket: "vol-b",
          Key: "shared.bin",
          UploadId,
          MultipartUpload: parts,
        }),
      );
      // the first gateway sees the finished object and answers a retried Complete the same way
      const again = await h.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: "vol-b",
          Key: "shared.bin",
          UploadId,
          MultipartUpload: parts,
        }),
      );
      expect(again.ETag).toBe(done.ETag);
      expect(readFileSync(join(h.root, "vol-b/shared.bin")).equals(Buffer.concat([a, b]))).toBe(true);
    } finally {
      second.destroy();
      await other.close();
    }
  });

  it("answers MalformedXML for a Complete body that is not XML", async () => {
    const { UploadId } = await h.client.send(
      new CreateMultipartUploadCommand({ Bucket: "vol-a", Key: "bad-xml.bin" }),
    );
    const res = await signedRequest(h.gateway.endpoint, "POST", `/vol-a/bad-xml.bin?uploadId=${UploadId}`, {
      body: "<CompleteMultipartUpload><Part>",
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain("<Code>MalformedXML</Code>");
  });
});

describe("CompleteMultipartUpload keep-alive (as S3: 200, spaces, then the result or the error)", () => {
  let k: Harness;
  beforeAll(async () => {
    k = await startHarness({ completeKeepAliveMs: 0 });
  });
  afterAll(async () => {
    await k.close();
  });

  const upload = async (key: string) => {
    const { UploadId } = await k.client.send(new CreateMultipartUploadCommand({ Bucket: "vol-a", Key: key }));
    const body = Buffer.alloc(5 * MiB, 1);
    const { ETag } = await k.client.send(
      new UploadPartCommand({ Bucket: "vol-a", Key: key, UploadId, PartNumber: 1, Body: body }),
    );
    return { uploadId: UploadId!, etag: ETag!, body };
  };
  const completeXml = (etag: string) =>
    `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;

  it("sends whitespace before the result, which clients parse as usual", async () => {
    const { uploadId, etag, body } = await upload("ka/ok.bin");
    const raw = await signedRequest(k.gateway.endpoint, "POST", `/vol-a/ka/ok.bin?uploadId=${uploadId}`, {
      body: completeXml(etag),
    });
    expect(raw.status).toBe(200);
    expect(raw.text).toMatch(/^ +<\?xml/);
    const md5 = createHash("md5").update(createHash("md5").update(body).digest()).digest("hex");
    expect(raw.text).toContain(`<ETag>&quot;${md5}-1&quot;</ETag>`);
    expect(readFileSync(join(k.root, "vol-a/ka/ok.bin")).equals(body)).toBe(true);
  });

  it("sends an error found after the 200 in the body, and the SDK raises it", async () => {
    const { uploadId } = await upload("ka/bad.bin");
    const wrong = `"${"0".repeat(32)}"`;
    const raw = await signedRequest(k.gateway.endpoint, "POST", `/vol-a/ka/bad.bin?uploadId=${uploadId}`, {
      body: completeXml(wrong),
    });
    expect(raw.status).toBe(200);
    expect(raw.text).toMatch(/^ +<\?xml[^>]*>\s*<Error><Code>InvalidPart<\/Code>/);
    const viaSdk = k.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: "vol-a",
        Key: "ka/bad.bin",
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: wrong }] },
      }),
    );
    // (the SDK reports a 200-with-error as 503, so that its retry logic sees it)
    await expect(viaSdk).rejects.toMatchObject({ name: "InvalidPart" });
  });
});
