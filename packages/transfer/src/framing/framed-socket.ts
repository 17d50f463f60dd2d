import type { Socket } from "node:net";
import { PodkitError } from "@podkit/core";
import { WIRE_CHUNK_BYTES } from "../crypto/chunks.js";
import { CopyingFrameDecoder, encodeFrameHeader, FrameDecoder, isPing, MAX_FRAME_BYTES } from "./frame.js";

export class ConnectionClosedError extends PodkitError<"E_CLOSED"> {
  constructor(message: string) {
    super("E_CLOSED", message);
  }
}

export class ReadTimeoutError extends PodkitError<"E_READ_TIMEOUT"> {
  constructor(message: string) {
    super("E_READ_TIMEOUT", message);
  }
}

/**
 * Pause the socket once this many decoded-but-unread bytes are queued (back-pressure): a few whole
 * data chunks, so a reader is not paused and resumed for every chunk.
 */
const QUEUE_HIGH_WATER = 512 * 1024;

/** The one buffer a client socket reads into (net's `onread`), instead of a fresh Buffer per read. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Frames up to this size (a whole-file data chunk with its offset, deflate, nonce and tag) are pooled. */
const POOLED_FRAME_BYTES = WIRE_CHUNK_BYTES + 2 * 1024;
const POOL_MAX = 16;

/**
 * Hands a socket's reads to a `FramedSocket` from one reused buffer: pass `onread` to `net.connect`,
 * then the reader to the `FramedSocket`. Bytes that arrive before that are kept (copied) until then.
 */
export class SocketReader {
  private target: ((chunk: Buffer) => void) | null = null;
  private early: Buffer[] = [];
  readonly onread = {
    buffer: Buffer.allocUnsafeSlow(READ_BUFFER_BYTES),
    callback: (n: number, buf: Uint8Array): boolean => {
      const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
      if (this.target) this.target(chunk);
      else this.early.push(Buffer.from(chunk));
      return true;
    },
  };

  attach(target: (chunk: Buffer) => void): void {
    this.target = target;
    for (const chunk of this.early) target(chunk);
    this.early = [];
  }
}

/**
 * A socket that speaks frames. Reads are pulled (`read()`), and the socket is paused while unread
 * frames pile up, so a slow consumer slows the sender down instead of filling memory. Writes wait for
 * `drain` when the kernel buffer is full.
 */
export class FramedSocket {
  private readonly decoder: FrameDecoder;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private failure: Error | null = null;
  private waiter: (() => void) | null = null;
  /** Drop the relay's 1-byte keep-alive frames (every peer reader must). */
  dropPings = true;
  /** Keep-alives seen: the relay only pings a member still waiting alone in its room. */
  pings = 0;
  firstPingAt = 0;
  lastPingAt = 0;

  /** Set when the socket reads into a reused buffer: frames are copied out, into pooled buffers. */
  private readonly copying: CopyingFrameDecoder | null = null;
  private readonly pool: Buffer[] = [];
  private readonly pooled = new WeakSet<ArrayBufferLike>();

  /**
   * With a `reader` (client sockets), each socket read lands in one reused buffer and every frame is
   * copied into a buffer that `release()` hands back for the next frame: a receiver then turns no
   * socket buffer into garbage per chunk, which kept its RSS well above the sender's.
   */
  constructor(
    readonly socket: Socket,
    maxFrameBytes: number = MAX_FRAME_BYTES,
    reader?: SocketReader,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    if (reader) {
      this.copying = new CopyingFrameDecoder((n) => this.frameBuffer(n), maxFrameBytes);
      reader.attach((chunk) => this.onData(chunk));
    } else {
      socket.on("data", (chunk: Buffer) => this.onData(chunk));
    }
    socket.on("end", () => this.fail(new ConnectionClosedError("connection closed by the other side")));
    socket.on("close", () => this.fail(new ConnectionClosedError("connection closed")));
    socket.on("error", (err) => this.fail(err));
  }

  get remoteAddress(): string {
    const { remoteAddress, remotePort } = this.socket;
    return remoteAddress?.includes(":")
      ? `[${remoteAddress}]:${remotePort}`
      : `${remoteAddress}:${remotePort}`;
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.copying ? this.copying.push(chunk) : this.decoder.push(chunk);
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (this.dropPings && isPing(frame)) {
        this.pings++;
        this.lastPingAt = Date.now();
        if (this.firstPingAt === 0) this.firstPingAt = this.lastPingAt;
        continue;
      }
      this.queue.push(frame);
      this.queuedBytes += frame.length;
    }
    if (this.queuedBytes > QUEUE_HIGH_WATER) this.socket.pause();
    this.wake();
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private frameBuffer(length: number): Buffer {
    // Small frames (pings, control messages) come from Node's shared slab; huge ones are one-offs.
    if (length < 1024 || length > POOLED_FRAME_BYTES) return Buffer.allocUnsafe(length);
    let buf = this.pool.pop();
    if (!buf) {
      buf = Buffer.allocUnsafeSlow(POOLED_FRAME_BYTES);
      this.pooled.add(buf.buffer);
    }
    return buf.subarray(0, length);
  }

  /**
   * Gives a frame from `read()` back for reuse. Only for a frame nothing refers to any more (e.g. once
   * it is decrypted); frames never released are simply garbage-collected.
   */
  release(frame: Buffer): void {
    if (this.pooled.has(frame.buffer) && this.pool.length < POOL_MAX)
      this.pool.push(Buffer.from(frame.buffer, 0, POOLED_FRAME_BYTES));
  }

  /** Next frame; rejects when the connection ends or after `timeoutMs` without one. */
  async read(timeoutMs?: number): Promise<Buffer> {
    for (;;) {
      const frame = this.queue.shift();
      if (frame) {
        this.queuedBytes -= frame.length;
        if (this.queuedBytes <= QUEUE_HIGH_WATER && this.socket.isPaused()) this.socket.resume();
        return frame;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => {
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                this.waiter = null;
                reject(new ReadTimeoutError(`no answer within ${Math.round(timeoutMs / 1000)} s`));
              }, timeoutMs);
        this.waiter = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Writes one frame; resolves once the socket can take more (back-pressure). */
  async write(payload: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    this.socket.write(encodeFrameHeader(payload.length));
    if (!this.socket.write(payload)) await this.drained();
  }

  /** Writes one frame made of several parts without concatenating them (hot path for chunks). */
  async writeParts(parts: readonly Uint8Array[]): Promise<void> {
    if (this.failure) throw this.failure;
    let length = 0;
    for (const p of parts) length += p.length;
    this.socket.cork();
    this.socket.write(encodeFrameHeader(length));
    let ok = true;
    for (const p of parts) ok = this.socket.write(p);
    this.socket.uncork();
    if (!ok) await this.drained();
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (): void => {
        cleanup();
        reject(this.failure ?? new ConnectionClosedError("connection closed"));
      };
      const cleanup = (): void => {
        this.socket.off("drain", onDrain);
        this.socket.off("close", onClose);
      };
      this.socket.on("drain", onDrain);
      this.socket.on("close", onClose);
    });
  }

  /** Stops frame decoding and returns bytes that arrived after the last frame (relay piping; server side only). */
  detach(): Buffer {
    if (this.copying) throw new Error("detach() needs a socket without a SocketReader");
    this.socket.removeAllListeners("data");
    this.socket.pause();
    const rest = [
      ...this.queue.map((f) => Buffer.concat([encodeFrameHeader(f.length), f])),
      this.decoder.drain(),
    ];
    this.queue.length = 0;
    return Buffer.concat(rest);
  }

  close(): void {
    this.socket.destroy();
  }
}
