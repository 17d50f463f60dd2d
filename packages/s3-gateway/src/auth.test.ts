import { existsSync, readdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_KEY, type Harness, SECRET_KEY, signedRequest, startHarness } from "./testing/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    credentials: [
      { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, volumes: ["*"] },
      { accessKeyId: "only-vol-b", secretAccessKey: "secret-for-vol-b", volumes: ["vol-b"] },
    ],
  });
});
afterAll(async () => {
  await h.close();
});

function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${h.gateway.endpoint}${path}`, { method, headers }, (res) => {
      let text = "";
      res.on("data", (c) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("authentication", () => {
  it("refuses anonymous requests", async () => {
    const res = await raw("GET", "/vol-a?list-type=2");
    expect(res.status).toBe(403);
    expect(res.body).toContain("<Code>AccessDenied</Code>");
  });

  it("refuses a wrong secret with SignatureDoesNotMatch and writes nothing", async () => {
    const bad = h.clientWith({ secret: "not-the-secret-at-all" });
    await expect(
      bad.send(new PutObjectCommand({ Bucket: "vol-a", Key: "nope.txt", Body: "x" })),
    ).rejects.toMatchObject({ name: "SignatureDoesNotMatch", $metadata: { httpStatusCode: 403 } });
    expect(existsSync(join(h.root, "vol-a/nope.txt"))).toBe(false);
  });

  it("answers Expect: 100-continue with the auth error before the body is sent", async () => {
    const bad = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/expect.bin", {
      headers: { expect: "100-continue", "content-length": String(50 * 1024 * 1024) },
      body: "",
      rawLength: true,
      secret: "definitely-wrong-secret",
    });
    expect(bad.status).toBe(403);
    expect(bad.text).toContain("SignatureDoesNotMatch");
    expect(bad.continued).toBe(false);
    expect(existsSync(join(h.root, "vol-a/expect.bin"))).toBe(false);
    const good = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/expect.txt", {
      headers: { expect: "100-continue" },
      body: "after continue",
    });
    expect([good.status, good.continued]).toEqual([200, true]);
  });

  it("refuses an unknown access key", async () => {
    const bad = h.clientWith({ accessKey: "who-is-this" });
    await expect(bad.send(new ListObjectsV2Command({ Bucket: "vol-a" }))).rejects.toMatchObject({
      name: "InvalidAccessKeyId",
    });
  });

  it("refuses a clock skewed by more than an hour, accepts 50 minutes", async () => {
    const skewed = (ms: number) =>
      new S3Client({
        endpoint: h.gateway.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
        systemClockOffset: ms,
        maxAttempts: 1,
      });
    await expect(
      skewed(-2 * 3600_000).send(new ListObjectsV2Command({ Bucket: "vol-a" })),
    ).rejects.toMatchObject({
      name: "RequestTimeTooSkewed",
    });
    const ok = await skewed(50 * 60_000).send(new ListObjectsV2Command({ Bucket: "vol-a" }));
    expect(ok.$metadata.httpStatusCode).toBe(200);
  });

  it("limits a key pair to its volumes", async () => {
    const limited = h.clientWith({ accessKey: "only-vol-b", secret: "secret-for-vol-b" });
    await limited.send(new PutObjectCommand({ Bucket: "vol-b", Key: "mine.txt", Body: "ok" }));
    await expect(limited.send(new ListObjectsV2Command({ Bucket: "vol-a" }))).rejects.toMatchObject({
      name: "AccessDenied",
    });
  });

  it("serves presigned GET and PUT URLs and refuses them once expired or tampered with", async () => {
    const putUrl = await getSignedUrl(
      h.client,
      new PutObjectCommand({ Bucket: "vol-a", Key: "presigned/up load.txt" }),
      {
        expiresIn: 60,
      },
    );
    const put = await fetch(putUrl, { method: "PUT", body: "via presigned PUT" });
    expect(put.status).toBe(200);
    const getUrl = await getSignedUrl(
      h.client,
      new GetObjectCommand({ Bucket: "vol-a", Key: "presigned/up load.txt" }),
      {
        expiresIn: 60,
      },
    );
    const got = await fetch(getUrl);
    expect(await got.text()).toBe("via presigned PUT");
    const tampered = getUrl.replace("up%20load", "other");
    expect((await fetch(tampered)).status).toBe(403);
    const expired = await getSignedUrl(
      h.client,
      new GetObjectCommand({ Bucket: "vol-a", Key: "presigned/up load.txt" }),
      {
        expiresIn: 1,
        signingDate: new Date(Date.now() - 10_000),
      },
    );
    const res = await fetch(expired);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("expired");
  });

  it("rejects a body whose x-amz-content-sha256 does not match, leaving no object or temporary", async () => {
    // Sign for one body, send another of the same length.
    const client = h.clientWith({});
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { body: unknown };
        req.body = "tampered!";
        return next(args);
      },
      { step: "finalizeRequest", priority: "low" },
    );
    await expect(
      client.send(
        new PutObjectCommand({
          Bucket: "vol-a",
          Key: "sha.txt",
          Body: "original!",
          ChecksumAlgorithm: undefined,
        }),
      ),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
    expect(existsSync(join(h.root, "vol-a/sha.txt"))).toBe(false);
    expect(readdirSync(join(h.root, "vol-a/.s3compat_uploads/tmp"))).toEqual([]);
  });
});
