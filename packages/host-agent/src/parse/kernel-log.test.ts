import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { classifyKernelError } from "../xid.js";
import { KernelLogParser, parseKernelLog } from "./kernel-log.js";
import { loadXidCatalog, parseXidCatalog } from "./xid-catalog.js";

const DMESG = new URL("../../testdata/nvidia-smi/dmesg/", import.meta.url).pathname;
const read = (rel: string) => readFileSync(join(DMESG, rel), "utf8");

describe("kernel log: every dmesg fixture", () => {
  // file → [kind:code counts]
  const table: Record<string, Record<string, number>> = {
    "gpud__dmesg-with-xid-119.log": { "xid:119": 5 },
    "gpud__dmesg.decode.iso.log.0": { "xid:13": 629, "xid:43": 7 },
    "gpud__dmesg.decode.iso.log.1": {},
    "gpud__fabricmanager.log": {},
    "gpud__kmsg.1.log": {},
    "gpud__sxid-readme__xid79-sxid20034.log": { "xid:79": 1, "sxid:20034": 4 },
    "gpud__xid-readme__xid13-31-109.log": { "xid:13": 3, "xid:109": 2, "xid:31": 1 },
    "nvidia-driver-source__xid94-95-format-examples.txt": { "xid:94": 2, "xid:95": 1 },
    "from-issues/NVIDIA-NVSentinel-155__fallen-off-bus-multiline.log": { "fallen-off-bus:79": 1 },
    "from-issues/NVIDIA-nvtrust-124__sxid22013-h100-boot.log": { "sxid:22013": 3 },
    "from-issues/NVIDIA-open-gpu-kernel-modules-1150__xid45-caused-by-previous.log": { "xid:45": 7 },
  };
  it("covers every file", () => {
    const all = [
      ...readdirSync(DMESG).filter((f) => f !== "from-issues"),
      ...readdirSync(join(DMESG, "from-issues")).map((f) => `from-issues/${f}`),
    ];
    expect(all.sort()).toEqual(Object.keys(table).sort());
  });
  for (const [file, expected] of Object.entries(table)) {
    it(`finds the NVIDIA errors in ${file}`, () => {
      const counts: Record<string, number> = {};
      for (const e of parseKernelLog(read(file)))
        counts[`${e.kind}:${e.code}`] = (counts[`${e.kind}:${e.code}`] ?? 0) + 1;
      expect(counts).toEqual(expected);
    });
  }

  it("reads MIG attribution, pid, process name and the cause of XID 45", () => {
    const [mig] = parseKernelLog(read("nvidia-driver-source__xid94-95-format-examples.txt"));
    expect(mig).toMatchObject({
      code: 94,
      pciBusId: "0000:01:00.0",
      migInstance: "GI 5",
      pid: 7194,
      processName: null,
    });
    const [x45] = parseKernelLog(
      read("from-issues/NVIDIA-open-gpu-kernel-modules-1150__xid45-caused-by-previous.log"),
    );
    expect(x45).toMatchObject({
      code: 45,
      causedBy: 149,
      pid: 1818990,
      processName: "python3",
      pciBusId: "0000:dc:00.0",
    });
    const line =
      "NVRM: Xid (PCI:0000:3b:00 GPU-I:02 GPU-CI:01): 31, pid=42, name=python, Ch 00000008, intr 0";
    expect(parseKernelLog(line)[0]!.migInstance).toBe("GI 2 CI 1");
  });

  it("reads every timestamp style: kmsg, dmesg, --ctime, iso, journald", () => {
    const msg =
      "NVRM: Xid (PCI:0000:91:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.";
    for (const line of [
      `3,1234,6781741548779,-;${msg}`,
      `[6781741.548779] ${msg}`,
      `[Sun Feb 23 16:24:18 2025] ${msg}`,
      `kern  :warn  : 2025-01-21T04:41:44,287197+00:00 ${msg}`,
      `Nov 27 08:00:00 host kernel: ${msg}`,
    ]) {
      const [e] = parseKernelLog(line);
      expect(e).toMatchObject({
        kind: "xid",
        code: 79,
        pciBusId: "0000:91:00.0",
        pid: null,
        processName: null,
      });
    }
    expect(parseKernelLog(`3,1234,6781741548779,-;${msg}`)[0]!.kmsgSeq).toBe(1234);
  });

  it("joins the three-line probe message even when fed one line at a time", () => {
    const p = new KernelLogParser();
    const lines = read("from-issues/NVIDIA-NVSentinel-155__fallen-off-bus-multiline.log").split("\n");
    const found = lines.flatMap((l) => p.feed(l));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: "fallen-off-bus", code: 79, pciBusId: "0000:b3:00.0" });
    expect(found[0]!.raw.split("\n")).toHaveLength(3);
  });
});

describe("XID catalogue", () => {
  const catalog = loadXidCatalog();
  it("loads NVIDIA's 172 rows", () => expect(catalog.size).toBe(172));
  const table: Array<[number, string]> = [
    [13, "restart-app"],
    [31, "restart-app"],
    [43, "none"],
    [45, "none"],
    [48, "reset-gpu"],
    [63, "none"],
    [64, "rma"],
    [74, "reset-gpu"],
    [79, "reboot"],
    [92, "none"],
    [94, "restart-app"],
    [95, "reset-gpu"],
    [109, "reset-gpu"],
    [119, "reset-gpu"],
    [120, "reset-gpu"],
    [140, "reset-gpu"],
    [154, "none"],
  ];
  for (const [xid, action] of table)
    it(`XID ${xid} → ${action}`, () => expect(catalog.get(xid)?.action).toBe(action));
  it("keeps quoted descriptions with commas whole", () => {
    expect(catalog.get(45)!.description).toMatch(/^Preemptive cleanup, due to previous errors/);
    expect(
      parseXidCatalog(
        'xid,mnemonic,description,immediate_resolution,investigatory_resolution\n9,X,"a, b",,\n',
      ).get(9)!.action,
    ).toBe("unknown");
  });
  it("classifies kernel errors into events with GPU index and action", () => {
    const busToIndex = new Map([["0000:91:00.0", 3]]);
    const errors = parseKernelLog(read("gpud__sxid-readme__xid79-sxid20034.log"));
    const events = errors.map((e) => classifyKernelError(e, catalog, busToIndex, "2026-11-27T00:00:00.000Z"));
    expect(events[0]).toMatchObject({ xid: 79, kind: "xid", gpuIndex: 3, action: "reboot" });
    expect(
      events.slice(1).every((e) => e.kind === "sxid" && e.action === "reboot" && e.gpuIndex === null),
    ).toBe(true);
    const nonFatal = parseKernelLog(read("from-issues/NVIDIA-nvtrust-124__sxid22013-h100-boot.log"));
    expect(
      nonFatal.map((e) => classifyKernelError(e, catalog, busToIndex, "2026-11-27T00:00:00.000Z").action),
    ).toEqual(["none", "none", "none"]);
  });
});
