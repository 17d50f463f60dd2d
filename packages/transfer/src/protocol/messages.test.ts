import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeMessage, encodeMessage, messageToJson } from "./messages.js";
import { RemoteFileRequestSchema, SenderInfoSchema } from "./schemas.js";

const vectors = JSON.parse(readFileSync(new URL("../../testdata/vectors.json", import.meta.url), "utf8"));

describe("control messages (vectors.json messages)", () => {
  it("decodes Go's unencrypted pake message", () => {
    const msg = decodeMessage(Buffer.from(vectors.messages.pake_unencrypted_wire_hex, "hex"), null);
    expect(msg.type).toBe("pake");
    expect(msg.bytes?.toString()).toBe('{"Role":0}');
    expect(msg.bytes2?.toString()).toBe("p256");
    expect(messageToJson(msg)).toBe(vectors.messages.pake_unencrypted_json);
  });

  it("decodes Go's encrypted finished message", () => {
    const key = Buffer.from(vectors.messages.finished_encrypted_key_hex, "hex");
    const msg = decodeMessage(Buffer.from(vectors.messages.finished_encrypted_wire_hex, "hex"), key);
    expect(msg).toEqual({ type: "finished" });
  });

  it("refuses unencrypted messages other than pake, and wrong keys", () => {
    const key = Buffer.alloc(32, 1);
    expect(() => decodeMessage(encodeMessage({ type: "fileinfo" }, null), null)).toThrow(
      /unencrypted "fileinfo"/,
    );
    expect(() => decodeMessage(encodeMessage({ type: "fileinfo" }, null), key)).toThrow(
      /too short|authentication failed/,
    );
    expect(() => decodeMessage(encodeMessage({ type: "finished" }, key), Buffer.alloc(32, 2))).toThrow(
      /authentication/,
    );
    expect(decodeMessage(encodeMessage({ type: "pake", bytes: Buffer.from("x") }, null), key).type).toBe(
      "pake",
    );
  });

  it("round-trips with a key", () => {
    const key = Buffer.alloc(32, 1);
    const msg = { type: "externalip", message: "127.0.0.1:5000", bytes: Buffer.from("{}") };
    expect(decodeMessage(encodeMessage(msg, key), key)).toEqual(msg);
  });
});

describe("JSON shapes (vectors.json json_shapes)", () => {
  it("parses croc's SenderInfo and RemoteFileRequest", () => {
    const info = SenderInfoSchema.parse(JSON.parse(vectors.json_shapes.SenderInfo));
    expect(info.FilesToTransfer?.map((f) => `${f.fr}${f.n}`)).toEqual([
      "./hello.txt",
      "dir/sub/b.bin",
      "dir/link",
    ]);
    expect(info.EmptyFoldersToTransfer?.[0]?.fr).toBe("dir/empty/");
    const full = RemoteFileRequestSchema.parse(JSON.parse(vectors.json_shapes.RemoteFileRequest_full));
    expect(full.CurrentFileChunkRanges).toBeNull();
    const resume = RemoteFileRequestSchema.parse(JSON.parse(vectors.json_shapes.RemoteFileRequest_resume));
    expect(resume.CurrentFileChunkRanges).toEqual([32768, 0, 2, 98304, 1]);
  });
});
