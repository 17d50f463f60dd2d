import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { Crc32c, Crc64Nvme } from "@aws-sdk/checksums/crc";
import { s3ErrorFor } from "../errors/s3-errors.js";

/** The flexible checksums S3 clients send (`x-amz-checksum-*`), lower-case as in header names. */
export const CHECKSUM_ALGORITHMS = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export function isChecksumAlgorithm(value: string): value is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(value);
}

/** Parse `CRC32`, `crc64nvme`, … as sent in x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm. */
export function parseChecksumAlgorithm(value: string | undefined): ChecksumAlgorithm | undefined {
  if (value === undefined || value === "") return undefined;
  const lower = value.toLowerCase();
  if (!isChecksumAlgorithm(lower)) {
    throw s3ErrorFor("checksum-algorithm-unsupported", { value });
  }
  return lower;
}

export interface IncrementalChecksum {
  update(data: Buffer): void;
  /** Base64 of the big-endian digest, as S3 headers carry it. */
  digestBase64(): Promise<string>;
}

class Crc32Checksum implements IncrementalChecksum {
  private value = 0;
  update(data: Buffer): void {
    this.value = crc32(data, this.value);
  }
  async digestBase64(): Promise<string> {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value >>> 0);
    return out.toString("base64");
  }
}

class SdkChecksum implements IncrementalChecksum {
  constructor(private readonly inner: { update(d: Uint8Array): void; digest(): Promise<Uint8Array> }) {}
  update(data: Buffer): void {
    this.inner.update(data);
  }
  async digestBase64(): Promise<string> {
    return Buffer.from(await this.inner.digest()).toString("base64");
  }
}

class HashChecksum implements IncrementalChecksum {
  private readonly hash;
  constructor(algorithm: "sha1" | "sha256") {
    this.hash = createHash(algorithm);
  }
  update(data: Buffer): void {
    this.hash.update(data);
  }
  async digestBase64(): Promise<string> {
    return this.hash.digest("base64");
  }
}

export function createChecksum(algorithm: ChecksumAlgorithm): IncrementalChecksum {
  switch (algorithm) {
    case "crc32":
      return new Crc32Checksum();
    case "crc32c":
      return new SdkChecksum(new Crc32c());
    case "crc64nvme":
      return new SdkChecksum(new Crc64Nvme());
    case "sha1":
      return new HashChecksum("sha1");
    case "sha256":
      return new HashChecksum("sha256");
  }
}

/** Checksum of a whole buffer, base64. */
export async function checksumOf(algorithm: ChecksumAlgorithm, data: Buffer): Promise<string> {
  const c = createChecksum(algorithm);
  c.update(data);
  return c.digestBase64();
}

/**
 * The multipart "composite" checksum: the checksum of the concatenated raw part checksums,
 * suffixed with the part count (`<b64>-N`), as S3 reports for COMPOSITE uploads.
 */
export async function compositeChecksum(
  algorithm: ChecksumAlgorithm,
  partChecksumsBase64: readonly string[],
): Promise<string> {
  const joined = Buffer.concat(partChecksumsBase64.map((b64) => Buffer.from(b64, "base64")));
  return `${await checksumOf(algorithm, joined)}-${partChecksumsBase64.length}`;
}
