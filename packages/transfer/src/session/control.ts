import { DecryptError } from "../crypto/aead.js";
import { ConnectionClosedError, type FramedSocket, ReadTimeoutError } from "../framing/framed-socket.js";
import { decodeMessage, encodeMessage, type Message } from "../protocol/messages.js";

/** The control connection after `handshake`: JSON messages, deflated, AES-GCM once a key is set. */
export class ControlChannel {
  key: Buffer | null = null;

  constructor(readonly conn: FramedSocket) {}

  send(msg: Message, encrypt = true): Promise<void> {
    return this.conn.write(encodeMessage(msg, encrypt ? this.key : null));
  }

  private pending: Promise<Message> | null = null;

  /**
   * Next message. One read is in flight at a time: a caller that stops waiting (a race, a timeout)
   * leaves it for the next caller, so no message is ever lost.
   */
  receive(timeoutMs?: number): Promise<Message> {
    if (!this.pending) {
      const read = this.conn.read().then((frame) => decodeMessage(frame, this.key));
      this.pending = read;
      read.then(
        () => this.release(read),
        () => this.release(read),
      );
    }
    const pending = this.pending;
    if (timeoutMs === undefined) return pending;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ReadTimeoutError(`no answer within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      pending.then(
        (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private release(read: Promise<Message>): void {
    if (this.pending === read) this.pending = null;
  }

  close(): void {
    this.conn.close();
  }
}

export function isDecryptError(err: unknown): boolean {
  return err instanceof DecryptError;
}

export function isClosed(err: unknown): boolean {
  return err instanceof ConnectionClosedError || (err as NodeJS.ErrnoException)?.code === "ECONNRESET";
}
