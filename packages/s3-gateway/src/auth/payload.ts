import { createHash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import { Transform, type TransformCallback } from "node:stream";
import { s3ErrorFor } from "../errors/s3-errors.js";
import type { AuthContext } from "./authenticate.js";
import { lendSlab, Slab } from "./body-slabs.js";
import {
  type ChecksumAlgorithm,
  createChecksum,
  type IncrementalChecksum,
  isChecksumAlgorithm,
  parseChecksumAlgorithm,
} from "./checksums.js";
import { AwsChunkedDecoder } from "./chunked.js";
import { OFFLOAD_MIN_BYTES, OffloadedMd5 } from "./md5-offload.js";

/** What a fully received body turned out to be. */
export interface PayloadDigest {
  size: number;
  md5Hex: string;
  checksum?: { algorithm: ChecksumAlgorithm; base64: string };
}

export interface PayloadExpectations {
  sha256Hex?: string;
  md5Base64?: string;
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Expected checksum: from a header now, or from the aws-chunked trailer at the end. */
  checksum?: () => string | undefined;
  /** The exact decoded size, when the client announced it. */
  size?: number;
}

/**
 * Computes MD5 (the ETag) and any requested checksum while the body streams through, and
 * fails the stream at its end when a hash, checksum or length does not match — before the
 * writer renames its temporary file into place. A big body (OFFLOAD_MIN_BYTES and up) leaves it
 * as 1 MiB slabs that the MD5 thread reads too (body-slabs.ts): its reader must give each one back
 * with releaseSlab once written.
 */
export class PayloadVerifier extends Transform {
  private readonly md5: Hash | OffloadedMd5;
  /** The slab being filled (big bodies only). */
  private slab: Slab | undefined;
  private readonly sha256: Hash | undefined;
  private readonly checksum: IncrementalChecksum | undefined;
  private size = 0;
  private result: PayloadDigest | undefined;

  constructor(private readonly expect: PayloadExpectations) {
    super({ highWaterMark: 1 << 20 });
    this.md5 =
      expect.size !== undefined && expect.size >= OFFLOAD_MIN_BYTES ? new OffloadedMd5() : createHash("md5");
    this.sha256 = expect.sha256Hex ? createHash("sha256") : undefined;
    this.checksum = expect.checksumAlgorithm ? createChecksum(expect.checksumAlgorithm) : undefined;
  }

  /** Available once the stream has finished without error. */
  get digest(): PayloadDigest {
    if (!this.result) throw new Error("PayloadVerifier.digest read before the body ended");
    return this.result;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.sha256?.update(chunk);
    this.checksum?.update(chunk);
    this.size += chunk.length;
    if (!(this.md5 instanceof OffloadedMd5)) {
      this.md5.update(chunk);
      callback(null, chunk);
      return;
    }
    let wait: Promise<void> | undefined;
    try {
      for (let at = 0; at < chunk.length; ) {
        this.slab ??= new Slab();
        at += this.slab.fill(chunk, at);
        if (this.slab.full) wait = this.emitSlab(this.md5) ?? wait;
      }
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (wait) void wait.then(() => callback());
    else callback();
  }

  /** Hands the filled slab to the MD5 thread and the next stream at once. */
  private emitSlab(md5: OffloadedMd5): Promise<void> | undefined {
    const slab = this.slab;
    this.slab = undefined;
    if (!slab) return undefined;
    try {
      if (slab.filled === 0) return undefined;
      const wait = md5.hash(slab);
      this.push(lendSlab(slab));
      return wait;
    } finally {
      slab.release();
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.md5 instanceof OffloadedMd5) this.md5.discard();
    this.slab?.release();
    this.slab = undefined;
    callback(err);
  }

  override _flush(callback: TransformCallback): void {
    this.finish().then(
      () => callback(),
      (err: unknown) => callback(err as Error),
    );
  }

  private async finish(): Promise<void> {
    const { expect } = this;
    if (expect.size !== undefined && this.size !== expect.size) {
      throw s3ErrorFor("body-short", { received: this.size, announced: expect.size });
    }
    if (this.md5 instanceof OffloadedMd5) this.emitSlab(this.md5);
    const md5 = this.md5 instanceof OffloadedMd5 ? await this.md5.digest() : this.md5.digest();
    if (this.sha256 && this.sha256.digest("hex") !== expect.sha256Hex) {
      throw s3ErrorFor("content-sha256-mismatch");
    }
    if (expect.md5Base64 !== undefined && md5.toString("base64") !== expect.md5Base64) {
      throw s3ErrorFor("content-md5-mismatch");
    }
    let checksum: PayloadDigest["checksum"];
    if (this.checksum && expect.checksumAlgorithm) {
      const base64 = await this.checksum.digestBase64();
      const wanted = expect.checksum?.();
      if (wanted !== undefined && wanted !== base64) {
        throw s3ErrorFor("checksum-mismatch", { algorithm: expect.checksumAlgorithm.toUpperCase() });
      }
      checksum = { algorithm: expect.checksumAlgorithm, base64 };
    }
    this.result = { size: this.size, md5Hex: md5.toString("hex"), ...(checksum ? { checksum } : {}) };
  }
}

type HeaderFn = (name: string) => string | undefined;

/** A Content-MD5 must be the base64 of 16 bytes: anything else (even empty) is InvalidDigest. */
function checkContentMd5(value: string): void {
  const bytes = Buffer.from(value, "base64");
  if (bytes.length !== 16 || bytes.toString("base64") !== value.trim()) {
    throw s3ErrorFor("content-md5-invalid");
  }
}

/** The checksum algorithm of a request: an x-amz-checksum-<alg> header, or the declared trailer. */
function requestedChecksum(header: HeaderFn): {
  algorithm?: ChecksumAlgorithm;
  headerValue?: string;
  fromTrailer: boolean;
} {
  const trailer = header("x-amz-trailer")?.trim().toLowerCase();
  if (trailer) {
    const alg = trailer.replace(/^x-amz-checksum-/, "");
    if (!trailer.startsWith("x-amz-checksum-") || !isChecksumAlgorithm(alg)) {
      throw s3ErrorFor("trailer-unsupported", { trailer });
    }
    return { algorithm: alg, fromTrailer: true };
  }
  for (const alg of ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] as const) {
    const value = header(`x-amz-checksum-${alg}`);
    if (value !== undefined) return { algorithm: alg, headerValue: value, fromTrailer: false };
  }
  const declared = parseChecksumAlgorithm(
    header("x-amz-sdk-checksum-algorithm") ?? header("x-amz-checksum-algorithm"),
  );
  return declared ? { algorithm: declared, fromTrailer: false } : { fromTrailer: false };
}

/**
 * Turn a request body into the decoded, verified payload stream for writers: aws-chunked
 * decoding (with chunk signatures), then MD5/SHA-256/checksum verification.
 */
export function openPayload(
  body: Readable,
  auth: AuthContext,
  header: HeaderFn,
): { stream: Readable; verifier: PayloadVerifier; declaredSize?: number } {
  const payload = auth.payload;
  const contentLength = header("content-length");
  const decodedHeader = header("x-amz-decoded-content-length");
  const chunked = payload.kind === "streaming-signed" || payload.kind === "streaming-unsigned-trailer";
  const declaredSize = chunked
    ? decodedHeader !== undefined
      ? Number(decodedHeader)
      : undefined
    : contentLength !== undefined
      ? Number(contentLength)
      : undefined;
  if (declaredSize !== undefined && (!Number.isSafeInteger(declaredSize) || declaredSize < 0)) {
    throw s3ErrorFor("bad-decoded-length");
  }
  const contentMd5 = header("content-md5");
  if (contentMd5 !== undefined) checkContentMd5(contentMd5);
  const wanted = requestedChecksum(header);
  let decoder: AwsChunkedDecoder | undefined;
  if (chunked) {
    decoder = new AwsChunkedDecoder({
      trailer:
        payload.kind === "streaming-unsigned-trailer" ||
        (payload.kind === "streaming-signed" && payload.trailer),
      ...(payload.kind === "streaming-signed"
        ? {
            signing: {
              signingKey: auth.signingKey,
              amzDate: auth.amzDate,
              scope: auth.scope,
              seedSignature: auth.seedSignature,
            },
          }
        : {}),
      ...(declaredSize !== undefined ? { decodedLength: declaredSize } : {}),
    });
  }
  const trailerDecoder = decoder;
  const expectations: PayloadExpectations = {
    ...(payload.kind === "signed" ? { sha256Hex: payload.sha256Hex } : {}),
    ...(header("content-md5") !== undefined ? { md5Base64: header("content-md5")! } : {}),
    ...(wanted.algorithm ? { checksumAlgorithm: wanted.algorithm } : {}),
    ...(declaredSize !== undefined ? { size: declaredSize } : {}),
  };
  if (wanted.algorithm) {
    const headerValue = wanted.headerValue;
    const name = `x-amz-checksum-${wanted.algorithm}`;
    expectations.checksum = wanted.fromTrailer
      ? () => {
          const value = trailerDecoder?.trailers.get(name);
          if (value === undefined) throw s3ErrorFor("trailer-missing", { name });
          return value;
        }
      : () => headerValue;
  }
  const verifier = new PayloadVerifier(expectations);
  // The verifier can fail (in its flush) before the writer starts reading it; the writer still
  // sees the error when it iterates the destroyed stream, so an early emit must not crash us.
  verifier.on("error", () => undefined);
  const stream = decoder ? body.pipe(decoder) : body;
  if (decoder) body.on("error", (err) => decoder.destroy(err));
  stream.on("error", (err) => verifier.destroy(err));
  // A client that disconnects mid-body must not leave the writer waiting forever.
  body.on("close", () => {
    if (!body.readableEnded) verifier.destroy(s3ErrorFor("client-closed-mid-body"));
  });
  stream.pipe(verifier);
  return { stream: verifier, verifier, ...(declaredSize !== undefined ? { declaredSize } : {}) };
}
