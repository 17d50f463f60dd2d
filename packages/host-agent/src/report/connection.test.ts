import { mkdtempSync, readdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AgentMessage,
  Backoff,
  createLogger,
  NACK_CODES,
  type NackCode,
  PROTOCOL_VERSION,
} from "@podkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { ControlPlaneConnection } from "./connection.js";
import { Outbox } from "./outbox.js";

const machine = {
  hostname: "gpu-test",
  kernel: "6.1",
  cpuCount: 4,
  memoryTotalBytes: 1,
  driverVersion: null,
  cudaVersion: null,
  gpus: [],
  simulated: true,
};
const event = (id: string): AgentMessage => ({
  v: PROTOCOL_VERSION,
  id,
  type: "event",
  sentAt: new Date().toISOString(),
  payload: { kind: "notice", message: id },
});
const frame = (type: string, payload: unknown) =>
  JSON.stringify({
    v: PROTOCOL_VERSION,
    id: `cp-${Math.random()}`,
    type,
    sentAt: new Date().toISOString(),
    payload,
  });

/** A control plane that answers each message as `answer` says, and records what it received. */
async function fakeControlPlane(answer: (m: AgentMessage, n: number) => NackCode | "ack") {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((r) => wss.once("listening", r));
  const received: string[] = [];
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as AgentMessage;
      if (m.type !== "event") return;
      received.push(m.id);
      const a = answer(m, received.length);
      if (a === "ack") ws.send(frame("ack", { ids: [m.id] }));
      else ws.send(frame("nack", { id: m.id, kind: NACK_CODES[a], code: a, reason: `test: ${a}` }));
    });
  });
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    received,
    close: () => new Promise((r) => wss.close(r)),
  };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connect(url: string, outbox: Outbox, rejected: string[]) {
  const conn = new ControlPlaneConnection({
    controlPlane: url,
    hostToken: "pkh_test",
    outbox,
    machineInfo: () => machine,
    logger: createLogger({ name: "test", level: "silent" }),
    onHostState: () => {},
    retryBackoff: new Backoff(50, 100),
    window: 1,
    onRejected: (id) => rejected.push(id),
  });
  conn.start();
  cleanups.push(() => conn.close());
  return conn;
}

async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("ControlPlaneConnection nacks", () => {
  it("keeps a retry-later message in the outbox and sends it again, before anything newer", async () => {
    let outage = true;
    const cp = await fakeControlPlane(() => (outage ? "STORAGE_UNAVAILABLE" : "ack"));
    cleanups.push(cp.close);
    const outbox = new Outbox(join(mkdtempSync(join(tmpdir(), "podkit-conn-")), "outbox"));
    for (const id of ["evt-00000001", "evt-00000002", "evt-00000003"]) outbox.enqueue(event(id));
    const rejected: string[] = [];
    const conn = await connect(cp.url, outbox, rejected);
    await until("three retry-later answers", () => conn.status.retryLater >= 3);
    expect(outbox.size).toBe(3);
    outage = false;
    await until("outbox drained", () => outbox.size === 0);
    // While the store was away only the oldest was tried; then everything in order.
    expect(new Set(cp.received.slice(0, 3))).toEqual(new Set(["evt-00000001"]));
    const acked = cp.received.slice(cp.received.lastIndexOf("evt-00000001"));
    expect(acked).toEqual(["evt-00000001", "evt-00000002", "evt-00000003"]);
    expect(rejected).toEqual([]);
    expect(conn.status.rejected).toBe(0);
  });

  it("sets aside only what can never be accepted, and counts it", async () => {
    const cp = await fakeControlPlane((m) => (m.id === "evt-00000002" ? "INVALID_MESSAGE" : "ack"));
    cleanups.push(cp.close);
    const dir = join(mkdtempSync(join(tmpdir(), "podkit-conn-")), "outbox");
    const outbox = new Outbox(dir);
    for (const id of ["evt-00000001", "evt-00000002", "evt-00000003"]) outbox.enqueue(event(id));
    const rejected: string[] = [];
    const conn = await connect(cp.url, outbox, rejected);
    await until("outbox drained", () => outbox.size === 0);
    expect(rejected).toEqual(["evt-00000002"]);
    expect(conn.status.rejected).toBe(1);
    expect(readdirSync(join(dir, "rejected")).map((f) => f.replace(/^\d+-\d+-/, ""))).toEqual([
      "evt-00000002.json",
    ]);
  });
});
