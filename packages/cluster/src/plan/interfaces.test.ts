import { describe, expect, it } from "vitest";
import type { NodeInterface } from "../probe/node-facts.js";
import { selectClusterInterfaces, subnetOf } from "./interfaces.js";

const nic = (name: string, address?: string, up = true): NodeInterface => ({
  name,
  up,
  ipv4: address ? [{ address: address.split("/")[0]!, prefix: Number(address.split("/")[1] ?? 24) }] : [],
});
const AUTO = { interface: "auto", exclude: ["eth0", "lo", "docker0"] };
const mgmt = (i: number) => nic("eth0", `172.31.0.${i + 2}/24`);

describe("subnetOf", () => {
  it.each([
    ["10.65.0.3", 24, "10.65.0.0/24"],
    ["172.31.7.200", 16, "172.31.0.0/16"],
    ["192.168.1.77", 32, "192.168.1.77/32"],
    ["8.8.8.8", 0, "0.0.0.0/0"],
  ] as const)("%s/%i → %s", (a, p, want) => expect(subnetOf(a, p)).toBe(want));
});

describe("selectClusterInterfaces", () => {
  it.each([
    {
      name: "picks ens1, never the management eth0",
      nodes: [0, 1].map((i) => [nic("lo", "127.0.0.1/8"), mgmt(i), nic("ens1", `10.65.0.${i + 2}/24`)]),
      want: ["ens1 10.65.0.2", "ens1 10.65.0.3"],
    },
    {
      name: "is not hard-coded: the older eth1 naming works",
      nodes: [0, 1].map((i) => [mgmt(i), nic("eth1", `10.65.0.${i + 2}/24`)]),
      want: ["eth1 10.65.0.2", "eth1 10.65.0.3"],
    },
    {
      name: "with ens1..ens3 on their own subnets, takes ens1 (natural order)",
      nodes: [0, 1].map((i) => [
        mgmt(i),
        nic("ens3", `10.67.0.${i + 2}/24`),
        nic("ens10", `10.74.0.${i + 2}/24`),
        nic("ens1", `10.65.0.${i + 2}/24`),
      ]),
      want: ["ens1 10.65.0.2", "ens1 10.65.0.3"],
    },
    {
      name: "prefers the subnet every node shares over one only some have",
      nodes: [
        [mgmt(0), nic("ens1", "10.1.0.2/24"), nic("ens2", "10.65.0.2/24")],
        [mgmt(1), nic("ens1", "10.9.0.3/24"), nic("ens2", "10.65.0.3/24")],
      ],
      want: ["ens2 10.65.0.2", "ens2 10.65.0.3"],
    },
    {
      name: "skips docker0 even when every node has it",
      nodes: [0, 1].map((i) => [
        nic("docker0", "172.17.0.1/16"),
        mgmt(i),
        nic("ens1", `10.65.0.${i + 2}/24`),
      ]),
      want: ["ens1 10.65.0.2", "ens1 10.65.0.3"],
    },
  ])("$name", ({ nodes, want }) => {
    const got = selectClusterInterfaces(
      nodes.map((interfaces) => ({ interfaces })),
      AUTO,
    );
    expect(got.map((c) => (c.ok ? `${c.interface} ${c.address}` : c.problem))).toEqual(want);
  });

  it.each([
    {
      name: "a node without the cluster NIC",
      nodes: [[mgmt(0), nic("ens1", "10.65.0.2/24")], [mgmt(1), nic("ens1", "10.65.0.3/24")], [mgmt(2)]],
      policy: AUTO,
      problem:
        /no interface on the cluster network 10\.65\.0\.0\/24 \(the other nodes use ens1; found: eth0 172\.31\.0\.4\/24\)/,
    },
    {
      name: "a named interface that is missing",
      nodes: [[mgmt(0), nic("ens1", "10.65.0.2/24")], [mgmt(1)]],
      policy: { ...AUTO, interface: "ens1" },
      problem: /interface ens1 is missing/,
    },
    {
      name: "a cluster NIC that is down",
      nodes: [
        [mgmt(0), nic("ens1", "10.65.0.2/24")],
        [mgmt(1), nic("ens1", "10.65.0.3/24", false)],
      ],
      policy: AUTO,
      problem: /interface ens1 \(10\.65\.0\.3\) is down/,
    },
    {
      name: "only excluded interfaces",
      nodes: [[mgmt(0)], [mgmt(1)]],
      policy: AUTO,
      problem: /no cluster interface: only excluded ones/,
    },
  ])("explains $name", ({ nodes, policy, problem }) => {
    const got = selectClusterInterfaces(
      nodes.map((interfaces) => ({ interfaces })),
      policy,
    );
    const last = got[got.length - 1]!;
    expect(last.ok).toBe(false);
    if (!last.ok) expect(last.problem).toMatch(problem);
  });

  it("follows a pinned clusterAddress", () => {
    const got = selectClusterInterfaces(
      [
        {
          interfaces: [mgmt(0), nic("ens1", "10.65.0.2/24"), nic("ens2", "10.66.0.2/24")],
          clusterAddress: "10.66.0.2",
        },
      ],
      AUTO,
    );
    expect(got[0]).toEqual({ ok: true, interface: "ens2", address: "10.66.0.2", subnet: "10.66.0.0/24" });
  });
});
