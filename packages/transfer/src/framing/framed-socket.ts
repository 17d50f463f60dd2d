import type { Socket } from "node:net";
import { encodeFrameHeader, FrameDecoder, isPing, MAX_FRAME_BYTES } from "./frame.js";

export class ConnectionClosedError extends Error {
  readonly code = "E_CLOSED";
}

export class ReadTimeoutError extends Error {
  readonly code = "E_TIMEOUT";
}

/** Pause the socket once this many decoded-but-unread bytes are queued (back-pressure). */
const QUEUE_HIGH_WATER = 256 * 1024;

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
  lastPingAt = 0;

  constructor(
    readonly socket: Socket,
    maxFrameBytes: number = MAX_FRAME_BYTES,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
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
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (this.dropPings && isPing(frame)) {
        this.pings++;
        this.lastPingAt = Date.now();
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

  /** Stops frame decoding and returns bytes that arrived after the last frame (relay piping). */
  detach(): Buffer {
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
