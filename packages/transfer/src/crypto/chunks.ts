/** croc's chunk size: TCP_BUFFER_SIZE / 2. Chunk k covers file offset k·32768. */
export const CHUNK_BYTES = 32 * 1024;

export function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK_BYTES);
}

/**
 * Encodes missing chunk offsets the way `recipientready` carries them:
 * `[chunkSize, start1, count1, start2, count2, …]`, runs of consecutive offsets.
 */
export function offsetsToRanges(offsets: readonly number[], chunkSize = CHUNK_BYTES): number[] {
  if (offsets.length === 0) return [];
  const out = [chunkSize];
  let start = offsets[0] as number;
  let count = 1;
  for (let i = 1; i < offsets.length; i++) {
    const off = offsets[i] as number;
    if (off === start + count * chunkSize) {
      count++;
    } else {
      out.push(start, count);
      start = off;
      count = 1;
    }
  }
  out.push(start, count);
  return out;
}

/** Expands chunk ranges back to offsets; an empty or missing list means "send everything". */
export function rangesToOffsets(ranges: readonly number[] | null | undefined): number[] | null {
  if (!ranges || ranges.length === 0) return null;
  const [chunkSize, ...pairs] = ranges;
  if (chunkSize === undefined || chunkSize <= 0 || pairs.length % 2 !== 0) {
    throw new RangeError("malformed chunk range list");
  }
  const out: number[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const start = pairs[i] as number;
    const count = pairs[i + 1] as number;
    if (count > 1_000_000_000 / chunkSize) throw new RangeError("chunk range too long");
    for (let c = 0; c < count; c++) out.push(start + c * chunkSize);
  }
  return out;
}

/** Plaintext of a data chunk: 8-byte little-endian file offset, then the bytes. */
export function encodeChunk(offset: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8 + data.length);
  out.writeBigUInt64LE(BigInt(offset), 0);
  out.set(data, 8);
  return out;
}

export function decodeChunk(plain: Buffer): { offset: number; data: Buffer } {
  if (plain.length < 8) throw new RangeError("data chunk shorter than its offset");
  const offset = Number(plain.readBigUInt64LE(0));
  return { offset, data: plain.subarray(8) };
}
