import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { receive } from "../receiver/receiver.js";
import { type RelayHandle, startRelay } from "../relay/server.js";
import { send } from "../sender/sender.js";

let relay: RelayHandle;
beforeAll(async () => {
  relay = await startRelay({ host: "127.0.0.1", ports: [0, 0, 0, 0, 0], pass: "pw" });
});
afterAll(() => relay.close());

function tree(): string {
  const src = mkdtempSync(join(tmpdir(), "podkit-src-"));
  mkdirSync(join(src, "dir/sub"), { recursive: true });
  mkdirSync(join(src, "dir/empty"));
  writeFileSync(join(src, "dir/sub/b.bin"), Buffer.alloc(3 * 32768 + 5, 7));
  writeFileSync(join(src, "dir/zero"), "");
  symlinkSync("sub/b.bin", join(src, "dir/link"));
  writeFileSync(join(src, "top.txt"), "hello");
  return src;
}

describe("send ↔ receive through a Podkit relay", () => {
  for (const protocol of ["a", "b", "auto"] as const) {
    it(`protocol ${protocol}`, async () => {
      const src = tree();
      const out = mkdtempSync(join(tmpdir(), "podkit-out-"));
      const code = `1234-test-${protocol}-${Date.now()}`;
      const relayAddr = relay.address;
      const sending = send({
        paths: [join(src, "dir"), join(src, "top.txt")],
        code,
        relay: relayAddr,
        relayPass: "pw",
        protocol,
      });
      const received = await receive({
        code,
        out,
        relay: relayAddr,
        relayPass: "pw",
        protocol,
        waitForSenderMs: 10_000,
      });
      const sent = await sending;
      expect(sent.generation).toBe(received.generation);
      expect(readFileSync(join(out, "top.txt"), "utf8")).toBe("hello");
      expect(readFileSync(join(out, "dir/sub/b.bin")).equals(Buffer.alloc(3 * 32768 + 5, 7))).toBe(true);
      expect(readlinkSync(join(out, "dir/link"))).toBe("sub/b.bin");
      expect(statSync(join(out, "dir/empty")).isDirectory()).toBe(true);
      expect(statSync(join(out, "dir/zero")).size).toBe(0);
    });
  }

  it("auto mode when the receiver arrives first, and a send of only an empty folder", async () => {
    const src = mkdtempSync(join(tmpdir(), "podkit-src-"));
    mkdirSync(join(src, "only-empty"));
    const out = mkdtempSync(join(tmpdir(), "podkit-out-"));
    const code = `4321-first-${Date.now()}`;
    const receiving = receive({ code, out, relay: relay.address, relayPass: "pw", waitForSenderMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const sent = await send({
      paths: [join(src, "only-empty")],
      code,
      relay: relay.address,
      relayPass: "pw",
    });
    const received = await receiving;
    expect(received.generation).toBe(sent.generation);
    expect(received.files).toEqual([]);
    expect(statSync(join(out, "only-empty")).isDirectory()).toBe(true);
  });

  it("shows the code only once it waits in its rooms; a missing path fails before joining", async () => {
    const src = mkdtempSync(join(tmpdir(), "podkit-src-"));
    writeFileSync(join(src, "f"), "data");
    const controller = new AbortController();
    const roomsAtCode: number[] = [];
    const before = relay.roomCount();
    const waiting = send({
      paths: [join(src, "f")],
      code: `7654-order-${Date.now()}`,
      relay: relay.address,
      relayPass: "pw",
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type !== "code") return;
        roomsAtCode.push(relay.roomCount() - before);
        controller.abort();
      },
    });
    await expect(waiting).rejects.toMatchObject({ code: "E_ABORTED" });
    // auto mode: the generation A and B rooms are both joined before the code is shown.
    expect(roomsAtCode).toEqual([2]);

    await expect(
      send({ paths: [join(src, "missing")], code: "8765-missing", relay: relay.address, relayPass: "pw" }),
    ).rejects.toThrow(/no such file or folder/);
    // Its own relay (direct path) never stands in for a relay that refused it.
    await expect(
      send({ paths: [join(src, "f")], code: "8766-badpass", relay: relay.address, relayPass: "nope" }),
    ).rejects.toThrow(/bad password/);
    expect(relay.roomCount()).toBe(before);
  });

  it("stops a waiting sender on abort, and a refused offer ends both sides", async () => {
    const src = mkdtempSync(join(tmpdir(), "podkit-src-"));
    writeFileSync(join(src, "f"), "data");
    const controller = new AbortController();
    const waiting = send({
      paths: [join(src, "f")],
      code: `5432-abort-${Date.now()}`,
      relay: relay.address,
      relayPass: "pw",
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 300);
    await expect(waiting).rejects.toMatchObject({ code: "E_ABORTED" });

    const code = `6543-refuse-${Date.now()}`;
    const out = mkdtempSync(join(tmpdir(), "podkit-out-"));
    const sending = send({ paths: [join(src, "f")], code, relay: relay.address, relayPass: "pw" });
    await expect(
      receive({ code, out, relay: relay.address, relayPass: "pw", confirm: async () => false }),
    ).rejects.toMatchObject({ code: "E_REFUSED" });
    await expect(sending).rejects.toThrow(
      "the receiver refused the files (declined by the receiver); nothing was sent",
    );
    expect(readdirSync(out)).toEqual([]);
  });
});
