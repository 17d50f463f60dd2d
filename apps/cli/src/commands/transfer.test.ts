import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { TransferEvent } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { formatEta, TransferProgress } from "./transfer-progress.js";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const podkit = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });

describe("podkit send / receive / relay flags (the issue's contract)", { timeout: 60_000 }, () => {
  it("send", () => {
    const { stdout, status } = podkit("send", "--help");
    expect(status).toBe(0);
    for (const flag of [
      "--code <code>",
      "--relay <host:port>",
      "--relay-pass <pass>",
      "--protocol <protocol>",
      "--no-compress",
      "--zip",
      "--json",
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it("receive", () => {
    const { stdout } = podkit("receive", "--help");
    for (const flag of [
      "[code]",
      "--out <dir>",
      "--relay <host:port>",
      "--relay-pass <pass>",
      "--protocol <protocol>",
      "--yes",
      "--overwrite",
      "--json",
      "--curve <curve>",
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it("relay", () => {
    const { stdout } = podkit("relay", "--help");
    // The clients' spelling; --pass stays as a hidden alias (the e2e suites start relays with it).
    for (const flag of ["--host <addr>", "--ports <list>", "--relay-pass <pass>"])
      expect(stdout).toContain(flag);
    expect(stdout).not.toContain("--pass <pass>");
    expect(stdout).toContain("9009,9010,9011,9012,9013");
  });

  it("bad input is a usage error with a clear message", () => {
    const bad = podkit("send", "x", "--protocol", "c");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--protocol/);
    const missing = podkit("send", "/no/such/file", "--relay", "127.0.0.1:1");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no such file or folder/);
    const unreachable = podkit("send", MAIN, "--relay", "127.0.0.1:1", "--code", "1234-no-relay-here");
    expect(unreachable.status).toBe(7);
    expect(unreachable.stderr).toMatch(/could not reach relay 127\.0\.0\.1:1/);
    const typo = podkit(
      "receive",
      "1234-typo-in-path",
      "--relay",
      "127.0.0.1:1",
      "--relay-pass",
      "./no/such/pass-file",
    );
    expect(typo.stderr).toContain(
      "warning: --relay-pass ./no/such/pass-file: no such file, so this text itself is the password",
    );
    const curve = podkit("receive", "1234-a-b-c", "--curve", "ed448");
    expect(curve.status).toBe(2);
    expect(curve.stderr).toMatch(/--curve.*ed448.*p256, p384, p521, siec/s);
    const ports = podkit("relay", "--ports", "9009");
    expect(ports.status).toBe(2);
    expect(ports.stderr).toMatch(/at least two ports/);
  });
});

describe("transfer progress output", () => {
  const run = (mode: "plain" | "json", events: TransferEvent[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const p = new TransferProgress(mode, { out: (t) => out.push(t), err: (t) => err.push(t) }, "receiving");
    for (const e of events) p.handle(e);
    return { out, err };
  };
  const events: TransferEvent[] = [
    { type: "connected", generation: "b", peer: "127.0.0.1:9009" },
    { type: "file-start", name: "a.bin", size: 2048, resumedBytes: 1024 },
    { type: "progress", name: "a.bin", bytes: 2048, size: 2048, rate: 4096 },
    { type: "file-done", name: "a.bin", size: 2048, skipped: false },
    { type: "done", files: 1, bytes: 2048, seconds: 0.5 },
  ];

  it("plain lines when not on a terminal", () => {
    const { out, err } = run("plain", events);
    expect(out).toEqual([]);
    expect(err).toEqual([
      "connected (protocol generation B, via 127.0.0.1:9009)",
      "a.bin: resuming, 1.0 KiB already here",
      "a.bin: receiving 2.0 KiB",
      "a.bin: done (2.0 KiB)",
      "transfer complete: 1 file(s), 2.0 KiB in 0.5 s",
    ]);
  });

  it("one JSON event per line with --json", () => {
    const { out, err } = run("json", events);
    expect(err).toEqual([]);
    expect(out.map((l) => JSON.parse(l))).toEqual(events);
  });
});

describe("progress bar ETA", () => {
  it.each([
    [0, "0s"],
    [0.2, "1s"],
    [42, "42s"],
    [59.5, "1m00s"],
    [187, "3m07s"],
    [3600, "1h00m"],
    [7530, "2h05m"],
    [-3, "0s"],
  ])("%s s left shows as %s", (seconds, text) => {
    expect(formatEta(seconds)).toBe(text);
  });
});
