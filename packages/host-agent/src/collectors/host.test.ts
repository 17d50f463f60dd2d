import { appendFileSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HostCollector, parseMeminfo, parseNetDev, parseProcStatCpu } from "./host.js";
import { type KernelLine, KernelLogFollower } from "./kernel-log.js";

describe("/proc readers", () => {
  it("reads CPU, memory and network counters", () => {
    expect(parseProcStatCpu("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n")).toEqual({
      busy: 150,
      total: 1000,
    });
    expect(parseMeminfo("MemTotal:       16384 kB\nMemFree: 1 kB\nMemAvailable:    8192 kB\n")).toEqual({
      totalBytes: 16384 * 1024,
      availableBytes: 8192 * 1024,
    });
    const net = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0
  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0
  ens1: 5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0
`;
    expect(parseNetDev(net)).toEqual({ rx: 1005, tx: 2007 });
  });
  it("samples this machine: CPU ratio from the second sample on, existing disks only", () => {
    const c = new HostCollector({ disks: ["/", "/does-not-exist"] });
    const first = c.collect();
    expect(first.cpuUtilizationRatio).toBeNull();
    expect(first.disks.map((d) => d.mount)).toEqual(["/"]);
    expect(first.memoryTotalBytes).toBeGreaterThan(first.memoryAvailableBytes);
    const busyUntil = Date.now() + 50;
    while (Date.now() < busyUntil) Math.sqrt(Math.random());
    const second = c.collect();
    expect(second.cpuUtilizationRatio).toBeGreaterThanOrEqual(0);
    expect(second.cpuUtilizationRatio).toBeLessThanOrEqual(1);
  });
});

describe("KernelLogFollower on a file", () => {
  it("delivers whole lines with stable byte positions, waits for a line's end, restarts after rotation", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "podkit-kmsg-")), "kern.log");
    writeFileSync(file, "first line\nsecond ");
    const got: KernelLine[] = [];
    const f = new KernelLogFollower({ path: file, pollMs: 20, onLines: (l) => got.push(...l) });
    f.start();
    await new Promise((r) => setTimeout(r, 80));
    const ino = statSync(file).ino;
    expect(got).toEqual([{ text: "first line", position: `file:${ino}.0:0` }]);
    appendFileSync(file, "half\nthird\n");
    await new Promise((r) => setTimeout(r, 80));
    expect(got.slice(1)).toEqual([
      { text: "second half", position: `file:${ino}.0:11` },
      { text: "third", position: `file:${ino}.0:23` },
    ]);
    writeFileSync(file, "rotated\n");
    await new Promise((r) => setTimeout(r, 80));
    f.close();
    // Rewritten in place (same inode, shorter): a new generation, so ids of old and new lines differ.
    expect(got.at(-1)).toEqual({ text: "rotated", position: `file:${ino}.1:0` });
  });
});

describe("KernelLogFollower on /dev/kmsg", () => {
  it("reads this machine's kernel ring buffer record by record, with sequence numbers as positions", async () => {
    const got: KernelLine[] = [];
    const errors: Error[] = [];
    const f = new KernelLogFollower({
      path: "/dev/kmsg",
      pollMs: 20,
      onLines: (l) => got.push(...l),
      onError: (e) => errors.push(e),
    });
    f.start();
    await new Promise((r) => setTimeout(r, 200));
    f.close();
    expect(errors).toEqual([]);
    const records = got.filter((l) => /^\d+,\d+,\d+,/.test(l.text));
    expect(records.length).toBeGreaterThan(0);
    const seqs = records.map((l) => Number(l.position.replace(/^kmsg:/, "")));
    expect(seqs.every((s, i) => Number.isInteger(s) && (i === 0 || s > (seqs[i - 1] ?? 0)))).toBe(true);
    const count = got.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(got.length).toBe(count); // closed: nothing more arrives
  });
});
