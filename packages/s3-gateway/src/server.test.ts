import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { LAZY_MD5_SYNC_LIMIT } from "./backend/posix/etags.js";
import { ACCESS_KEY, SECRET_KEY, signedRequest, startHarness } from "./testing/harness.js";

const md5 = (data: string | Buffer) => createHash("md5").update(data).digest("hex");

describe("gateway features", () => {
  it("serves Prometheus metrics on a separate listener, in a format promtool accepts", async () => {
    const h = await startHarness({ metricsListen: "127.0.0.1:0" });
    try {
      await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "m.txt", Body: "12345" }));
      await h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "m.txt" }));
      await expect(h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "nope" }))).rejects.toThrow();
      expect(h.gateway.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(h.gateway.metricsUrl).not.toContain(new URL(h.gateway.endpoint).port);
      const text = await (await fetch(h.gateway.metricsUrl!)).text();
      expect(text).toMatch(/podkit_s3_requests_total\{op="PutObject",status="200"\} 1/);
      expect(text).toMatch(/podkit_s3_requests_total\{op="GetObject",status="404"\} 1/);
      expect(text).toMatch(/podkit_s3_received_bytes_total 5/);
      const check = spawnSync("/usr/bin/promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      // and the S3 port does not serve them
      expect((await fetch(`${h.gateway.endpoint}/metrics`)).status).toBe(403);
    } finally {
      await h.close();
    }
  });

  it("keeps metadata in a sidecar store when asked (file systems without xattrs)", async () => {
    const h = await startHarness({ metadata: "sidecar" });
    try {
      await h.client.send(
        new PutObjectCommand({
          Bucket: "vol-a",
          Key: "s/meta.txt",
          Body: "side",
          ContentType: "text/x-side",
          Metadata: { z: "1" },
        }),
      );
      const head = await h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "s/meta.txt" }));
      expect([head.ContentType, head.Metadata, head.ETag]).toEqual([
        "text/x-side",
        { z: "1" },
        `"${md5("side")}"`,
      ]);
      expect(readdirSync(join(h.root, "vol-a/.s3compat_uploads/meta")).length).toBe(1);
    } finally {
      await h.close();
    }
  });

  it("answers virtual-host-style requests under --domain", async () => {
    const h = await startHarness({ domain: "s3.test" });
    try {
      await h.client.send(new PutObjectCommand({ Bucket: "vol-b", Key: "vh.txt", Body: "virtual" }));
      const port = new URL(h.gateway.endpoint).port;
      // Resolve vol-b.s3.test to the gateway while keeping the virtual Host header.
      const vh = new S3Client({
        endpoint: `http://s3.test:${port}`,
        region: "us-east-1",
        forcePathStyle: false,
        credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
        maxAttempts: 1,
      });
      vh.middlewareStack.add(
        (next) => async (args) => {
          const req = args.request as { hostname: string; headers: Record<string, string> };
          req.headers.host = `${req.hostname}:${port}`;
          req.hostname = "127.0.0.1";
          return next(args);
        },
        { step: "finalizeRequest", priority: "low" },
      );
      const got = await vh.send(new GetObjectCommand({ Bucket: "vol-b", Key: "vh.txt" }));
      expect(await got.Body?.transformToString()).toBe("virtual");
      const list = await vh.send(new ListObjectsV2Command({ Bucket: "vol-b" }));
      expect(list.Contents?.map((c) => c.Key)).toEqual(["vh.txt"]);
      vh.destroy();
    } finally {
      await h.close();
    }
  });

  it("gives files from a Pod an MD5 ETag: at once when small, in the background when big, and again after a change", async () => {
    const h = await startHarness();
    try {
      const small = join(h.root, "vol-a", "pod-small.txt");
      writeFileSync(small, "v1");
      const head = () => h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "pod-small.txt" }));
      expect((await head()).ETag).toBe(`"${md5("v1")}"`);
      appendFileSync(small, "+more");
      expect((await head()).ETag).toBe(`"${md5("v1+more")}"`);

      const bigData = Buffer.alloc(LAZY_MD5_SYNC_LIMIT + 1, 7);
      writeFileSync(join(h.root, "vol-a", "pod-big.bin"), bigData);
      const first = await h.client.send(new ListObjectsV2Command({ Bucket: "vol-a", Prefix: "pod-big" }));
      // never empty, never random: a stable placeholder shaped like a multipart ETag
      const placeholder = first.Contents?.[0]?.ETag;
      expect(placeholder).toMatch(/^"[0-9a-f]{32}-1"$/);
      let etag = placeholder;
      for (let i = 0; i < 100 && etag === placeholder; i++) {
        await new Promise((r) => setTimeout(r, 50));
        etag = (await h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "pod-big.bin" }))).ETag;
      }
      expect(etag).toBe(`"${md5(bigData)}"`);
    } finally {
      await h.close();
    }
  });

  it("refuses an upload larger than the volume's free space before writing anything", async () => {
    const h = await startHarness();
    try {
      const res = await signedRequest(h.gateway.endpoint, "PUT", "/vol-a/huge.bin", {
        headers: { "content-length": String(2 ** 52) },
        body: "only the start",
        rawLength: true,
      });
      expect(res.status).toBe(400);
      expect(res.text).toContain("<Code>EntityTooLarge</Code>");
      expect(res.text).toContain("free");
      expect(existsSync(join(h.root, "vol-a", "huge.bin"))).toBe(false);
    } finally {
      await h.close();
    }
  });
});
