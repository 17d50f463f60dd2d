import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { HeadObjectCommand, ListBucketsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { signedRequest, useHarness } from "./testing/harness.js";

const h = useHarness();
beforeAll(() => {
  for (const name of ["vol-c", "vol-d", "vol-e"]) mkdirSync(join(h.root, name));
});

describe("requests answered as AWS S3 answers them", () => {
  it.each([
    ["empty", ""],
    ["not 16 bytes", Buffer.from("short").toString("base64")],
    ["not base64", "!!!!"],
  ])("a Content-MD5 that is %s is InvalidDigest (not BadDigest)", async (_, value) => {
    const res = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/md5.txt", {
      headers: { "content-md5": value },
      body: "hello",
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain("<Code>InvalidDigest</Code>");
  });

  it("accepts an empty Expect: header", async () => {
    const res = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/expect.txt", {
      headers: { expect: "" },
      body: "hello",
    });
    expect(res.status).toBe(200);
  });

  it("treats an empty continuation-token= as no token", async () => {
    await h.client.send(new PutObjectCommand({ Bucket: "vol-b", Key: "tok/a.txt", Body: "a" }));
    const res = await signedRequest(
      h.gateway.endpoint,
      "GET",
      "/vol-b?list-type=2&continuation-token=&prefix=tok%2F",
    );
    expect(res.status).toBe(200);
    expect(res.text).toContain("<Key>tok/a.txt</Key>");
  });

  it("stores and returns Content-Encoding verbatim", async () => {
    await h.client.send(
      new PutObjectCommand({ Bucket: "vol-a", Key: "enc.bin", Body: "x", ContentEncoding: "deflate, gzip" }),
    );
    const head = await h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "enc.bin" }));
    expect(head.ContentEncoding).toBe("deflate, gzip");
  });

  it("a PUT with neither Content-Length nor aws-chunked is 411 MissingContentLength", async () => {
    const res = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/nolength.txt", {
      headers: { "transfer-encoding": "chunked" },
      body: "hello",
      rawLength: true,
    });
    expect(res.status).toBe(411);
    expect(res.text).toContain("<Code>MissingContentLength</Code>");
  });

  it.each(["%ff", "%c0%ae", "a%80b"])(
    "a key whose percent-decoding is not UTF-8 (%s) is 400",
    async (raw) => {
      await h.client.send(
        new PutObjectCommand({ Bucket: "vol-a", Key: decodeURIComponent("%25ff"), Body: "literal" }),
      );
      for (const method of ["GET", "PUT"]) {
        const res = await signedRequest(h.gateway.endpoint, method, `/vol-a/${raw}`, {
          body: method === "PUT" ? "x" : "",
        });
        expect(res.status).toBe(400);
        expect(res.text).toContain("<Code>InvalidURI</Code>");
      }
    },
  );

  it("ListBuckets honours max-buckets and continuation-token", async () => {
    const first = await h.client.send(new ListBucketsCommand({ MaxBuckets: 2 }));
    expect(first.Buckets?.map((b) => b.Name)).toEqual(["vol-a", "vol-b"]);
    expect(first.ContinuationToken).toBeTruthy();
    const second = await h.client.send(
      new ListBucketsCommand({ MaxBuckets: 2, ContinuationToken: first.ContinuationToken }),
    );
    expect(second.Buckets?.map((b) => b.Name)).toEqual(["vol-c", "vol-d"]);
    const last = await h.client.send(
      new ListBucketsCommand({ MaxBuckets: 2, ContinuationToken: second.ContinuationToken }),
    );
    expect(last.Buckets?.map((b) => b.Name)).toEqual(["vol-e"]);
    expect(last.ContinuationToken).toBeUndefined();
  });

  it.each([
    ["x-amz-server-side-encryption", "aws:kms"],
    ["x-amz-server-side-encryption-customer-algorithm", "AES256"],
    ["x-amz-object-lock-mode", "GOVERNANCE"],
    ["x-amz-tagging", "team=a"],
    ["x-amz-acl", "public-read"],
    ["x-amz-grant-read", 'id="someone"'],
    ["x-amz-storage-class", "GLACIER"],
    ["x-amz-website-redirect-location", "/elsewhere"],
  ])("refuses a write header it cannot honour (%s: %s) with 501 and stores nothing", async (name, value) => {
    const res = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/refused.txt", {
      headers: { [name]: value },
      body: "x",
    });
    expect(res.status).toBe(501);
    expect(res.text).toContain("<Code>NotImplemented</Code>");
    await expect(
      h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "refused.txt" })),
    ).rejects.toThrow();
  });

  it("accepts what describes the volume anyway: SSE AES256, a private ACL, STANDARD", async () => {
    const res = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/accepted.txt", {
      headers: {
        "x-amz-server-side-encryption": "AES256",
        "x-amz-acl": "private",
        "x-amz-storage-class": "STANDARD",
      },
      body: "x",
    });
    expect(res.status).toBe(200);
  });
});
