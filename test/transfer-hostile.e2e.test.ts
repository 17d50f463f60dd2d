import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  encodeMessage,
  joinRelayRoom,
  Pake,
  parseRelayAddress,
  type RelayHandle,
  roomC,
  roomPlanB,
  startRelay,
} from "@podkit/transfer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { podkit, relayForSuite } from "./transfer/cli.js";
import { croc11Sender, hostileSender } from "./transfer/fake-peer.js";

const PASS = "hostile-pass";
const relay = relayForSuite(PASS);

let seq = 0;
/** Distinct first four bytes per test, so rooms never collide with each other. */
const code = (): string =>
  `${100 + ((seq++ * 37 + (process.pid % 50)) % 900)}7-hostile-${randomBytes(3).toString("hex")}`;
const file = (fr: string, n: string, extra: Record<string, unknown> = {}) => ({
  n,
  fr,
  s: 4,
  h: "AAAAAAAAAAA=",
  m: "2024-05-20T12:34:56.789Z",
  md: 420,
  ...extra,
});

describe("hostile sender metadata", () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ["a parent escape", file("../", "escaped.txt")],
    ["an absolute path", file("/tmp/", "absolute.txt")],
    ["a .ssh folder", file(".ssh/", "authorized_keys")],
    ["a symlink to /etc", file("./", "etc", { sy: "/etc", s: 4 })],
    ["a symlink climbing out", file("deep/", "up", { sy: "../../../outside" })],
    ["terminal escape codes", file("./", "\u001b]0;pwned\u0007.txt")],
  ];
  for (const [what, entry] of cases) {
    it(`refuses ${what}, writes nothing, tells the sender`, async () => {
      const parent = mkdtempSync(join(tmpdir(), "podkit-hostile-"));
      const out = join(parent, "out");
      mkdirSync(out);
      const c = code();
      const sender = hostileSender({
        relay: relay.address,
        pass: PASS,
        code: c,
        info: { FilesToTransfer: [entry as never], HashAlgorithm: "xxhash" },
      });
      const r = await podkit(["receive", c, "--yes", "--out", out, "--protocol", "b", ...relay.flags()]).done;
      const seen = await sender;
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /refusing the transfer: the sender's file list is unsafe .*nothing was written/,
      );
      expect(seen.at(-1)).toMatchObject({
        type: "error",
        message: expect.stringMatching(/^refusing files: unsafe file list/),
      });
      expect(readdirSync(parent)).toEqual(["out"]);
      expect(readdirSync(out)).toEqual([]);
    });
  }

  it("does not follow a symlink already in --out that points elsewhere", async () => {
    const parent = mkdtempSync(join(tmpdir(), "podkit-hostile-link-"));
    const out = join(parent, "out");
    const elsewhere = join(parent, "elsewhere");
    mkdirSync(out);
    mkdirSync(elsewhere);
    const { symlinkSync } = await import("node:fs");
    symlinkSync(elsewhere, join(out, "dir"));
    const c = code();
    const sender = hostileSender({
      relay: relay.address,
      pass: PASS,
      code: c,
      info: { FilesToTransfer: [file("dir/", "x.txt") as never], HashAlgorithm: "xxhash" },
    });
    const r = await podkit(["receive", c, "--yes", "--out", out, "--protocol", "b", ...relay.flags()]).done;
    await sender;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/leads outside the destination/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});

describe("croc 11 (generation C) peers are named, not waited on", () => {
  it("receiver: a sender waiting in croc 11's room", async () => {
    const words = `apple-banana-${randomBytes(2).toString("hex").replace(/\d/g, "x")}`;
    const c11 = croc11Sender({ relay: relay.address, pass: PASS, room: roomC(words) as string });
    const r = await podkit([
      "receive",
      words,
      "--yes",
      "--out",
      mkdtempSync(join(tmpdir(), "podkit-c11-")),
      ...relay.flags(),
    ]).done;
    await c11;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/croc 11 \(protocol generation C\)/);
    expect(r.ms).toBeLessThan(15_000);
  });

  it("sender: a receiver whose pake says v2", async () => {
    const src = mkdtempSync(join(tmpdir(), "podkit-c11-src-"));
    writeFileSync(join(src, "f.txt"), "data");
    const c = code();
    const sender = podkit(["send", join(src, "f.txt"), "--code", c, "--protocol", "b", ...relay.flags()]);
    await sender.waitForLine((l) => l === c);
    const rc = await joinRelayRoom({
      relay: parseRelayAddress(relay.address),
      password: PASS,
      room: roomPlanB(c).controlRoom,
    });
    await rc.conn.write(Buffer.from("handshake"));
    const pake = new Pake(roomPlanB(c).password, 0, "p256");
    await rc.conn.write(
      encodeMessage({ type: "pake", bytes: pake.bytes(), bytes2: Buffer.from("p256"), version: 2 }, null),
    );
    const s = await sender.done;
    rc.conn.close();
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/croc 11/);
  });
});

describe("relay abuse", () => {
  let small: RelayHandle;
  beforeAll(async () => {
    small = await startRelay({
      host: "127.0.0.1",
      ports: [0, 0],
      pass: PASS,
      limits: {
        handshakeTimeoutMs: 2500,
        waitingRoomTtlMs: 3000,
        pipeIdleMs: 3000,
        maxRooms: 2,
        maxPendingHandshakes: 4,
      },
    });
  });
  afterAll(() => small.close());

  const closesWithin = (port: number, payload: Buffer, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = connect(port, "127.0.0.1", () => s.write(payload));
      s.on("data", () => {});
      s.on("error", () => {});
      s.on("close", () => resolve(true));
      setTimeout(() => {
        s.destroy();
        resolve(false);
      }, ms);
    });

  it("drops bad magic, huge lengths and silent clients (podkit relay process)", async () => {
    const port = relay.ports[0] as number;
    expect(await closesWithin(port, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 3000)).toBe(true);
    expect(await closesWithin(port, Buffer.from("63726f63ffffff7f", "hex"), 3000)).toBe(true);
    expect(await closesWithin(small.ports[0] as number, Buffer.alloc(0), 8000)).toBe(true); // handshake timeout
  });

  it("refuses a third member, caps rooms, expires waiting and idle rooms", async () => {
    const at = { host: "127.0.0.1", port: small.ports[0] as number };
    const a = await joinRelayRoom({ relay: at, password: PASS, room: "r1" });
    const b = await joinRelayRoom({ relay: at, password: PASS, room: "r1" });
    await expect(joinRelayRoom({ relay: at, password: PASS, room: "r1" })).rejects.toThrow(/room is full/);
    const w = await joinRelayRoom({ relay: at, password: PASS, room: "r2" });
    await expect(joinRelayRoom({ relay: at, password: PASS, room: "r3" })).rejects.toThrow(/rate limited/);
    // the waiting member of r2 and the idle pair in r1 are both dropped after 3 s
    await expect(w.conn.read(10_000)).rejects.toThrow(/closed/);
    await expect(a.conn.read(10_000)).rejects.toThrow(/closed/);
    b.conn.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(small.roomCount()).toBe(0);
  });

  it("still relays a real transfer after all that", async () => {
    const src = mkdtempSync(join(tmpdir(), "podkit-after-abuse-"));
    writeFileSync(join(src, "ok.txt"), "fine");
    const out = mkdtempSync(join(tmpdir(), "podkit-after-abuse-out-"));
    const c = code();
    const sender = podkit(["send", join(src, "ok.txt"), "--code", c, ...relay.flags()]);
    await sender.waitForLine((l) => l === c);
    const [s, r] = await Promise.all([
      sender.done,
      podkit(["receive", c, "--yes", "--out", out, ...relay.flags()]).done,
    ]);
    expect([s.code, r.code]).toEqual([0, 0]);
    expect(readdirSync(out)).toEqual(["ok.txt"]);
  });
});
