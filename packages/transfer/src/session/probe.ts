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
 * probe followed by an encrypted `ips?` (B) with `ips` (its local relay's `[port, ip…]`, or `null`),
 * until `handshake`. `first` is the frame that arrived first (it chose the room).
 */
export async function senderAwaitHandshake(
  conn: FramedSocket,
  first: Buffer,
  password: Buffer,
  timeoutMs: number,
  ips: Buffer = Buffer.from("null"),
): Promise<void> {
  let frame = first;
  let probeKey: Buffer | null = null;
  for (;;) {
    const text = frame.toString("latin1");
    if (text === "handshake") return;
    if (text === "ips?") {
      await conn.write(ips);
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
      await conn.write(seal(probeKey, ips));
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

/**
 * Receiver, before `handshake`: asks the sender for its local relay (`ips?`; in generation B under a
 * key from a `pake1`/`pake2` exchange on `curve`) and returns the raw answer.
 */
export async function receiverAskIps(
  conn: FramedSocket,
  generation: "a" | "b",
  password: Buffer,
  curve: string,
  timeoutMs: number,
): Promise<Buffer> {
  if (generation === "a") {
    await conn.write(Buffer.from("ips?"));
    return await conn.read(timeoutMs);
  }
  const pake = new Pake(password, 0, curve);
  await conn.write(Buffer.from(JSON.stringify({ Bytes: pake.bytes().toString("base64"), Kind: "pake1" })));
  const reply = asSimpleMessage(await conn.read(timeoutMs));
  if (reply?.Kind !== "pake2" || typeof reply.Bytes !== "string")
    throw new TransferError("E_PROTOCOL", "sender answered the local probe with something else");
  if ((reply.Version ?? 0) >= 2) throw generationC();
  pake.update(Buffer.from(reply.Bytes, "base64"));
  const key = pake.sessionKey;
  await conn.write(seal(key, Buffer.from("ips?")));
  try {
    return open(key, await conn.read(timeoutMs));
  } catch (err) {
    if (err instanceof DecryptError) throw wrongCode("receiver");
    throw err;
  }
}
