import {
  mkdirSync,
  mkdtempSync,
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
});
