import {
  decodeMessage,
  deriveKey,
  encodeMessage,
  type FramedSocket,
  joinRelayRoom,
  type Message,
  Pake,
  parseRelayAddress,
  roomPlanB,
  type SenderInfo,
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
    const first = await conn.read(30_000);
    if (first.toString() !== "handshake") throw new Error(`unexpected first frame ${first.toString()}`);
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
