import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPeers, type Proc, podkitArgv, run } from "./transfer/peers.js";

// Direct transfers between two "Pods": namespaces A (10.66.0.2) and B (10.66.0.3) on one bridge in a
// third namespace R, which runs `podkit relay` on 10.66.0.1. The relay logs the bytes of every room,
// so the test sees which path the data took.
const peers = findPeers();
const PASS = "direct-pass";
const tag = process.pid % 100_000;
const NS = { r: `pkxfer-r-${tag}`, a: `pkxfer-a-${tag}`, b: `pkxfer-b-${tag}` };
const IP = { r: "10.66.0.1", a: "10.66.0.2", b: "10.66.0.3" };
const SIZE = 24 * 1024 * 1024;
let relay: { address: string; proc: Proc };
let file: string;

const ip = (...args: string[]): void => {
  execFileSync("ip", args);
};

beforeAll(async () => {
  for (const ns of Object.values(NS)) {
    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
  }
  ip("-n", NS.r, "link", "add", "br0", "type", "bridge");
  ip("-n", NS.r, "addr", "add", `${IP.r}/24`, "dev", "br0");
  ip("-n", NS.r, "link", "set", "br0", "up");
  for (const pod of ["a", "b"] as const) {
    ip("-n", NS.r, "link", "add", `v${pod}`, "type", "veth", "peer", "name", "eth0", "netns", NS[pod]);
    ip("-n", NS.r, "link", "set", `v${pod}`, "master", "br0", "up");
    ip("-n", NS[pod], "addr", "add", `${IP[pod]}/24`, "dev", "eth0");
    ip("-n", NS[pod], "link", "set", "eth0", "up");
  }
  const proc = run(
    NS.r,
    podkitArgv(["relay", "--host", IP.r, "--ports", "0,0,0,0,0", "--pass", PASS, "--json"]),
  );
  await proc.waitFor((o) => o.includes("{"), 30_000);
  relay = {
    address: (JSON.parse(proc.stdout.split("\n")[0] as string) as { address: string }).address,
    proc,
  };
  file = join(mkdtempSync(join(tmpdir(), "podkit-direct-")), "weights.bin");
  writeFileSync(file, randomBytes(SIZE));
});

afterAll(async () => {
  relay?.proc.kill("SIGTERM");
  await relay?.proc.done;
  for (const ns of Object.values(NS)) {
    try {
      ip("netns", "delete", ns);
    } catch {
      // not created
    }
  }
});

let seq = 0;
const newCode = (): string => `${510 + seq++}${seq}-${randomBytes(3).toString("hex")}-direct-code`;
const relayLines = (): number => relay.proc.stdout.split("\n").length;
/** Bytes through the relay's rooms logged after line `from` (once both sides have closed them). */
async function relayBytesSince(from: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 500));
  return relay.proc.stdout
    .split("\n")
    .slice(from - 1)
    .filter((l) => l.includes('"closed"'))
    .reduce((n, l) => n + (JSON.parse(l) as { bytes: number }).bytes, 0);
}

const podkitSend = (code: string, extra: string[] = []): Proc =>
  run(
    NS.a,
    podkitArgv(["send", file, "--code", code, "--relay", relay.address, "--relay-pass", PASS, ...extra]),
  );
const podkitReceive = (code: string, out: string, extra: string[] = []): Proc =>
  run(
    NS.b,
    podkitArgv([
      "receive",
      code,
      "--yes",
      "--out",
      out,
      "--relay",
      relay.address,
      "--relay-pass",
      PASS,
      ...extra,
    ]),
  );
const crocSend = (code: string): Proc =>
  run(NS.a, [peers.crocV10, "--relay", relay.address, "--pass", PASS, "send", file], {
    env: { CROC_SECRET: code },
  });
const crocReceive = (code: string, out: string): Proc =>
  run(NS.b, [peers.crocV10, "--relay", relay.address, "--pass", PASS, "--yes", "--overwrite", "--out", out], {
    env: { CROC_SECRET: code },
  });

type Side = "podkit" | "croc 10";
const cases: Array<[Side, Side]> = [
  ["podkit", "podkit"],
  ["croc 10", "podkit"],
  ["podkit", "croc 10"],
];

async function transfer(from: Side, to: Side, senderExtra: string[] = []) {
  const code = newCode();
  const out = mkdtempSync(join(tmpdir(), "podkit-direct-out-"));
  const mark = relayLines();
  const sender = from === "podkit" ? podkitSend(code, senderExtra) : crocSend(code);
  await sender.waitFor((o) => o.includes(`Code is: ${code}`));
  const started = Date.now();
  const receiver = to === "podkit" ? podkitReceive(code, out) : crocReceive(code, out);
  let connectedMs = -1;
  void receiver
    .waitFor((o) => /connected \(|Receiving \(/.test(o), 120_000)
    .then(
      () => {
        connectedMs = Date.now() - started;
      },
      () => {},
    );
  const [s, r] = await Promise.all([sender.done, receiver.done]);
  expect([s.code, r.code], `${s.stderr}\n${r.stderr}`).toEqual([0, 0]);
  expect(readFileSync(join(out, "weights.bin")).equals(readFileSync(file))).toBe(true);
  return { s, r, relayBytes: await relayBytesSince(mark), connectedMs };
}

describe("direct transfers between two namespaces", () => {
  for (const [from, to] of cases) {
    it(`${from} send → ${to} receive: the data takes the direct path, not the relay`, async () => {
      const { s, r, relayBytes } = await transfer(from, to);
      // Only the handshakes and the address probe cross the relay.
      expect(relayBytes).toBeLessThan(256 * 1024);
      if (to === "podkit") expect(r.stderr).toContain(`via ${IP.a}:`);
      if (from === "podkit") expect(s.stderr).toContain("via the receiver directly");
    });
  }

  it("podkit send --no-local sends everything through the relay", async () => {
    const { relayBytes } = await transfer("podkit", "podkit", ["--no-local"]);
    expect(relayBytes).toBeGreaterThan(SIZE);
  });

  describe("with the direct path blocked (B drops packets to A)", () => {
    beforeAll(() => {
      execFileSync("ip", ["netns", "exec", NS.b, "iptables", "-A", "OUTPUT", "-d", IP.a, "-j", "DROP"]);
    });
    afterAll(() => {
      execFileSync("ip", ["netns", "exec", NS.b, "iptables", "-D", "OUTPUT", "-d", IP.a, "-j", "DROP"]);
    });
    for (const to of ["podkit", "croc 10"] as const) {
      it(`podkit send → ${to} receive falls back to the relay within a few seconds`, async () => {
        const { relayBytes, connectedMs } = await transfer("podkit", to);
        expect(relayBytes).toBeGreaterThan(SIZE);
        console.info(`fallback to the relay (${to} receiver): connected ${connectedMs} ms after it started`);
        expect(connectedMs).toBeGreaterThan(0);
        expect(connectedMs).toBeLessThan(8000);
      });
    }
  });
});
