/**
 * croc's chunk size: TCP_BUFFER_SIZE / 2. Chunk k covers file offset k·32768; resume requests
 * (`CurrentFileChunkRanges`) and the chunks sent for them use it.
 */
export const CHUNK_BYTES = 32 * 1024;

/**
 * The chunk size of a whole-file send. Every croc receiver writes a chunk's bytes at the offset it
 * carries and finishes by byte count, whatever the size; a few big chunks cost far less per byte
 * (one cipher, nonce, frame, socket and file write each) than many 32 KiB ones. Resumed sends stay at
 * `CHUNK_BYTES`: there croc receivers finish by counting the chunks they asked for.
 */
export const WIRE_CHUNK_BYTES = 256 * 1024;

/** Largest chunk a Podkit receiver accepts (a multiple of `CHUNK_BYTES`). */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;

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

/** `decodeChunk` of a plaintext that arrives in pieces (stored DEFLATE blocks): the data stays in them. */
export function decodeChunkParts(plain: readonly Buffer[]): { offset: number; data: Buffer[] } {
  const first = plain[0];
  if (!first || first.length < 8) {
    const { offset, data } = decodeChunk(Buffer.concat(plain));
    return { offset, data: [data] };
  }
  const data = first.length > 8 ? [first.subarray(8), ...plain.slice(1)] : plain.slice(1);
  return { offset: Number(first.readBigUInt64LE(0)), data };
}
