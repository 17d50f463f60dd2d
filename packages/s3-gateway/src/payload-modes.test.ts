import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checksumOf } from "./auth/checksums.js";
import { chunkStringToSign, sha256Hex, signHex, signingKey, trailerStringToSign } from "./auth/sigv4.js";
import { ACCESS_KEY, type Harness, SECRET_KEY, startHarness } from "./testing/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const signer = new SignatureV4({
  service: "s3",
  region: "us-east-1",
  credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  sha256: Hash.bind(null, "sha256"),
  uriEscapePath: false,
  applyChecksum: false,
});

/** Sign headers with the SDK's own signer, then send a hand-framed body. */
async function send(
  key: string,
  headers: Record<string, string>,
  body: Buffer | ((seed: string, date: string) => Buffer),
) {
  const url = new URL(h.gateway.endpoint);
  const signed = await signer.sign({
    method: "PUT",
    protocol: "http:",
    hostname: url.hostname,
    port: Number(url.port),
    path: `/vol-a/${key}`,
    query: {},
    headers: { host: url.host, ...headers },
  });
  const auth = String(signed.headers.authorization);
  const seed = /Signature=([0-9a-f]{64})/.exec(auth)![1]!;
  const payload = typeof body === "function" ? body(seed, String(signed.headers["x-amz-date"])) : body;
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      `${h.gateway.endpoint}/vol-a/${key}`,
      { method: "PUT", headers: { ...signed.headers, "content-length": String(payload.length) } },
      (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const DATA = Buffer.from("The quick brown fox jumps over the lazy dog. ".repeat(3000));

function unsignedTrailerBody(trailer: string): Buffer {
  const half = DATA.length >> 1;
  return Buffer.concat([
    Buffer.from(`${half.toString(16)}\r\n`),
    DATA.subarray(0, half),
    Buffer.from(`\r\n${(DATA.length - half).toString(16)}\r\n`),
    DATA.subarray(half),
    Buffer.from(`\r\n0\r\n${trailer}\r\n\r\n`),
  ]);
}

function signedTrailerBody(
  seed: string,
  amzDate: string,
  trailerLine: string,
  corrupt?: "chunk" | "trailer",
): Buffer {
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const key = signingKey(SECRET_KEY, amzDate.slice(0, 8), "us-east-1", "s3");
  const chunks = [DATA.subarray(0, 65536), DATA.subarray(65536), Buffer.alloc(0)];
  let previous = seed;
  const parts: Buffer[] = [];
  for (const chunk of chunks) {
    const sig = signHex(key, chunkStringToSign(amzDate, scope, previous, sha256Hex(chunk)));
    previous = sig;
    const sent = corrupt === "chunk" && chunk.length > 0 ? Buffer.from(chunk).fill(120, 0, 1) : chunk;
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${sig}\r\n`), sent);
    if (chunk.length > 0) parts.push(Buffer.from("\r\n"));
  }
  const trailerSig = signHex(key, trailerStringToSign(amzDate, scope, previous, `${trailerLine}\n`));
  const line = corrupt === "trailer" ? trailerLine.replace(/:.*/, ":AAAAAA==") : trailerLine;
  parts.push(Buffer.from(`${line}\r\nx-amz-trailer-signature:${trailerSig}\r\n\r\n`));
  return Buffer.concat(parts);
}

describe("payload modes", () => {
  it("accepts the SDK's STREAMING-UNSIGNED-PAYLOAD-TRAILER upload of a stream and keeps its CRC32", async () => {
    // For a stream of unknown length this SDK version leaves x-amz-decoded-content-length
    // undefined, which Node's HTTP client refuses; S3 does not need it, so it is dropped.
    const client = h.clientWith({});
    let mode = "";
    client.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers: Record<string, string | undefined> }).headers;
        for (const [name, value] of Object.entries(headers)) if (value === undefined) delete headers[name];
        mode = headers["x-amz-content-sha256"] ?? "";
        return next(args);
      },
      { step: "finalizeRequest", priority: "low" },
    );
    await client.send(
      new PutObjectCommand({
        Bucket: "vol-a",
        Key: "streamed.txt",
        Body: Readable.from([DATA.subarray(0, 1000), DATA.subarray(1000)]),
      }),
    );
    expect(mode).toBe("STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    const head = await h.client.send(
      new HeadObjectCommand({ Bucket: "vol-a", Key: "streamed.txt", ChecksumMode: "ENABLED" }),
    );
    expect(head.ChecksumCRC32).toBe(await checksumOf("crc32", DATA));
    expect(head.ETag).toBe(`"${createHash("md5").update(DATA).digest("hex")}"`);
  });

  it.each(["CRC32C", "CRC64NVME", "SHA1", "SHA256"] as const)(
    "stores and returns a %s checksum sent as a header",
    async (alg) => {
      await h.client.send(
        new PutObjectCommand({ Bucket: "vol-a", Key: `sum-${alg}`, Body: DATA, ChecksumAlgorithm: alg }),
      );
      const head = await h.client.send(
        new HeadObjectCommand({ Bucket: "vol-a", Key: `sum-${alg}`, ChecksumMode: "ENABLED" }),
      );
      expect(head[`Checksum${alg}`]).toBe(await checksumOf(alg.toLowerCase() as "crc32c", DATA));
    },
  );

  it("refuses a wrong trailing checksum before the object becomes visible", async () => {
    const headers = {
      "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
      "content-encoding": "aws-chunked",
      "x-amz-decoded-content-length": String(DATA.length),
      "x-amz-trailer": "x-amz-checksum-crc32",
    };
    const good = await send(
      "trailer-ok",
      headers,
      unsignedTrailerBody(`x-amz-checksum-crc32:${await checksumOf("crc32", DATA)}`),
    );
    expect(good.status).toBe(200);
    const bad = await send("trailer-bad", headers, unsignedTrailerBody("x-amz-checksum-crc32:AAAAAA=="));
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("<Code>BadDigest</Code>");
    expect(existsSync(join(h.root, "vol-a/trailer-bad"))).toBe(false);
  });

  it("verifies every chunk signature and the trailer signature of STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", async () => {
    const crc = await checksumOf("crc32c", DATA);
    const headers = {
      "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
      "content-encoding": "aws-chunked",
      "x-amz-decoded-content-length": String(DATA.length),
      "x-amz-trailer": "x-amz-checksum-crc32c",
    };
    const line = `x-amz-checksum-crc32c:${crc}`;
    expect(
      (await send("signed-ok", headers, (seed, date) => signedTrailerBody(seed, date, line))).status,
    ).toBe(200);
    const badChunk = await send("signed-bad-chunk", headers, (seed, date) =>
      signedTrailerBody(seed, date, line, "chunk"),
    );
    expect(badChunk.status).toBe(403);
    expect(badChunk.text).toContain("SignatureDoesNotMatch");
    const badTrailer = await send("signed-bad-trailer", headers, (seed, date) =>
      signedTrailerBody(seed, date, line, "trailer"),
    );
    expect(badTrailer.status).toBe(403);
    expect(existsSync(join(h.root, "vol-a/signed-bad-chunk"))).toBe(false);
    expect(existsSync(join(h.root, "vol-a/signed-bad-trailer"))).toBe(false);
    const head = await h.client.send(
      new HeadObjectCommand({ Bucket: "vol-a", Key: "signed-ok", ChecksumMode: "ENABLED" }),
    );
    expect(head.ChecksumCRC32C).toBe(crc);
    expect(head.ContentLength).toBe(DATA.length);
  });

  it("verifies STREAMING-AWS4-HMAC-SHA256-PAYLOAD (no trailer) over HTTP", async () => {
    const headers = {
      "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
      "content-encoding": "aws-chunked",
      "x-amz-decoded-content-length": String(DATA.length),
    };
    const body = (seed: string, date: string, corrupt?: "chunk") => {
      const framed = signedTrailerBody(seed, date, "x-amz-checksum-crc32:unused", corrupt);
      // drop the trailer block: the final chunk is followed by one empty line
      const end = framed.indexOf(Buffer.from("x-amz-checksum-crc32:"));
      return Buffer.concat([framed.subarray(0, end), Buffer.from("\r\n")]);
    };
    expect((await send("chunked-ok", headers, (seed, date) => body(seed, date))).status).toBe(200);
    expect((await send("chunked-bad", headers, (seed, date) => body(seed, date, "chunk"))).status).toBe(403);
    expect(existsSync(join(h.root, "vol-a/chunked-bad"))).toBe(false);
    const head = await h.client.send(new HeadObjectCommand({ Bucket: "vol-a", Key: "chunked-ok" }));
    expect(head.ETag).toBe(`"${createHash("md5").update(DATA).digest("hex")}"`);
  });

  it("accepts UNSIGNED-PAYLOAD and checks Content-MD5", async () => {
    const md5 = createHash("md5").update(DATA).digest("base64");
    expect(
      (await send("unsigned", { "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "content-md5": md5 }, DATA))
        .status,
    ).toBe(200);
    const wrong = await send(
      "unsigned-bad",
      {
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        "content-md5": createHash("md5").update("x").digest("base64"),
      },
      DATA,
    );
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain("<Code>BadDigest</Code>");
    expect(existsSync(join(h.root, "vol-a/unsigned-bad"))).toBe(false);
  });
});
