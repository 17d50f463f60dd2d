import { randomBytes } from "node:crypto";
import { deriveKey } from "../crypto/aead.js";
import { rangesToOffsets } from "../crypto/chunks.js";
import { Pake } from "../pake/pake.js";
import type { Message } from "../protocol/messages.js";
import { RemoteFileRequestSchema, type SenderInfo } from "../protocol/schemas.js";
import { generationC, peerError, TransferError } from "../session/errors.js";

export type SenderAction =
  | { do: "send"; msg: Message; encrypt: boolean }
  | { do: "set-key"; key: Buffer }
  | { do: "open-data" }
  | { do: "send-file"; index: number; offsets: number[] | null }
  | { do: "file-done"; index: number }
  | { do: "finished" };

type State = "pake" | "externalip" | "transfer" | "done";

/**
 * The sender's side of the control conversation after `handshake`, as a pure state machine:
 * feed it each message from the receiver, carry out the actions it returns. No sockets, no files.
 */
export class SenderProtocol {
  private state: State = "pake";
  private current: number | null = null;

  constructor(
    private readonly password: Buffer,
    private readonly info: SenderInfo,
    private readonly externalAddress: string,
    private readonly random: { alpha?: Buffer; salt?: Buffer } = {},
  ) {}

  get finished(): boolean {
    return this.state === "done";
  }

  handle(msg: Message): SenderAction[] {
    if (this.state === "done") return []; // generation A receivers send a stray recipientready after finished
    if (msg.type === "error") throw peerError(msg.message ?? "unknown error");
    if (msg.version !== undefined && msg.version >= 2) throw generationC();
    switch (this.state) {
      case "pake":
        return this.onPake(msg);
      case "externalip":
        return this.onExternalIp(msg);
      default:
        return this.onTransfer(msg);
    }
  }

  private onPake(msg: Message): SenderAction[] {
    if (msg.type !== "pake" || !msg.bytes)
      throw new TransferError("E_PROTOCOL", `expected the receiver's pake message, got "${msg.type}"`);
    const curve = msg.bytes2?.length ? msg.bytes2.toString("utf8") : "p256";
    const pake = new Pake(this.password, 1, curve, this.random.alpha);
    pake.update(msg.bytes);
    const salt = this.random.salt ?? randomBytes(8);
    this.state = "externalip";
    return [
      { do: "send", msg: { type: "pake", bytes: pake.bytes(), bytes2: salt }, encrypt: false },
      { do: "set-key", key: deriveKey(pake.sessionKey, salt) },
      { do: "open-data" },
    ];
  }

  private onExternalIp(msg: Message): SenderAction[] {
    if (msg.type !== "externalip")
      throw new TransferError("E_PROTOCOL", `expected externalip, got "${msg.type}"`);
    this.state = "transfer";
    return [
      { do: "send", msg: { type: "externalip", message: this.externalAddress }, encrypt: true },
      { do: "send", msg: { type: "fileinfo", bytes: Buffer.from(JSON.stringify(this.info)) }, encrypt: true },
    ];
  }

  private onTransfer(msg: Message): SenderAction[] {
    switch (msg.type) {
      case "recipientready": {
        let request: ReturnType<typeof RemoteFileRequestSchema.parse>;
        try {
          request = RemoteFileRequestSchema.parse(JSON.parse(msg.bytes?.toString("utf8") ?? ""));
        } catch {
          throw new TransferError("E_PROTOCOL", "receiver sent a malformed file request");
        }
        const index = request.FilesToTransferCurrentNum;
        const file = this.info.FilesToTransfer?.[index];
        if (!file)
          throw new TransferError("E_PROTOCOL", `receiver asked for file #${index}, which was not offered`);
        this.current = index;
        return [{ do: "send-file", index, offsets: rangesToOffsets(request.CurrentFileChunkRanges) }];
      }
      case "close-sender": {
        const done: SenderAction[] = this.current === null ? [] : [{ do: "file-done", index: this.current }];
        this.current = null;
        return [...done, { do: "send", msg: { type: "close-recipient" }, encrypt: true }];
      }
      case "finished":
        this.state = "done";
        return [{ do: "send", msg: { type: "finished" }, encrypt: true }, { do: "finished" }];
      default:
        return []; // croc ignores message types it does not know
    }
  }
}
