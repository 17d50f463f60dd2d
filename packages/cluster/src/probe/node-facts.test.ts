import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseFacts, parseInterfaces } from "./node-facts.js";

const recorded = readFileSync(new URL("../../testdata/facts-netns-node-1.txt", import.meta.url), "utf8");

describe("parseFacts", () => {
  it("reads a recorded probe of a namespace node", () => {
    const f = parseFacts(recorded);
    expect(f.hostname).toBe("node-1");
    expect(f.interfaces.map((i) => [i.name, i.up, i.ipv4.map((a) => `${a.address}/${a.prefix}`)])).toEqual([
      ["lo", true, ["127.0.0.1/8"]],
      ["eth0", true, ["172.31.0.3/24"]],
      ["ens1", true, ["10.65.0.3/24"]],
    ]);
    expect(f.hostnameResolvesTo).toEqual(["172.31.0.3"]);
    expect(f.gpuCount).toBe(2);
    expect(f.gpuSource).toBe("/dev/nvidiaN");
    expect(f.cpus).toBe(2);
    expect(f.memoryMiB).toBe(24105);
    expect(f.torchVersion).toBe("1.13.0a0+gitunknown");
    expect(f.ncclVersion).toBeUndefined();
    expect(f.hasMunge).toBe(true);
    expect(f.files["/etc/environment"]).toBe("");
    expect(f.files["/etc/hosts"]).toContain("node-1");
    expect(f.files["/etc/podkit/cluster.env"]).toBeNull();
  });

  it("prefers nvidia-smi -L over device files and reads versions", () => {
    const out = recorded
      .replace(
        "@@gpus-smi\n",
        "@@gpus-smi\nGPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)\nGPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-3)\n",
      )
      .replace("@@driver\n", "@@driver\n550.54.15\n")
      .replace("@@pkgs\n", "@@pkgs\nnvidia-nccl-cu12 2.21.5\n")
      .replace("@@libnccl\n", "@@libnccl\nlibnccl.so.2.18.1\n");
    const f = parseFacts(out);
    expect([f.gpuCount, f.gpuSource, f.driverVersion, f.ncclVersion]).toEqual([
      3,
      "nvidia-smi",
      "550.54.15",
      "2.21.5",
    ]);
  });

  it("refuses output of a probe that did not finish", () => {
    expect(() => parseFacts(recorded.replace("@@end", ""))).toThrow(/incomplete/);
  });

  it("marks an interface that is administratively down", () => {
    const ifs = parseInterfaces(
      ["3: ens1    inet 10.65.0.3/24 scope global ens1"],
      ["3: ens1@if50: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN mode DEFAULT"],
    );
    expect(ifs).toEqual([{ name: "ens1", up: false, ipv4: [{ address: "10.65.0.3", prefix: 24 }] }]);
  });
});
