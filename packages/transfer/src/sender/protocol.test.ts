import { describe, expect, it } from "vitest";
import { deriveKey } from "../crypto/aead.js";
import { Pake } from "../pake/pake.js";
import type { SenderInfo } from "../protocol/schemas.js";
import { SenderProtocol } from "./protocol.js";

const info: SenderInfo = {
  FilesToTransfer: [{ n: "a.txt", fr: "./", s: 3, h: "x" }],
  EmptyFoldersToTransfer: null,
  HashAlgorithm: "xxhash",
};

function keyedPair(): { proto: SenderProtocol; receiverPake: Pake } {
  const proto = new SenderProtocol(Buffer.from("galileo-collect-fidel"), info, "127.0.0.1:5000");
  const receiverPake = new Pake(Buffer.from("galileo-collect-fidel"), 0, "p256");
  return { proto, receiverPake };
}

describe("SenderProtocol", () => {
  it("runs pake → externalip → fileinfo → file → finished", () => {
    const { proto, receiverPake } = keyedPair();
    const pakeActions = proto.handle({
      type: "pake",
      bytes: receiverPake.bytes(),
      bytes2: Buffer.from("p256"),
    });
    expect(pakeActions.map((a) => a.do)).toEqual(["send", "set-key", "open-data"]);
    const reply = pakeActions[0] as { msg: { bytes: Buffer; bytes2: Buffer }; encrypt: boolean };
    expect(reply.encrypt).toBe(false);
    receiverPake.update(reply.msg.bytes);
    const key = deriveKey(receiverPake.sessionKey, reply.msg.bytes2);
    expect((pakeActions[1] as { key: Buffer }).key.equals(key)).toBe(true);

    const ext = proto.handle({ type: "externalip", message: "127.0.0.1:6000" });
    expect(ext.map((a) => (a.do === "send" ? a.msg.type : a.do))).toEqual(["externalip", "fileinfo"]);

    const ready = proto.handle({
      type: "recipientready",
      bytes: Buffer.from('{"CurrentFileChunkRanges":[32768,0,2],"FilesToTransferCurrentNum":0}'),
    });
    expect(ready).toEqual([{ do: "send-file", index: 0, offsets: [0, 32768] }]);
    expect(proto.handle({ type: "close-sender" }).map((a) => a.do)).toEqual(["file-done", "send"]);
    expect(proto.handle({ type: "finished" }).map((a) => a.do)).toEqual(["send", "finished"]);
    expect(proto.handle({ type: "recipientready", bytes: Buffer.from("{}") })).toEqual([]);
    expect(proto.finished).toBe(true);
  });

  it("follows the receiver's curve choice", () => {
    for (const curve of ["siec", "p384", "p521"]) {
      const proto = new SenderProtocol(Buffer.from("pw-pw-pw"), info, "x");
      const a = new Pake(Buffer.from("pw-pw-pw"), 0, curve);
      const actions = proto.handle({ type: "pake", bytes: a.bytes(), bytes2: Buffer.from(curve) });
      a.update((actions[0] as { msg: { bytes: Buffer } }).msg.bytes);
      expect(a.sessionKey).toHaveLength(32);
    }
  });

  it("fails clearly on peer errors, croc 11 and bad requests", () => {
    const { proto, receiverPake } = keyedPair();
    expect(() => proto.handle({ type: "pake", bytes: receiverPake.bytes(), version: 2 })).toThrow(/croc 11/);
    expect(() => keyedPair().proto.handle({ type: "error", message: "disk full" })).toThrow(
      "peer error: disk full",
    );
    // croc's bare refusal and Podkit's with a reason both read as a refusal, not a raw peer error.
    expect(() => keyedPair().proto.handle({ type: "error", message: "refusing files" })).toThrow(
      /^the receiver refused the files \(declined, or it already has some of these files with other content\); nothing was sent\. Send again once the receiver accepts/,
    );
    expect(() =>
      keyedPair().proto.handle({ type: "error", message: "refusing files: declined by the receiver" }),
    ).toThrow(/^the receiver refused the files \(declined by the receiver\); nothing was sent/);
    expect(() => keyedPair().proto.handle({ type: "fileinfo" })).toThrow(/expected the receiver's pake/);
    const p = keyedPair();
    p.proto.handle({ type: "pake", bytes: p.receiverPake.bytes(), bytes2: Buffer.from("p256") });
    p.proto.handle({ type: "externalip" });
    expect(() =>
      p.proto.handle({ type: "recipientready", bytes: Buffer.from('{"FilesToTransferCurrentNum":7}') }),
    ).toThrow(/#7/);
    expect(() => p.proto.handle({ type: "recipientready", bytes: Buffer.from("nope") })).toThrow(/malformed/);
  });
});
