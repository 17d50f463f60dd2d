import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { descriptorsUnder } from "./testing/descriptors.js";
import { type Harness, startHarness, useHarness } from "./testing/harness.js";

const WRITERS = 20;
const READERS = 3;
const RUN_MS = 10_000;

/** Writer i's body: its own length and bytes, so a prefix of one version never equals another. */
function versionBody(writer: number, round: number): Buffer {
  const size = 4096 + writer * 7919 + (round % 5) * 104_729;
  const body = Buffer.alloc(size, (writer * 31 + round) & 0xff);
  body.write(`writer ${writer} round ${round}\n`);
  return body;
}

interface Tally {
  gets: number;
  heads: number;
  bad: string[];
}

/**
 * 20 writers overwrite one key with bodies of different sizes while 3 readers GET and HEAD it:
 * every 200 must be one whole written version (body MD5 = ETag = Content-Length's version).
 */
async function race(client: S3Client, bucket: string, key: string): Promise<Tally> {
  const written = new Map<string, number>(); // md5 → size
  const first = versionBody(0, 0);
  written.set(createHash("md5").update(first).digest("hex"), first.length);
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: first }));
  const until = Date.now() + RUN_MS;
  const tally: Tally = { gets: 0, heads: 0, bad: [] };
  const writer = async (w: number) => {
    for (let round = 1; Date.now() < until; round++) {
      const body = versionBody(w, round);
      // Known before it can be read: a reader may see it as soon as the rename happens.
      written.set(createHash("md5").update(body).digest("hex"), body.length);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    }
  };
  const reader = async () => {
    for (let i = 0; Date.now() < until; i++) {
      if (i % 3 === 2) {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        const etag = head.ETag!.replaceAll('"', "");
        tally.heads += 1;
        if (written.get(etag) !== head.ContentLength)
          tally.bad.push(`HEAD: ETag ${etag} with Content-Length ${head.ContentLength}`);
        continue;
      }
      try {
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = Buffer.from(await got.Body!.transformToByteArray());
        const etag = got.ETag!.replaceAll('"', "");
        const md5 = createHash("md5").update(bytes).digest("hex");
        tally.gets += 1;
        if (md5 !== etag || !written.has(md5) || bytes.length !== got.ContentLength) {
          tally.bad.push(
            `GET: ETag ${etag}, Content-Length ${got.ContentLength}, body ${bytes.length} bytes md5 ${md5}`,
          );
        }
      } catch (err) {
        tally.bad.push(`GET failed: ${(err as Error).name}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all([
    ...Array.from({ length: WRITERS }, (_, w) => writer(w)),
    ...Array.from({ length: READERS }, () => reader()),
  ]);
  return tally;
}

describe.each(["xattr", "sidecar"] as const)("reads are snapshots (%s metadata)", (metadata) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ metadata });
  });
  afterAll(async () => {
    await h.close();
  });

  it(
    "20 writers and 3 readers on one key for 10 s: every GET is one whole version whose MD5 is its ETag",
    async () => {
      const tally = await race(h.client, "vol-a", "race/key.bin");
      expect(tally.bad.slice(0, 5)).toEqual([]);
      // Few on a loaded machine (the writers get most of the time), but never none.
      expect(tally.gets).toBeGreaterThanOrEqual(5);
      expect(tally.heads).toBeGreaterThanOrEqual(1);
    },
    RUN_MS + 60_000,
  );
});

describe("special files made from a Pod", () => {
  const h = useHarness();
  it("a FIFO under a key is no object (404), and GET does not hang on it", async () => {
    execFileSync("mkfifo", [join(h.root, "vol-a", "pipe")]);
    await expect(h.client.send(new GetObjectCommand({ Bucket: "vol-a", Key: "pipe" }))).rejects.toMatchObject(
      {
        name: "NoSuchKey",
      },
    );
    await expect(
      h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "pipe" })),
    ).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
  });
});

describe("open files are closed on every path", () => {
  const h = useHarness();
  it("after refused, failed and abandoned reads and writes, no descriptor under the root stays open", async () => {
    const Bucket = "vol-a";
    const body = randomBytes(8 << 20);
    await h.client.send(new PutObjectCommand({ Bucket, Key: "big.bin", Body: body }));
    await h.client.send(new PutObjectCommand({ Bucket, Key: "small.txt", Body: "hello" }));
    mkdirSync(join(h.root, Bucket, "plain-dir"));
    execFileSync("mkfifo", [join(h.root, Bucket, "fifo")]);
    const fails = (p: Promise<unknown>, status: number) =>
      expect(p).rejects.toMatchObject({ $metadata: { httpStatusCode: status } });
    await fails(h.client.send(new GetObjectCommand({ Bucket, Key: "fifo" })), 404);
    await fails(h.client.send(new GetObjectCommand({ Bucket, Key: "plain-dir" })), 404);
    await fails(h.client.send(new GetObjectCommand({ Bucket, Key: "small.txt", IfMatch: '"0"' })), 412);
    await fails(
      h.client.send(new GetObjectCommand({ Bucket, Key: "small.txt", Range: "bytes=100-200" })),
      416,
    );
    const etag = (await h.client.send(new HeadObjectCommand({ Bucket, Key: "small.txt" }))).ETag!;
    await fails(h.client.send(new GetObjectCommand({ Bucket, Key: "small.txt", IfNoneMatch: etag })), 304);
    // A PUT whose body does not match its Content-MD5: its temporary is closed and removed.
    await fails(
      h.client.send(
        new PutObjectCommand({ Bucket, Key: "bad.txt", Body: "abc", ContentMD5: "AAAAAAAAAAAAAAAAAAAAAA==" }),
      ),
      400,
    );
    // A client that goes away after the first bytes of a big GET.
    const got = await h.client.send(new GetObjectCommand({ Bucket, Key: "big.bin" }));
    const stream = got.Body as NodeJS.ReadableStream & { destroy(): void };
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    stream.destroy();
    let open = descriptorsUnder(h.root);
    for (let i = 0; i < 100 && open.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      open = descriptorsUnder(h.root);
    }
    expect(open).toEqual([]);
  });
});
