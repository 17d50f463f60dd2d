import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DecryptError, deriveKey, open, seal, sealParts } from "./aead.js";
import {
  CHUNK_BYTES,
  decodeChunk,
  decodeChunkParts,
  encodeChunk,
  offsetsToRanges,
  rangesToOffsets,
  WIRE_CHUNK_BYTES,
} from "./chunks.js";
import { compress, decompress, inflateChunk, storedBlocks } from "./compress.js";
import { ArrivalXxhash, imohashFile, md5File, symlinkHash, xxhashBytes, xxhashFile } from "./hash.js";

const vectors = JSON.parse(readFileSync(new URL("../../testdata/vectors.json", import.meta.url), "utf8"));

describe("PBKDF2 and AES-GCM (vectors.json kdf_aead)", () => {
  const kdf = vectors.kdf_aead.pbkdf2_sha256_iter100_len32;
  const aead = vectors.kdf_aead.aes256gcm_encrypt_pass123;

  it("derives croc's key from the PAKE session key and salt", () => {
    const key = deriveKey(Buffer.from(kdf.session_key_hex, "hex"), Buffer.from(kdf.salt_hex, "hex"));
    expect(key.toString("hex")).toBe(kdf.key_hex);
  });

  it("opens Go's AES-GCM envelope of pass123", () => {
    const key = Buffer.from(aead.key_hex, "hex");
    expect(open(key, Buffer.from(aead.nonce_then_ciphertext_and_tag_hex, "hex")).toString()).toBe("pass123");
  });

  it("seals with the same layout Go uses (same nonce → same bytes)", () => {
    const key = Buffer.from(aead.key_hex, "hex");
    const wire = Buffer.from(aead.nonce_then_ciphertext_and_tag_hex, "hex");
    expect(seal(key, Buffer.from("pass123"), wire.subarray(0, 12)).equals(wire)).toBe(true);
  });

  it("fails authentication under a wrong key or a flipped bit", () => {
    const key = Buffer.from(aead.key_hex, "hex");
    const wire = Buffer.from(aead.nonce_then_ciphertext_and_tag_hex, "hex");
    expect(() => open(Buffer.alloc(32), wire)).toThrow(DecryptError);
    const flipped = Buffer.from(wire);
    flipped[14] = (flipped[14] as number) ^ 1;
    expect(() => open(key, flipped)).toThrow(/authentication failed/);
    expect(() => open(key, Buffer.alloc(12))).toThrow(/too short/);
  });
});

describe("raw deflate (vectors.json flate_huffman_only)", () => {
  it("inflates Go's HuffmanOnly output", () => {
    const raw = Buffer.from(vectors.flate_huffman_only.deflate_raw_hex, "hex");
    expect(decompress(raw).toString()).toBe(vectors.flate_huffman_only.plain);
  });

  it("round-trips and refuses bombs beyond the limit", () => {
    const data = Buffer.alloc(100_000, 7);
    expect(decompress(compress(data)).equals(data)).toBe(true);
    expect(() => decompress(compress(Buffer.alloc(2_000_000)), 1_000_000)).toThrow();
  });
});

describe("file hashes (vectors.json file_hashes)", () => {
  const h = vectors.file_hashes;
  const dir = mkdtempSync(join(tmpdir(), "podkit-hash-"));
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + Math.floor(i / 256)) % 256;
  const file = join(dir, "data.bin");
  writeFileSync(file, data);
  const empty = join(dir, "empty");
  writeFileSync(empty, "");

  it("xxhash: XXH64 seed 0, big-endian", async () => {
    expect((await xxhashFile(file)).toString("hex")).toBe(h.xxhash_XXH64_seed0_bigendian_hex);
    expect((await xxhashFile(empty)).toString("hex")).toBe(h.xxhash_empty_hex);
    expect(xxhashBytes(data).toString("hex")).toBe(h.xxhash_XXH64_seed0_bigendian_hex);
  });

  it("imohash in both generations' sampling", async () => {
    expect((await imohashFile(file, "a")).toString("hex")).toBe(
      h["imohash_v9_default(sampleSize=16KiB,threshold=128KiB)_hex"],
    );
    expect((await imohashFile(file, "b")).toString("hex")).toBe(
      h["imohash_v10_custom(sampleSize=2MiB,threshold=128KiB)_hex"],
    );
  });

  it("md5", async () => {
    expect((await md5File(file)).toString("hex")).toBe(h.md5_hex);
  });

  it("symlink hash is the hex SHA-256 of the target as ASCII (vectors SenderInfo)", () => {
    const info = JSON.parse(vectors.json_shapes.SenderInfo);
    const link = info.FilesToTransfer[2];
    expect(symlinkHash(link.sy).toString("base64")).toBe(link.h);
  });
});

describe("XXH64 of chunks as they arrive", () => {
  const data = randomBytes(10 * 1000 + 7);
  const cut = (offsets: number[]) =>
    offsets.map((o, i) => ({ offset: o, pieces: [data.subarray(o, offsets[i + 1] ?? data.length)] }));
  const parts = cut([0, 1000, 3000, 6000, 9000]);
  const run = (order: number[], maxWaiting?: number) => {
    const h = new ArrivalXxhash(data.length, maxWaiting);
    for (const i of order) h.add(parts[i]?.offset as number, parts[i]?.pieces as Buffer[]);
    return h.digest();
  };

  it("equals the file's hash in order and nearly in order (several connections)", () => {
    expect(run([0, 1, 2, 3, 4])?.equals(xxhashBytes(data))).toBe(true);
    expect(run([1, 0, 3, 4, 2])?.equals(xxhashBytes(data))).toBe(true);
  });

  it("gives up (null: hash the file instead) on a gap, a repeat or too much waiting", () => {
    expect(run([0, 1, 3, 4])).toBeNull();
    expect(run([0, 1, 1, 2, 3, 4])).toBeNull();
    expect(run([0, 2, 2, 1, 3, 4])).toBeNull();
    expect(run([4, 3, 2, 1, 0], 2000)).toBeNull();
  });
});

describe("chunk ranges (vectors.json json_shapes)", () => {
  it("expands croc's range list", () => {
    expect(rangesToOffsets([32768, 0, 2, 98304, 1])).toEqual(
      vectors.json_shapes["ChunkRangesToChunks([32768,0,2,98304,1])"],
    );
    expect(rangesToOffsets(null)).toBeNull();
    expect(rangesToOffsets([])).toBeNull();
  });

  it("encodes missing offsets as runs", () => {
    expect(offsetsToRanges([0, 32768, 98304])).toEqual([32768, 0, 2, 98304, 1]);
    expect(offsetsToRanges([])).toEqual([]);
  });

  it("rejects malformed lists", () => {
    expect(() => rangesToOffsets([32768, 0])).toThrow(/malformed/);
    expect(() => rangesToOffsets([0, 0, 1])).toThrow(/malformed/);
  });

  it("chunk plaintext = LE offset + data", () => {
    const enc = encodeChunk(3 * CHUNK_BYTES, Buffer.from("ab"));
    expect(enc.toString("hex")).toBe("0080010000000000" + "6162");
    expect(decodeChunk(enc)).toEqual({ offset: 3 * CHUNK_BYTES, data: Buffer.from("ab") });
  });
});

describe("adaptive chunk compression", () => {
  it("compresses text and stores random data, both readable by a raw inflater", async () => {
    const { AdaptiveCompressor } = await import("./compress.js");
    const c = new AdaptiveCompressor();
    const text = Buffer.from("the same line again\n".repeat(2000));
    const packedText = Buffer.concat(await c.compressChunk(text));
    expect(packedText.length).toBeLessThan(text.length * 0.7);
    expect(decompress(packedText).equals(text)).toBe(true);
    const random = (await import("node:crypto")).randomBytes(WIRE_CHUNK_BYTES + 8);
    const r = new AdaptiveCompressor();
    // The probe's verdict (incompressible) applies to the very chunk it looked at: stored, no zlib.
    for (let i = 0; i < 2; i++) {
      const stored = Buffer.concat(await r.compressChunk(random));
      expect(stored.length).toBe(random.length + 5 * Math.ceil(random.length / 0xffff));
      expect(decompress(stored).equals(random)).toBe(true);
    }
  });
});

describe("stored DEFLATE fast paths", () => {
  it("splits data into stored blocks that zlib reads, and reads them back as pieces without zlib", () => {
    for (const size of [0, 20, 0xffff, 0x10000, WIRE_CHUNK_BYTES + 8]) {
      const data = randomBytes(size);
      const pieces = storedBlocks(data);
      const stream = Buffer.concat(pieces);
      expect(decompress(stream).equals(data)).toBe(true);
      // The data pieces are slices of the input (no copy), between 5-byte block headers.
      const slices = pieces.filter((p) => p.length !== 5);
      expect(slices.every((p) => p.buffer === data.buffer && p.byteOffset >= data.byteOffset)).toBe(true);
      expect(Buffer.concat(inflateChunk(stream, size + 1)).equals(data)).toBe(true);
    }
    // Go's output for short input: a non-final stored block, then an empty final one (vectors.json)
    const go = Buffer.from(vectors.flate_huffman_only.deflate_raw_hex, "hex");
    expect(Buffer.concat(inflateChunk(go, 1000)).toString()).toBe(vectors.flate_huffman_only.plain);
    // Huffman-coded input falls back to zlib
    const huff = compress(Buffer.from("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    expect(Buffer.concat(inflateChunk(huff, 1000)).toString()).toBe("a".repeat(48));
    expect(() => inflateChunk(Buffer.concat(storedBlocks(Buffer.alloc(100))), 3)).toThrow(/exceeds/);
  });

  it("decodes a chunk's offset and data from pieces, whatever their boundaries", () => {
    const plain = encodeChunk(5 * CHUNK_BYTES, Buffer.from("0123456789"));
    for (const cut of [0, 3, 8, 12]) {
      const pieces = [plain.subarray(0, cut), plain.subarray(cut)].filter((p) => p.length > 0);
      const { offset, data } = decodeChunkParts(pieces);
      expect(offset).toBe(5 * CHUNK_BYTES);
      expect(Buffer.concat(data).toString()).toBe("0123456789");
    }
  });
});

describe("sealed pieces", () => {
  it("seal the concatenation of the pieces: any croc reader opens them as one envelope", () => {
    const key = randomBytes(32);
    const pieces = storedBlocks(randomBytes(200_000));
    const wire = Buffer.concat(sealParts(key, pieces));
    expect(open(key, wire).equals(Buffer.concat(pieces))).toBe(true);
    // Fresh nonces every time, also across the batches they are drawn in.
    const nonces = new Set(
      Array.from({ length: 3000 }, () => sealParts(key, [Buffer.from("x")])[0]?.toString("hex")),
    );
    expect(nonces.size).toBe(3000);
  });
});
