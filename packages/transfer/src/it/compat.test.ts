import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RelayHandle, startRelay } from "../relay/server.js";
import { send } from "../sender/sender.js";
import { localAddresses } from "../session/local.js";
import { crocLikeReceive, runpodctlLikeSend } from "./croc-peer.js";

// Podkit's sender against receivers that follow stock croc's wire behaviour step by step.
let relay: RelayHandle;
beforeAll(async () => {
  relay = await startRelay({ host: "127.0.0.1", ports: [0, 0, 0, 0, 0], pass: "pw" });
});
afterAll(() => relay.close());

const at = () => ({ host: "127.0.0.1", port: relay.ports[0] as number });

function files(): { dir: string; big: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "podkit-compat-"));
  const big = randomBytes(8 * 32768); // exact multiple of the chunk size
  writeFileSync(join(dir, "big.bin"), big);
  writeFileSync(join(dir, "text.txt"), "compressible text\n".repeat(5000));
  return { dir, big };
}

describe("podkit send → croc-like receivers", () => {
  const cases = [
    { generation: "a", curve: "p256" },
    { generation: "b", curve: "p256" },
    { generation: "b", curve: "siec" },
    { generation: "b", curve: "p384" },
    { generation: "b", curve: "p521" },
  ] as const;
  for (const { generation, curve } of cases) {
    it(`generation ${generation.toUpperCase()} receiver asking for ${curve}`, async () => {
      const { dir, big } = files();
      const code = `${generation === "a" ? 71 : 72}${curve.length}-compat-${randomBytes(2).toString("hex")}`;
      const sending = send({
        paths: [join(dir, "big.bin"), join(dir, "text.txt")],
        code,
        relay: relay.address,
        relayPass: "pw",
        protocol: "auto",
        // p256 (croc's default) with the sender's direct path offered, the other curves without it.
        local: curve === "p256",
      });
      await new Promise((r) => setTimeout(r, 300));
      const got = await crocLikeReceive({ relay: at(), pass: "pw", code, generation, curve });
      const sent = await sending;
      expect(sent.generation).toBe(generation);
      expect(got.files.get("./big.bin")?.equals(big)).toBe(true);
      expect(got.files.get("./text.txt")?.toString()).toBe("compressible text\n".repeat(5000));
      // A: plaintext `ips?`; B: pake2 then encrypted `ips?`. The answer is croc's `[port, ip…]` of the
      // sender's own relay, or `null` with --no-local (or on a machine with no address but loopback).
      const [probe, answer] = (got.messages[0] as string).split(/:(.*)/s) as [string, string];
      expect(probe).toBe(generation === "a" ? "ips" : "pake2");
      const addresses = localAddresses();
      if (curve !== "p256" || addresses.length === 0) expect(answer).toBe("null");
      else {
        const [port, ...ips] = JSON.parse(answer) as string[];
        expect(Number(port)).toBeGreaterThan(0);
        expect(ips).toEqual(addresses);
      }
      expect(got.messages.slice(1)).toEqual([
        "pake",
        "externalip",
        "fileinfo",
        "close-recipient",
        "close-recipient",
        "finished",
      ]);
    });
  }

  it("sends a whole file in 256 KiB chunks, which a croc receiver takes (it finishes by byte count)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "podkit-compat-"));
    const model = randomBytes(4 * 256 * 1024 + 5);
    writeFileSync(join(dir, "model.bin"), model);
    const code = `7388-wide-${randomBytes(2).toString("hex")}`;
    const sending = send({
      paths: [join(dir, "model.bin")],
      code,
      relay: relay.address,
      relayPass: "pw",
      protocol: "b",
    });
    await new Promise((r) => setTimeout(r, 300));
    const got = await crocLikeReceive({ relay: at(), pass: "pw", code, generation: "b", curve: "p256" });
    await sending;
    expect(got.files.get("./model.bin")?.equals(model)).toBe(true);
    expect(got.chunks.get("./model.bin")).toBe(5); // 32 KiB chunks would be 129
  });

  it("honours a croc receiver's resume ranges, sending only those chunks", async () => {
    const { dir, big } = files();
    const code = `7399-ranges-${randomBytes(2).toString("hex")}`;
    const sending = send({
      paths: [join(dir, "big.bin")],
      code,
      relay: relay.address,
      relayPass: "pw",
      protocol: "b",
    });
    await new Promise((r) => setTimeout(r, 300));
    const got = await crocLikeReceive({
      relay: at(),
      pass: "pw",
      code,
      generation: "b",
      curve: "p256",
      firstFileRanges: [32768, 0, 2, 5 * 32768, 1],
    });
    await sending;
    expect(got.chunks.get("./big.bin")).toBe(3); // the 32 KiB chunks asked for, as croc counts them
    const content = got.files.get("./big.bin") as Buffer;
    for (const k of [0, 1, 5])
      expect(
        content.subarray(k * 32768, (k + 1) * 32768).equals(big.subarray(k * 32768, (k + 1) * 32768)),
      ).toBe(true);
    expect(content.subarray(2 * 32768, 5 * 32768).equals(Buffer.alloc(3 * 32768))).toBe(true);
  });
});

describe("runpodctl-like sender → podkit receive", () => {
  it("accepts Huffman chunks, the trailing empty chunk and a stray message after finished", async () => {
    const { receive } = await import("../receiver/receiver.js");
    const { readFileSync } = await import("node:fs");
    const exact = randomBytes(4 * 32768);
    const odd = Buffer.from("text that compresses well\n".repeat(3000));
    const code = `7511-runpod-${randomBytes(2).toString("hex")}-3`;
    const out = mkdtempSync(join(tmpdir(), "podkit-compat-out-"));
    const sender = runpodctlLikeSend({
      relay: at(),
      pass: "pw",
      code,
      files: [
        { name: "exact.bin", content: exact },
        { name: "odd.txt", content: odd },
      ],
    });
    await new Promise((r) => setTimeout(r, 300));
    const result = await receive({ code, out, relay: relay.address, relayPass: "pw", protocol: "auto" });
    expect(await sender).toEqual([
      "pake",
      "externalip",
      "recipientready",
      "close-sender",
      "recipientready",
      "close-sender",
      "finished",
    ]);
    expect(result.generation).toBe("a");
    expect(readFileSync(join(out, "exact.bin")).equals(exact)).toBe(true);
    expect(readFileSync(join(out, "odd.txt")).equals(odd)).toBe(true);
  });

  it("accepts chunks bigger than 32 KiB (Podkit senders send whole files in 256 KiB chunks)", async () => {
    const { receive } = await import("../receiver/receiver.js");
    const { readFileSync } = await import("node:fs");
    const model = randomBytes(3 * 256 * 1024 + 100);
    const code = `7512-wide-${randomBytes(2).toString("hex")}-3`;
    const out = mkdtempSync(join(tmpdir(), "podkit-compat-out-"));
    const sender = runpodctlLikeSend({
      relay: at(),
      pass: "pw",
      code,
      files: [{ name: "model.bin", content: model }],
      chunkBytes: 256 * 1024,
    });
    await new Promise((r) => setTimeout(r, 300));
    await receive({ code, out, relay: relay.address, relayPass: "pw", protocol: "auto" });
    await sender;
    expect(readFileSync(join(out, "model.bin")).equals(model)).toBe(true);
  });

  it("a croc 10 receiver's probe with the wrong code stops the sender with a clear error", async () => {
    const { dir } = files();
    const code = `7622-right-${randomBytes(2).toString("hex")}`;
    const sending = send({
      paths: [join(dir, "text.txt")],
      code,
      relay: relay.address,
      relayPass: "pw",
      protocol: "b",
    });
    await new Promise((r) => setTimeout(r, 300));
    await expect(
      crocLikeReceive({
        relay: at(),
        pass: "pw",
        code: `${code.slice(0, 5)}wrong`,
        generation: "b",
        curve: "p256",
      }),
    ).rejects.toThrow();
    await expect(sending).rejects.toMatchObject({ code: "E_WRONG_CODE" });
  });
});
