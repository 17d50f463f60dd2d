import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3Gateway, startS3Gateway } from "./http/server.js";
import { ACCESS_KEY, type Harness, SECRET_KEY, signedRequest, startHarness } from "./testing/harness.js";

let h: Harness;
let second: S3Gateway;
let secondClient: S3Client;
beforeAll(async () => {
  h = await startHarness();
  // A second gateway over the same root: the conditions must hold across gateways too.
  second = await startS3Gateway({
    root: h.root,
    listen: "127.0.0.1:0",
    credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, volumes: ["*"] }],
    accessLog: false,
  });
  secondClient = new S3Client({
    endpoint: second.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  secondClient.destroy();
  await second.close();
  await h.close();
});

const md5 = (b: Buffer | string) => createHash("md5").update(b).digest("hex");
const status = (err: unknown) =>
  (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

describe("conditional writes", () => {
  it("N concurrent If-None-Match: * PUTs through two gateways: one 200, the rest 412, the winner's body stored", async () => {
    const bodies = Array.from({ length: 16 }, (_, i) =>
      Buffer.from(`writer ${i} ${randomBytes(8).toString("hex")}`),
    );
    const results = await Promise.allSettled(
      bodies.map((Body, i) =>
        (i % 2 === 0 ? h.client : secondClient).send(
          new PutObjectCommand({ Bucket: "vol-a", Key: "lock/state.tfstate", Body, IfNoneMatch: "*" }),
        ),
      ),
    );
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    expect(won).toHaveLength(1);
    const codes = results.flatMap((r) => (r.status === "rejected" ? [status(r.reason)] : []));
    expect(codes.every((c) => c === 412)).toBe(true);
    expect(readFileSync(join(h.root, "vol-a/lock/state.tfstate")).equals(bodies[won[0]!]!)).toBe(true);
  });

  it("If-Match on PUT: the current ETag replaces, another is 412, a missing key 404", async () => {
    const first = await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "cas.txt", Body: "v1" }));
    const ok = await h.client.send(
      new PutObjectCommand({ Bucket: "vol-a", Key: "cas.txt", Body: "v2", IfMatch: first.ETag }),
    );
    expect(ok.ETag).toBe(`"${md5("v2")}"`);
    await expect(
      h.client.send(
        new PutObjectCommand({ Bucket: "vol-a", Key: "cas.txt", Body: "v3", IfMatch: first.ETag }),
      ),
    ).rejects.toMatchObject({ name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } });
    await expect(
      h.client.send(
        new PutObjectCommand({ Bucket: "vol-a", Key: "none.txt", Body: "x", IfMatch: first.ETag }),
      ),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    expect(readFileSync(join(h.root, "vol-a/cas.txt"), "utf8")).toBe("v2");
  });

  it("N concurrent If-Match PUTs with the same ETag through two gateways: exactly one wins", async () => {
    const base = await h.client.send(
      new PutObjectCommand({ Bucket: "vol-a", Key: "cas/n.txt", Body: "base" }),
    );
    const bodies = Array.from({ length: 10 }, (_, i) => `next ${i}`);
    const results = await Promise.allSettled(
      bodies.map((Body, i) =>
        (i % 2 === 0 ? h.client : secondClient).send(
          new PutObjectCommand({ Bucket: "vol-a", Key: "cas/n.txt", Body, IfMatch: base.ETag }),
        ),
      ),
    );
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect([409, 412]).toContain(status(r.reason));
    expect(readFileSync(join(h.root, "vol-a/cas/n.txt"), "utf8")).toBe(bodies[won[0]!]);
  });

  it("If-None-Match: * and If-Match on CompleteMultipartUpload", async () => {
    const complete = async (key: string, cond: { IfNoneMatch?: string; IfMatch?: string }) => {
      const { UploadId } = await h.client.send(
        new CreateMultipartUploadCommand({ Bucket: "vol-b", Key: key }),
      );
      const part = await h.client.send(
        new UploadPartCommand({ Bucket: "vol-b", Key: key, UploadId, PartNumber: 1, Body: randomBytes(100) }),
      );
      return h.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: "vol-b",
          Key: key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
          ...cond,
        }),
      );
    };
    const created = await complete("mp/once.bin", { IfNoneMatch: "*" });
    expect(created.ETag).toMatch(/-1"$/);
    await expect(complete("mp/once.bin", { IfNoneMatch: "*" })).rejects.toMatchObject({
      $metadata: { httpStatusCode: 412 },
    });
    await expect(
      complete("mp/once.bin", { IfMatch: '"0123456789abcdef0123456789abcdef"' }),
    ).rejects.toMatchObject({
      $metadata: { httpStatusCode: 412 },
    });
    const replaced = await complete("mp/once.bin", { IfMatch: created.ETag! });
    expect(replaced.ETag).not.toBe(created.ETag);
  });

  it("If-Match on DeleteObject (and an ETag in DeleteObjects) deletes only the expected version", async () => {
    const put = await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "del/a.txt", Body: "a" }));
    await expect(
      h.client.send(
        new DeleteObjectCommand({ Bucket: "vol-a", Key: "del/a.txt", IfMatch: `"${md5("other")}"` }),
      ),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "del/a.txt" }));
    await h.client.send(new DeleteObjectCommand({ Bucket: "vol-a", Key: "del/a.txt", IfMatch: put.ETag }));
    await expect(
      h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "del/a.txt" })),
    ).rejects.toMatchObject({
      name: "NoSuchKey",
    });
    await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "del/b.txt", Body: "b" }));
    const out = await h.client.send(
      new DeleteObjectsCommand({
        Bucket: "vol-a",
        Delete: { Objects: [{ Key: "del/b.txt", ETag: `"${md5("not b")}"` }] },
      }),
    );
    expect(out.Errors?.map((e) => e.Code)).toEqual(["PreconditionFailed"]);
    await h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "del/b.txt" }));
  });

  it("refuses write conditions it cannot honour instead of ignoring them (501)", async () => {
    const res = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/etag-list.txt", {
      headers: { "if-none-match": '"abc"' },
      body: "x",
    });
    expect(res.status).toBe(501);
    const del = await signedRequest(h.gateway.endpoint, "DELETE", "/vol-a/etag-list.txt", {
      headers: { "x-amz-if-match-size": "1" },
    });
    expect(del.status).toBe(501);
  });
});
