import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { events, podkit, type Running, startCliRelay } from "./transfer/cli.js";
import { sha256File, writeRandomFile } from "./transfer/tree.js";

// Interrupted transfers (kill -9 of either side) continue from where they stopped when both run again
// with the same code, and a partial copy that cannot be repaired is re-sent once.
let relay: Awaited<ReturnType<typeof startCliRelay>>;
const PASS = "resume-pass";
const SIZE = 64 * 1024 * 1024;
let src: string;
let srcHash: string;

beforeAll(async () => {
  relay = await startCliRelay(PASS);
  src = join(mkdtempSync(join(tmpdir(), "podkit-resume-src-")), "model.bin");
  await writeRandomFile(src, SIZE / (1024 * 1024));
  srcHash = await sha256File(src);
});
afterAll(async () => {
  await relay.stop();
});

// Relay-only (--no-local): these tests interrupt and resume transfers that go through a relay.
const flags = (address = relay.address): string[] => [
  "--relay",
  address,
  "--relay-pass",
  PASS,
  "--json",
  "--no-local",
];

function start(code: string, out: string, address?: string): { sender: Running; receiver: Promise<Running> } {
  const sender = podkit(["send", src, "--code", code, ...flags(address)]);
  const receiver = sender
    .waitForLine((l) => l.includes('"type":"code"'))
    .then(() => podkit(["receive", code, "--yes", "--out", out, ...flags(address)]));
  return { sender, receiver };
}

/** Waits until the receiver reports between 5 % and 90 % of the file, then kills `victim` with SIGKILL. */
async function killMidway(receiver: Running, victim: Running): Promise<void> {
  await receiver.waitForLine((l) => {
    if (!l.includes('"type":"progress"')) return false;
    const e = JSON.parse(l) as { bytes: number };
    return e.bytes > SIZE * 0.05 && e.bytes < SIZE * 0.9;
  });
  victim.child.kill("SIGKILL");
}

async function finishAgain(
  code: string,
  out: string,
  address?: string,
): Promise<Array<Record<string, unknown>>> {
  const again = start(code, out, address);
  const receiver = await again.receiver;
  const [s, r] = await Promise.all([again.sender.done, receiver.done]);
  expect(r.stderr).toBe("");
  expect([s.code, r.code]).toEqual([0, 0]);
  expect(await sha256File(join(out, "model.bin"))).toBe(srcHash);
  expect(readdirSync(out)).toEqual(["model.bin"]); // the hidden part file is gone
  return events(r.stdout);
}

describe("resume", () => {
  for (const victim of ["receiver", "sender"] as const) {
    it(`continues after kill -9 of the ${victim}, sending only the missing chunks`, async () => {
      const out = mkdtempSync(join(tmpdir(), "podkit-resume-out-"));
      const code = `${victim === "receiver" ? "41" : "42"}${process.pid % 90}-resume-${randomBytes(3).toString("hex")}`;
      const first = start(code, out);
      const receiver = await first.receiver;
      await killMidway(receiver, victim === "receiver" ? receiver : first.sender);
      const [s, r] = await Promise.all([first.sender.done, receiver.done]);
      expect(victim === "receiver" ? s.code : r.code).not.toBe(0);
      expect((victim === "sender" ? r : s).stderr).toMatch(
        /(sender|receiver) disconnected.*same code to resume/,
      );
      expect(existsSync(join(out, "model.bin"))).toBe(false); // nothing half-written under the real name
      expect(statSync(join(out, ".model.bin.podkit-part")).size).toBe(SIZE);

      const ev = await finishAgain(code, out);
      const starts = ev.filter((e) => e.type === "file-start");
      expect(starts).toHaveLength(1);
      const resumed = (starts[0] as { resumedBytes: number }).resumedBytes;
      expect(resumed).toBeGreaterThan(SIZE * 0.02);
      expect(resumed).toBeLessThan(SIZE);
    });
  }

  it("re-sends a partial copy that fails verification once, then succeeds", async () => {
    const out = mkdtempSync(join(tmpdir(), "podkit-repair-out-"));
    // Same size, half garbage and half zeros: the zero half is requested, the hash fails, the file is re-sent in full.
    const part = Buffer.alloc(SIZE);
    randomBytes(SIZE / 2).copy(part, 0);
    writeFileSync(join(out, ".model.bin.podkit-part"), part);
    const code = `43${process.pid % 90}-repair-${randomBytes(3).toString("hex")}`;
    const ev = await finishAgain(code, out);
    const starts = ev.filter((e) => e.type === "file-start").map((e) => e.resumedBytes);
    expect(starts).toEqual([SIZE / 2, 0]);
  });

  it("a relay that dies mid-transfer gives a clean error on both sides; another relay resumes it", async () => {
    const out = mkdtempSync(join(tmpdir(), "podkit-relay-dies-out-"));
    const dying = await startCliRelay(PASS);
    const code = `44${process.pid % 90}-relaydies-${randomBytes(3).toString("hex")}`;
    const first = start(code, out, dying.address);
    const receiver = await first.receiver;
    await killMidway(receiver, dying.process);
    const [s, r] = await Promise.all([first.sender.done, receiver.done]);
    expect(s.code).not.toBe(0);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/disconnected.*same code to resume/);
    expect(existsSync(join(out, "model.bin"))).toBe(false);
    const ev = await finishAgain(code, out);
    const resumed = (ev.find((e) => e.type === "file-start") as { resumedBytes: number }).resumedBytes;
    expect(resumed).toBeGreaterThan(0);
  });
});
