import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  paginateListObjectsV2,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareKeys } from "./backend/posix/keys.js";
import { type Harness, startHarness } from "./testing/harness.js";

let h: Harness;
// Keys a Pod created directly on the volume, in an order that differs between JS and S3 sorting.
const POD_FILES = ["a-b", "a/x", "a/y/z", "a0", "ä", "\uFF61x", "\u{1F600}", "b c/#+%.txt", "empty.txt"];

beforeAll(async () => {
  h = await startHarness();
  const vol = join(h.root, "vol-a");
  for (const key of POD_FILES) {
    mkdirSync(join(vol, key, ".."), { recursive: true });
    writeFileSync(join(vol, key), key === "empty.txt" ? "" : `content of ${key}`);
  }
  mkdirSync(join(vol, "emptydir"));
  const many = join(h.root, "vol-b", "many");
  mkdirSync(many, { recursive: true });
  for (let i = 0; i < 2000; i++) writeFileSync(join(many, `k${String(i).padStart(5, "0")}`), "");
});
afterAll(async () => {
  await h.close();
});

describe("listing", () => {
  it("lists files a Pod created in S3 byte order, with empty directories as dir/ keys", async () => {
    const out = await h.client.send(new ListObjectsV2Command({ Bucket: "vol-a" }));
    const keys = out.Contents?.map((c) => c.Key);
    const expected = [...POD_FILES, "emptydir/"].sort(compareKeys);
    expect(keys).toEqual(expected);
    expect(out.Contents?.find((c) => c.Key === "a/x")?.Size).toBe("content of a/x".length);
    expect(out.KeyCount).toBe(expected.length);
  });

  it("groups by delimiter into common prefixes, below a prefix", async () => {
    const top = await h.client.send(new ListObjectsV2Command({ Bucket: "vol-a", Delimiter: "/" }));
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/", "b c/", "emptydir/"]);
    expect(top.Contents?.map((c) => c.Key)).toEqual(["a-b", "a0", "empty.txt", "ä", "\uFF61x", "\u{1F600}"]);
    const inA = await h.client.send(
      new ListObjectsV2Command({ Bucket: "vol-a", Delimiter: "/", Prefix: "a/" }),
    );
    expect(inA.Contents?.map((c) => c.Key)).toEqual(["a/x"]);
    expect(inA.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/y/"]);
    const partial = await h.client.send(new ListObjectsV2Command({ Bucket: "vol-a", Prefix: "a" }));
    expect(partial.Contents?.map((c) => c.Key)).toEqual(["a-b", "a/x", "a/y/z", "a0"]);
    const otherDelimiter = await h.client.send(new ListObjectsV2Command({ Bucket: "vol-a", Delimiter: "-" }));
    expect(otherDelimiter.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a-"]);
  });

  it("pages through 2,000 keys with small pages and never repeats a token", async () => {
    const seen: string[] = [];
    const tokens = new Set<string>();
    for await (const page of paginateListObjectsV2(
      { client: h.client, pageSize: 37 },
      { Bucket: "vol-b", Prefix: "many/" },
    )) {
      for (const c of page.Contents ?? []) seen.push(c.Key!);
      if (page.NextContinuationToken) {
        expect(tokens.has(page.NextContinuationToken)).toBe(false);
        tokens.add(page.NextContinuationToken);
      }
    }
    expect(seen.length).toBe(2000);
    expect(new Set(seen).size).toBe(2000);
    expect(seen[0]).toBe("many/k00000");
    expect(seen[1999]).toBe("many/k01999");
  });

  it("honours start-after, V1 markers, url encoding and fetch-owner", async () => {
    const after = await h.client.send(
      new ListObjectsV2Command({ Bucket: "vol-a", StartAfter: "a/x", MaxKeys: 2 }),
    );
    expect(after.Contents?.map((c) => c.Key)).toEqual(["a/y/z", "a0"]);
    expect(after.IsTruncated).toBe(true);
    const v1 = await h.client.send(
      new ListObjectsCommand({ Bucket: "vol-a", Marker: "a0", MaxKeys: 1, Delimiter: "/" }),
    );
    expect(v1.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["b c/"]);
    expect(v1.NextMarker).toBe("b c/");
    const v1next = await h.client.send(
      new ListObjectsCommand({ Bucket: "vol-a", Marker: "b c/", MaxKeys: 1, Delimiter: "/" }),
    );
    expect(v1next.Contents?.map((c) => c.Key)).toEqual(["empty.txt"]);
    const encoded = await h.client.send(
      new ListObjectsV2Command({ Bucket: "vol-a", Prefix: "b c/", EncodingType: "url", FetchOwner: true }),
    );
    // The JS SDK hands url-encoded keys through as they came (botocore would decode them).
    expect(encoded.EncodingType).toBe("url");
    expect(encoded.Contents?.map((c) => decodeURIComponent(c.Key!))).toEqual(["b c/#+%.txt"]);
    expect(encoded.Contents?.[0]?.Key).toBe("b%20c/%23%2B%25.txt");
    expect(encoded.Contents?.[0]?.Owner?.ID).toBeDefined();
  });

  it("lists every object as version null", async () => {
    const out = await h.client.send(new ListObjectVersionsCommand({ Bucket: "vol-a", Prefix: "a/" }));
    expect(out.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([
      ["a/x", "null", true],
      ["a/y/z", "null", true],
    ]);
  });

  it("lists an explicit directory marker even when the directory has content, and hides the reserved folder", async () => {
    await h.client.send(new PutObjectCommand({ Bucket: "vol-b", Key: "marked/", Body: "" }));
    await h.client.send(new PutObjectCommand({ Bucket: "vol-b", Key: "marked/file", Body: "x" }));
    const out = await h.client.send(new ListObjectsV2Command({ Bucket: "vol-b", Prefix: "marked" }));
    expect(out.Contents?.map((c) => c.Key)).toEqual(["marked/", "marked/file"]);
    const all = await h.client.send(new ListObjectsV2Command({ Bucket: "vol-b", Delimiter: "/" }));
    expect(all.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["many/", "marked/"]);
  });
});
