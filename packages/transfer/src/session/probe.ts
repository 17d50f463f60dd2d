import { DecryptError, open, seal } from "../crypto/aead.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { curveOfPeerPake, Pake } from "../pake/pake.js";
import { generationC, TransferError, wrongCode } from "./errors.js";

/** croc's `SimpleMessage` used by generation B's local-IP probe: `{"Bytes": base64, "Kind": …}`. */
interface SimpleMessage {
  Bytes?: string;
  Kind?: string;
  Version?: number;
}

function asSimpleMessage(frame: Buffer): SimpleMessage | null {
  if (frame[0] !== 0x7b) return null; // "{"
  try {
    const parsed = JSON.parse(frame.toString("utf8")) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as SimpleMessage) : null;
  } catch {
    return null;
  }
}

/**
 * What a sender does before `handshake` (§8.1 step 4): answer a plaintext `ips?` (A) or a `pake1`
 * probe followed by an encrypted `ips?` (B) with "no local relay" (`null`), until `handshake`.
 * `first` is the frame that arrived first (it chose the room).
 */
export async function senderAwaitHandshake(
  conn: FramedSocket,
  first: Buffer,
  password: Buffer,
  timeoutMs: number,
): Promise<void> {
  let frame = first;
  let probeKey: Buffer | null = null;
  for (;;) {
    const text = frame.toString("latin1");
    if (text === "handshake") return;
    if (text === "ips?") {
      await conn.write(Buffer.from("null"));
    } else if (probeKey) {
      let plain: Buffer;
      try {
        plain = open(probeKey, frame);
      } catch (err) {
        if (err instanceof DecryptError) throw wrongCode("sender");
        throw err;
      }
      if (plain.toString("latin1") !== "ips?")
        throw new TransferError("E_PROTOCOL", "receiver sent an unexpected probe");
      await conn.write(seal(probeKey, Buffer.from("null")));
    } else {
      const simple = asSimpleMessage(frame);
      if (simple?.Kind !== "pake1" || typeof simple.Bytes !== "string") {
        throw new TransferError(
          "E_PROTOCOL",
          "the other side does not speak the croc protocol (unexpected first message)",
        );
      }
      if ((simple.Version ?? 0) >= 2) throw generationC();
      // croc runs the probe on each side's own `--curve` (default p256); follow the receiver's, so a
      // croc 10 receiver started with `--curve p384` (or siec, p521) still finds this sender.
      const probe = Buffer.from(simple.Bytes, "base64");
      const pake = new Pake(password, 1, curveOfPeerPake(probe) ?? "p256");
      pake.update(probe);
      await conn.write(
        Buffer.from(JSON.stringify({ Bytes: pake.bytes().toString("base64"), Kind: "pake2" })),
      );
      probeKey = pake.sessionKey;
    }
    frame = await conn.read(timeoutMs);
  }
}
