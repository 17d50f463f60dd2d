import { PodkitError } from "@podkit/core";
/**
 * croc's frame layer: `"croc"` magic, payload length as uint32 little-endian, payload. Used for
 * every byte on every connection, client↔relay and peer↔peer.
 */
export const MAGIC = Buffer.from("croc", "ascii");
export const HEADER_BYTES = 8;
/** croc 10.4+ readers refuse frames over 64 MiB; nothing legitimate comes close. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** The relay's keep-alive: a frame holding the single byte 0x01. */
export const PING = Buffer.from([0x01]);

export class FramingError extends PodkitError<"E_FRAMING"> {
  constructor(message: string) {
    super("E_FRAMING", message);
  }
}

export function encodeFrameHeader(payloadLength: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(payloadLength, 4);
  return header;
}

export function encodeFrame(payload: Uint8Array): Buffer {
  return Buffer.concat([encodeFrameHeader(payload.length), payload]);
}

export function isPing(payload: Uint8Array): boolean {
  return payload.length === 1 && payload[0] === 0x01;
}

/** Checks a frame header's magic and length limit; returns the payload length. */
function parseFrameHeader(header: Buffer, maxPayload: number): number {
  if (!header.subarray(0, 4).equals(MAGIC)) {
    throw new FramingError(`not a croc frame (magic ${header.subarray(0, 4).toString("hex")})`);
  }
  const length = header.readUInt32LE(4);
  if (length > maxPayload) {
    throw new FramingError(`frame of ${length} bytes exceeds the limit of ${maxPayload}`);
  }
  return length;
}

/**
 * Incremental decoder: push the bytes as they arrive, get whole frames back. Pure (no sockets) so the
 * edge cases — split headers, bad magic, oversized lengths — are tested byte by byte.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private bodyLength: number | null = null;

  constructor(private readonly maxPayload: number = MAX_FRAME_BYTES) {}

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.bodyLength === null) {
        if (this.buffered < HEADER_BYTES) break;
        this.bodyLength = parseFrameHeader(this.take(HEADER_BYTES), this.maxPayload);
      }
      if (this.buffered < this.bodyLength) break;
      frames.push(this.take(this.bodyLength));
      this.bodyLength = null;
    }
    return frames;
  }

  /** Hands back whatever is buffered (after a handshake the relay pipes raw bytes). */
  drain(): Buffer {
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    return rest;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0] as Buffer;
      const use = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, use);
      filled += use;
      if (use === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(use);
    }
    this.buffered -= n;
    return out;
  }
}

/**
 * Decoder for bytes that are only valid during the call (a socket reading into one reused buffer):
 * each frame's payload is copied, as it arrives, into a buffer from `alloc`, so nothing of the input
 * is kept. Frames come out whole, exactly as from `FrameDecoder`.
 */
export class CopyingFrameDecoder {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFilled = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;

  constructor(
    private readonly alloc: (length: number) => Buffer,
    private readonly maxPayload: number = MAX_FRAME_BYTES,
  ) {}

  push(input: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let pos = 0;
    while (pos < input.length || (this.body && this.bodyFilled === this.body.length)) {
      if (!this.body) {
        const n = Math.min(HEADER_BYTES - this.headerFilled, input.length - pos);
        input.copy(this.header, this.headerFilled, pos, pos + n);
        this.headerFilled += n;
        pos += n;
        if (this.headerFilled < HEADER_BYTES) break;
        this.headerFilled = 0;
        this.body = this.alloc(parseFrameHeader(this.header, this.maxPayload));
        this.bodyFilled = 0;
      }
      const n = Math.min(this.body.length - this.bodyFilled, input.length - pos);
      input.copy(this.body, this.bodyFilled, pos, pos + n);
      this.bodyFilled += n;
      pos += n;
      if (this.bodyFilled === this.body.length) {
        frames.push(this.body);
        this.body = null;
      }
    }
    return frames;
  }
}
