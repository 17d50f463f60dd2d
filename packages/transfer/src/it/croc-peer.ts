import { constants, deflateRawSync } from "node:zlib";
import { type Generation, roomPlan } from "../code/code.js";
import { deriveKey, open, seal } from "../crypto/aead.js";
import { decodeChunk } from "../crypto/chunks.js";
import { decompress } from "../crypto/compress.js";
import { xxhashBytes } from "../crypto/hash.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import { Pake } from "../pake/pake.js";
import { decodeMessage, encodeMessage, type Message } from "../protocol/messages.js";
import { SenderInfoSchema } from "../protocol/schemas.js";
import { joinRelayRoom, type RelayAddress } from "../relay/client.js";
import { openDataConnections } from "../session/data.js";

/**
 * A receiver that behaves like stock croc on the wire (test only): generation A asks `ips?` in clear,
 * generation B runs the `pake1`/`pake2` probe and asks `ips?` encrypted with the raw PAKE key, then
 * both do `handshake`, `pake` on the chosen curve, data connections, `externalip`, and fetch every
 * file (optionally only some chunks of the first), checking the sender's hash.
 */
export async function crocLikeReceive(options: {
  relay: RelayAddress;
  pass: string;
  code: string;
  generation: Generation;
  curve: string;
  /** Chunk ranges to request for file 0 (croc's resume list); the rest is zero-filled. */
  firstFileRanges?: number[];
}): Promise<{ files: Map<string, Buffer>; chunks: Map<string, number>; messages: string[] }> {
  const plan = roomPlan(options.code, options.generation);
  const rc = await joinRelayRoom({ relay: options.relay, password: options.pass, room: plan.controlRoom });
  const conn = rc.conn;
  const messages: string[] = [];
  const data: FramedSocket[] = [];
  try {
    if (options.generation === "a") {
      await conn.write(Buffer.from("ips?"));
      messages.push(`ips:${(await conn.read(10_000)).toString()}`);
    } else {
      const probe = new Pake(plan.password, 0, options.curve); // croc probes on its own --curve
      await conn.write(
        Buffer.from(JSON.stringify({ Bytes: probe.bytes().toString("base64"), Kind: "pake1" })),
      );
      const reply = JSON.parse((await conn.read(10_000)).toString()) as { Bytes: string; Kind: string };
      probe.update(Buffer.from(reply.Bytes, "base64"));
      await conn.write(seal(probe.sessionKey, Buffer.from("ips?")));
      messages.push(`${reply.Kind}:${open(probe.sessionKey, await conn.read(10_000)).toString()}`);
    }
    await conn.write(Buffer.from("handshake"));
    const pake = new Pake(plan.password, 0, options.curve);
    await conn.write(
      encodeMessage({ type: "pake", bytes: pake.bytes(), bytes2: Buffer.from(options.curve) }, null),
    );
    const next = async (key: Buffer | null): Promise<Message> => {
      const m = decodeMessage(await conn.read(10_000), key);
      messages.push(m.type);
      return m;
    };
    const pakeReply = await next(null);
    pake.update(pakeReply.bytes as Buffer);
    const key = deriveKey(pake.sessionKey, pakeReply.bytes2 as Buffer);
    data.push(
      ...(await openDataConnections({
        relay: options.relay,
        password: options.pass,
        dataPorts: rc.dataPorts,
        plan,
      })),
    );
    await conn.write(
      encodeMessage({ type: "externalip", message: rc.externalAddress, bytes: pakeReply.bytes }, key),
    );
    await next(key);
    const info = SenderInfoSchema.parse(JSON.parse(((await next(key)).bytes as Buffer).toString()));
    const files = new Map<string, Buffer>();
    const chunks = new Map<string, number>();
    // One read in flight per data connection, kept across files (a read nobody waits for any more would
    // take the next file's first chunk).
    const reads: Array<Promise<{ j: number; frame: Buffer }> | null> = data.map(() => null);
    for (const [index, f] of (info.FilesToTransfer ?? []).entries()) {
      if (f.s === 0 || f.sy) continue;
      const ranges = index === 0 ? (options.firstFileRanges ?? null) : null;
      const expectChunks = ranges
        ? ranges
            .slice(1)
            .filter((_, i) => i % 2 === 1)
            .reduce((a, b) => a + b, 0)
        : 0;
      await conn.write(
        encodeMessage(
          {
            type: "recipientready",
            bytes: Buffer.from(
              JSON.stringify({
                CurrentFileChunkRanges: ranges,
                FilesToTransferCurrentNum: index,
                MachineID: "m",
              }),
            ),
          },
          key,
        ),
      );
      const content = Buffer.alloc(f.s);
      // Like croc's receiveData: every connection is read until the bytes add up to the file size (or,
      // resuming, the chunks asked for have all come), whatever size each chunk has.
      let got = 0;
      let bytes = 0;
      while (ranges ? got < expectChunks : bytes < f.s) {
        const { j, frame } = await nextFrame(data, reads);
        reads[j] = null;
        const plain = decodeChunk(info.NoCompress ? open(key, frame) : decompress(open(key, frame)));
        if (plain.data.length === 0) continue; // runpodctl's trailing empty chunk
        plain.data.copy(content, plain.offset);
        got++;
        bytes += plain.data.length;
      }
      if (ranges && got !== expectChunks) throw new Error(`expected ${expectChunks} chunks, got ${got}`);
      await conn.write(encodeMessage({ type: "close-sender" }, key));
      await next(key);
      if (!ranges && !xxhashBytes(content).equals(Buffer.from(f.h as string, "base64")))
        throw new Error(`hash mismatch for ${f.n}`);
      files.set(`${f.fr}${f.n}`, content);
      chunks.set(`${f.fr}${f.n}`, got);
    }
    await conn.write(encodeMessage({ type: "finished" }, key));
    await next(key);
    return { files, chunks, messages };
  } finally {
    conn.close();
    for (const d of data) d.close();
  }
}

/**
 * A sender that behaves like runpodctl (croc 9.6.1 logic) on the wire (test only): Huffman-only
 * chunks, an extra zero-length chunk when a file is an exact multiple of 32 KiB, absolute `fs`
 * paths in the metadata, and a stray `recipientready` answer after `finished`.
 */
export async function runpodctlLikeSend(options: {
  relay: RelayAddress;
  pass: string;
  code: string;
  files: Array<{ name: string; content: Buffer }>;
  /** runpodctl's (croc's) 32 KiB, or bigger ones as Podkit sends whole files. */
  chunkBytes?: number;
}): Promise<string[]> {
  const size = options.chunkBytes ?? 32768;
  const plan = roomPlan(options.code, "a");
  const rc = await joinRelayRoom({ relay: options.relay, password: options.pass, room: plan.controlRoom });
  const conn = rc.conn;
  const data: FramedSocket[] = [];
  const seen: string[] = [];
  try {
    for (;;) {
      const first = (await conn.read(10_000)).toString();
      if (first === "handshake") break;
      if (first === "ips?") await conn.write(Buffer.from("null"));
    }
    let key: Buffer | null = null;
    const info = {
      FilesToTransfer: options.files.map((f) => ({
        n: f.name,
        fr: "./",
        fs: "/home/runpod/data",
        h: xxhashBytes(f.content).toString("base64"),
        s: f.content.length,
        m: "2024-05-20T12:34:56.789Z",
        md: 420,
      })),
      EmptyFoldersToTransfer: null,
      TotalNumberFolders: 0,
      MachineID: "runpod",
      Ask: false,
      SendingText: false,
      NoCompress: false,
      HashAlgorithm: "xxhash",
    };
    for (;;) {
      const msg = decodeMessage(await conn.read(10_000), key);
      seen.push(msg.type);
      if (msg.type === "pake") {
        const pake = new Pake(plan.password, 1, msg.bytes2?.toString() ?? "p256");
        pake.update(msg.bytes as Buffer);
        const salt = Buffer.from("saltsalt");
        await conn.write(encodeMessage({ type: "pake", bytes: pake.bytes(), bytes2: salt }, null));
        key = deriveKey(pake.sessionKey, salt);
        data.push(
          ...(await openDataConnections({
            relay: options.relay,
            password: options.pass,
            dataPorts: rc.dataPorts,
            plan,
          })),
        );
      } else if (msg.type === "externalip") {
        await conn.write(encodeMessage({ type: "externalip", message: rc.externalAddress }, key));
        await conn.write(encodeMessage({ type: "fileinfo", bytes: Buffer.from(JSON.stringify(info)) }, key));
      } else if (msg.type === "recipientready") {
        const req = JSON.parse((msg.bytes as Buffer).toString()) as { FilesToTransferCurrentNum: number };
        const content = (options.files[req.FilesToTransferCurrentNum] as { content: Buffer }).content;
        const chunks = Math.ceil(content.length / size);
        const total = content.length % size === 0 ? chunks + 1 : chunks; // runpodctl's trailing empty chunk
        for (let k = 0; k < total; k++) {
          const plain = Buffer.concat([Buffer.alloc(8), content.subarray(k * size, (k + 1) * size)]);
          plain.writeBigUInt64LE(BigInt(k * size));
          const packed = deflateRawSync(plain, { strategy: constants.Z_HUFFMAN_ONLY });
          await (data[k % data.length] as FramedSocket).write(seal(key as Buffer, packed));
        }
      } else if (msg.type === "close-sender") {
        await conn.write(encodeMessage({ type: "close-recipient" }, key));
      } else if (msg.type === "finished") {
        await conn.write(encodeMessage({ type: "finished" }, key));
        await conn
          .write(encodeMessage({ type: "recipientready", bytes: Buffer.from("{}") }, key))
          .catch(() => {});
        return seen;
      }
    }
  } finally {
    conn.close();
    for (const d of data) d.close();
  }
}

/** The next data frame from whichever connection has one (10 s at most). */
function nextFrame(
  data: readonly FramedSocket[],
  reads: Array<Promise<{ j: number; frame: Buffer }> | null>,
): Promise<{ j: number; frame: Buffer }> {
  for (const [j, d] of data.entries()) {
    if (reads[j]) continue;
    const read = d.read().then((frame) => ({ j, frame }));
    read.catch(() => {}); // connections close at the end with reads still waiting
    reads[j] = read;
  }
  return Promise.race([
    ...(reads as Array<Promise<{ j: number; frame: Buffer }>>),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("no data chunk within 10 s")), 10_000).unref(),
    ),
  ]);
}
