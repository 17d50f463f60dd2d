import {
  decodeMessage,
  deriveKey,
  encodeMessage,
  type FramedSocket,
  joinRelayRoom,
  type Message,
  open,
  Pake,
  parseRelayAddress,
  roomPlanB,
  type SenderInfo,
  seal,
} from "@podkit/transfer";

/**
 * A hand-made generation B sender built from the protocol's building blocks, so a test can offer
 * whatever metadata it likes (a hostile peer) and see how Podkit's receiver answers.
 */
export async function hostileSender(options: {
  relay: string;
  pass: string;
  code: string;
  info: SenderInfo;
}): Promise<Message[]> {
  const plan = roomPlanB(options.code);
  const relay = parseRelayAddress(options.relay);
  const rc = await joinRelayRoom({ relay, password: options.pass, room: plan.controlRoom });
  const conn = rc.conn;
  const data: FramedSocket[] = [];
  const seen: Message[] = [];
  try {
    // Before `handshake` a croc 10 receiver (Podkit's too) probes for a direct path; answer it as a
    // croc sender without one does: pake2, then a sealed `null`.
    let probeKey: Buffer | null = null;
    for (;;) {
      const frame = await conn.read(30_000);
      if (frame.toString() === "handshake") break;
      if (probeKey) {
        if (open(probeKey, frame).toString() !== "ips?") throw new Error("unexpected probe");
        await conn.write(seal(probeKey, Buffer.from("null")));
        continue;
      }
      const probe = JSON.parse(frame.toString()) as { Kind?: string; Bytes?: string };
      if (probe.Kind !== "pake1" || !probe.Bytes)
        throw new Error(`unexpected first frame ${frame.toString()}`);
      const pake = new Pake(plan.password, 1, "p256");
      pake.update(Buffer.from(probe.Bytes, "base64"));
      await conn.write(
        Buffer.from(JSON.stringify({ Bytes: pake.bytes().toString("base64"), Kind: "pake2" })),
      );
      probeKey = pake.sessionKey;
    }
    let key: Buffer | null = null;
    for (;;) {
      let msg: Message;
      try {
        msg = decodeMessage(await conn.read(30_000), key);
      } catch {
        return seen; // the receiver hung up
      }
      seen.push(msg);
      if (msg.type === "pake") {
        const pake = new Pake(plan.password, 1, msg.bytes2?.toString() ?? "p256");
        pake.update(msg.bytes as Buffer);
        const salt = Buffer.from("12345678");
        await conn.write(encodeMessage({ type: "pake", bytes: pake.bytes(), bytes2: salt }, null));
        key = deriveKey(pake.sessionKey, salt);
        for (const [j, port] of rc.dataPorts.entries()) {
          data.push(
            (
              await joinRelayRoom({
                relay: { host: relay.host, port },
                password: options.pass,
                room: plan.dataRoom(j),
              })
            ).conn,
          );
        }
      } else if (msg.type === "externalip") {
        await conn.write(encodeMessage({ type: "externalip", message: "203.0.113.9:1234" }, key));
        await conn.write(
          encodeMessage({ type: "fileinfo", bytes: Buffer.from(JSON.stringify(options.info)) }, key),
        );
      } else if (msg.type === "error" || msg.type === "finished") {
        return seen;
      }
    }
  } finally {
    conn.close();
    for (const d of data) d.close();
  }
}

/** Waits in a room and answers the receiver's pake with croc 11's `"v":2`, like a croc 11 peer. */
export async function croc11Sender(options: { relay: string; pass: string; room: string }): Promise<void> {
  const rc = await joinRelayRoom({
    relay: parseRelayAddress(options.relay),
    password: options.pass,
    room: options.room,
  });
  try {
    await rc.conn.read(30_000).catch(() => null);
  } finally {
    rc.conn.close();
  }
}
