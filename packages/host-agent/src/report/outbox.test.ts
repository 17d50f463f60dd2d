import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentMessage, Backoff } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { stableMessageId } from "./ids.js";
import { Outbox } from "./outbox.js";

const hb = (id: string): AgentMessage => ({
  v: 1,
  id,
  type: "heartbeat",
  sentAt: "2026-11-27T00:00:00.000Z",
  payload: {},
});
const dir = () => join(mkdtempSync(join(tmpdir(), "podkit-outbox-")), "outbox");

describe("Outbox", () => {
  it("keeps order, survives a new process (reopen), and removes only acknowledged ids", async () => {
    const d = dir();
    const a = new Outbox(d);
    for (const id of ["msg-00000001", "msg-00000002", "msg-00000003"]) a.enqueue(hb(id));
    const b = new Outbox(d); // what a restarted agent sees
    expect(b.peek().messages.map((m) => m.id)).toEqual(["msg-00000001", "msg-00000002", "msg-00000003"]);
    expect(b.ack(["msg-00000002", "unknown-id-123"])).toBe(1);
    // Gone from the queue at once; its file a moment later (a rescan meanwhile does not bring it back).
    expect(b.peek().messages.map((m) => m.id)).toEqual(["msg-00000001", "msg-00000003"]);
    b.rescan();
    expect(b.has("msg-00000002")).toBe(false);
    await b.flush();
    expect(new Outbox(d).peek().messages.map((m) => m.id)).toEqual(["msg-00000001", "msg-00000003"]);
    expect(b.unlinkErrors).toEqual([]);
  });

  it("is idempotent: the same id waits once", () => {
    const o = new Outbox(dir());
    o.enqueue(hb("same-id-0001"));
    o.enqueue(hb("same-id-0001"));
    expect(o.size).toBe(1);
  });

  it("ignores a half-written temporary file left by a crash", () => {
    const d = dir();
    const o = new Outbox(d);
    writeFileSync(join(d, "tmp", "000-000-crashed-0001.json"), '{"v":1,"id":"crash');
    o.enqueue(hb("after-crash-01"));
    expect(new Outbox(d).peek().messages.map((m) => m.id)).toEqual(["after-crash-01"]);
  });

  it("skips in-flight ids without reading them, and sets refused messages aside", () => {
    const d = dir();
    const o = new Outbox(d);
    for (let i = 0; i < 5; i++) o.enqueue(hb(`m-0000000${i}`));
    expect(o.peek(2, new Set(["m-00000000", "m-00000001"])).messages.map((m) => m.id)).toEqual([
      "m-00000002",
      "m-00000003",
    ]);
    o.reject("m-00000004");
    expect(o.has("m-00000004")).toBe(false);
    expect(readdirSync(join(d, "rejected"))).toHaveLength(1);
  });

  it("sees messages another process enqueued after a rescan", () => {
    const d = dir();
    const daemon = new Outbox(d);
    new Outbox(d).enqueue(hb("from-burn-test-1"));
    expect(daemon.has("from-burn-test-1")).toBe(false);
    daemon.rescan();
    expect(daemon.has("from-burn-test-1")).toBe(true);
  });

  it("refuses an id that is not safe as a file name", () => {
    expect(() => new Outbox(dir()).enqueue(hb("../../etc/passwd"))).toThrow(/not safe as a file name/);
  });
});

describe("ids and backoff", () => {
  it("gives the same kernel-log record the same id", () => {
    expect(stableMessageId("xid", "boot-1", "/dev/kmsg", "kmsg:42")).toBe(
      stableMessageId("xid", "boot-1", "/dev/kmsg", "kmsg:42"),
    );
    expect(stableMessageId("xid", "boot-2", "/dev/kmsg", "kmsg:42")).not.toBe(
      stableMessageId("xid", "boot-1", "/dev/kmsg", "kmsg:42"),
    );
  });
  it("backs off exponentially with jitter, capped, and starts over after reset", () => {
    const lo = new Backoff(500, 30_000, () => 0);
    const hi = new Backoff(500, 30_000, () => 1);
    const lows = Array.from({ length: 10 }, () => lo.next());
    const highs = Array.from({ length: 10 }, () => hi.next());
    expect(lows.slice(0, 4)).toEqual([250, 500, 1000, 2000]);
    expect(highs.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(Math.max(...highs)).toBe(30_000);
    expect(Math.max(...lows)).toBe(15_000);
    hi.reset();
    expect(hi.next()).toBe(500);
  });
});
