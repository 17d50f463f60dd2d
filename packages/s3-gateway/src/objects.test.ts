import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./testing/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe("objects through the AWS SDK", () => {
  it("lists the volumes as buckets", async () => {
    const out = await h.client.send(new ListBucketsCommand({}));
    expect(out.Buckets?.map((b) => b.Name)).toEqual(["vol-a", "vol-b"]);
  });

  it("puts a file where a Pod sees it and reads it back with its metadata", async () => {
    const body = "hello volume\n";
    const put = await h.client.send(
      new PutObjectCommand({
        Bucket: "vol-a",
        Key: "dir/sub/hello.txt",
        Body: body,
        ContentType: "text/plain",
        Metadata: { owner: "alice" },
      }),
    );
    const md5 = createHash("md5").update(body).digest("hex");
    expect(put.ETag).toBe(`"${md5}"`);
    expect(readFileSync(join(h.root, "vol-a/dir/sub/hello.txt"), "utf8")).toBe(body);
    const got = await h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "dir/sub/hello.txt" }));
    expect(await got.Body?.transformToString()).toBe(body);
    expect(got.ContentType).toBe("text/plain");
    expect(got.Metadata).toEqual({ owner: "alice" });
    expect(got.ETag).toBe(`"${md5}"`);
    // no temporary left behind
    expect(readdirSync(join(h.root, "vol-a/.s3compat_uploads/tmp"))).toEqual([]);
  });

  it("stores a big body (MD5 hashed off the main thread) and refuses one whose Content-MD5 is wrong", async () => {
    const body = Buffer.alloc(12 * 1024 * 1024 + 5, 7);
    const md5 = createHash("md5").update(body).digest();
    const put = await h.client.send(
      new PutObjectCommand({
        Bucket: "vol-b",
        Key: "big.bin",
        Body: body,
        ContentMD5: md5.toString("base64"),
      }),
    );
    expect(put.ETag).toBe(`"${md5.toString("hex")}"`);
    expect(
      createHash("md5")
        .update(readFileSync(join(h.root, "vol-b/big.bin")))
        .digest("hex"),
    ).toBe(md5.toString("hex"));
    const wrong = createHash("md5").update("something else").digest("base64");
    await expect(
      h.client.send(
        new PutObjectCommand({
          Bucket: "vol-b",
          Key: "big.bin",
          Body: Buffer.alloc(body.length, 8),
          ContentMD5: wrong,
        }),
      ),
    ).rejects.toMatchObject({ name: "BadDigest" });
    // the old object is untouched and no temporary is left
    expect(readFileSync(join(h.root, "vol-b/big.bin")).equals(body)).toBe(true);
    expect(readdirSync(join(h.root, "vol-b/.s3compat_uploads/tmp"))).toEqual([]);
  });

  it("serves files created behind its back with a real MD5 ETag", async () => {
    writeFileSync(join(h.root, "vol-a/from-pod.bin"), "pod data");
    const head = await h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "from-pod.bin" }));
    expect(head.ETag).toBe(`"${createHash("md5").update("pod data").digest("hex")}"`);
    expect(head.ContentLength).toBe(8);
  });

  it("copies and deletes, pruning empty directories", async () => {
    await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "c/src.txt", Body: "copy me" }));
    const copy = await h.client.send(
      new CopyObjectCommand({ Bucket: "vol-b", Key: "c2/dst.txt", CopySource: "vol-a/c/src.txt" }),
    );
    expect(copy.CopyObjectResult?.ETag).toBe(`"${createHash("md5").update("copy me").digest("hex")}"`);
    expect(readFileSync(join(h.root, "vol-b/c2/dst.txt"), "utf8")).toBe("copy me");
    await h.client.send(new DeleteObjectCommand({ Bucket: "vol-b", Key: "c2/dst.txt" }));
    expect(existsSync(join(h.root, "vol-b/c2"))).toBe(false);
  });

  it("checks the Content-MD5 of a big body before it becomes visible", async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const md5 = createHash("md5").update(big);
    const digest = md5.digest();
    const put = await h.client.send(
      new PutObjectCommand({
        Bucket: "vol-a",
        Key: "big-md5.bin",
        Body: big,
        ContentMD5: digest.toString("base64"),
      }),
    );
    expect(put.ETag).toBe(`"${digest.toString("hex")}"`);
    const wrong = createHash("md5").update("other").digest("base64");
    await expect(
      h.client.send(
        new PutObjectCommand({ Bucket: "vol-a", Key: "big-bad.bin", Body: big, ContentMD5: wrong }),
      ),
    ).rejects.toMatchObject({ name: "BadDigest" });
    expect(existsSync(join(h.root, "vol-a/big-bad.bin"))).toBe(false);
  });

  it("overwrites a big object and lets go of the old one's blocks once the new one is in place", async () => {
    const deletedUnderRoot = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          const target = readlinkSync(`/proc/self/fd/${fd}`);
          return target.startsWith(h.root) && target.endsWith("(deleted)");
        } catch {
          return false;
        }
      });
    const first = Buffer.alloc(64 * 1024 * 1024 + 1, 1);
    const second = Buffer.alloc(64 * 1024 * 1024 + 2, 2);
    await h.client.send(new PutObjectCommand({ Bucket: "vol-a", Key: "replaced.bin", Body: first }));
    const put = await h.client.send(
      new PutObjectCommand({ Bucket: "vol-a", Key: "replaced.bin", Body: second }),
    );
    expect(put.ETag).toBe(`"${createHash("md5").update(second).digest("hex")}"`);
    const got = await h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "replaced.bin" }));
    expect(got.ContentLength).toBe(second.length);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(second)).toBe(true);
    // Its space is free again soon after the answer: no handle on the replaced file is kept.
    const deadline = Date.now() + 5000;
    while (deletedUnderRoot().length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(deletedUnderRoot()).toEqual([]);
  }, 30_000); // two 64 MiB uploads and a download: seconds on a loaded machine
});
