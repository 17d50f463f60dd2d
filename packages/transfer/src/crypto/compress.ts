import { promisify } from "node:util";
import { constants, deflateRaw, deflateRawSync, inflateRaw, inflateRawSync } from "node:zlib";

/**
 * croc compresses with raw DEFLATE (no zlib header) at Go's HuffmanOnly level; any raw inflater reads
 * it. Huffman-only is also the fastest zlib strategy, which matters for multi-GiB transfers.
 */
const DEFLATE_OPTIONS = { strategy: constants.Z_HUFFMAN_ONLY, level: 1, memLevel: 9 };
/** Stored blocks: still valid raw DEFLATE for every croc reader, at memcpy speed. */
const STORED_OPTIONS = { level: 0, memLevel: 9 };
/** Nothing a peer sends may inflate to more than this (a chunk is ≤ 32 KiB + 8, messages far less). */
export const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

export function compress(data: Uint8Array): Buffer {
  return deflateRawSync(data, DEFLATE_OPTIONS);
}

export function decompress(data: Uint8Array, maxOutputLength = MAX_INFLATED_BYTES): Buffer {
  return inflateRawSync(data, { maxOutputLength });
}

const deflateRawAsync = promisify(deflateRaw);
const inflateRawAsync = promisify(inflateRaw);

/** Off the main thread (libuv pool), so sender and receiver use more than one core for chunks. */
export function compressAsync(data: Uint8Array): Promise<Buffer> {
  return deflateRawAsync(data, DEFLATE_OPTIONS);
}

export function decompressAsync(data: Uint8Array, maxOutputLength = MAX_INFLATED_BYTES): Promise<Buffer> {
  return inflateRawAsync(data, { maxOutputLength });
}

/**
 * Chunk compressor that stops wasting CPU on incompressible data (random bytes, archives, model
 * weights): when Huffman coding saves under 2 % it emits stored blocks for the next 64 chunks, then
 * probes again. Every output is a raw DEFLATE stream, so croc and runpodctl receivers read it as usual.
 */
export class AdaptiveCompressor {
  private storedLeft = 0;
  static readonly PROBE_EVERY = 64;

  compress(data: Uint8Array): Promise<Buffer> | Buffer {
    if (this.storedLeft > 0) {
      this.storedLeft--;
      return deflateRawSync(data, STORED_OPTIONS);
    }
    return compressAsync(data).then((out) => {
      if (out.length > data.length * 0.98) this.storedLeft = AdaptiveCompressor.PROBE_EVERY;
      return out;
    });
  }
}
