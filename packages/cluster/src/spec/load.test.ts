import { describe, expect, it } from "vitest";
import { parseClusterSpec } from "./load.js";

const ISSUE_FORM = `
name: demo
primaryPort: 29500
ssh: { user: root, identityFile: ./id_ed25519, knownHosts: ./known_hosts }
gpusPerNode: auto        # or a number
network: { interface: auto }   # or a name such as ens1
nodes:
  - host: 172.31.0.2     # SSH address (here the management NIC)
  - host: 172.31.0.3
    port: 22
`;

describe("parseClusterSpec", () => {
  it("accepts the issue's cluster.yaml and resolves key paths against its folder", () => {
    const { spec } = parseClusterSpec(ISSUE_FORM, "/clusters/demo");
    expect(spec.ssh).toMatchObject({
      user: "root",
      identityFile: "/clusters/demo/id_ed25519",
      knownHosts: "/clusters/demo/known_hosts",
    });
    expect(spec.network).toEqual({ interface: "auto", exclude: ["eth0", "lo", "docker0"] });
    expect(spec.nodes).toEqual([{ host: "172.31.0.2" }, { host: "172.31.0.3", port: 22 }]);
    expect(spec.gpusPerNode).toBe("auto");
  });

  it.each([
    { text: "nodes: [", error: /not valid YAML/ },
    { text: "just a string", error: /must be a YAML mapping/ },
    { text: "name: demo\nnodes: []", error: /nodes: a cluster needs at least one node/ },
    { text: "nodes:\n  - host: a\n  - host: a\n", error: /node a:22 is listed twice/ },
    { text: "nodes:\n  - host: a\n    port: 70000\n", error: /nodes\.0\.port/ },
    { text: "gpusPerNode: lots\nnodes:\n  - host: a\n", error: /gpusPerNode/ },
  ])("explains $error", ({ text, error }) => {
    expect(() => parseClusterSpec(text, "/x", "cluster.yaml")).toThrow(error);
  });

  it("refuses a numeric gpusPerNode together with trainersPerNode", () => {
    expect(() =>
      parseClusterSpec("gpusPerNode: 2\ntrainersPerNode: 4\nnodes: [{ host: a }]\n", "/c", "c.yaml"),
    ).toThrow(/c\.yaml: gpusPerNode \(2\) and trainersPerNode \(4\) both say how many processes a node runs/);
  });
});
