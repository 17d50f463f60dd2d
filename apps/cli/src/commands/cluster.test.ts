import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const podkit = (...args: string[]) => {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const dir = mkdtempSync(join(tmpdir(), "podkit-cluster-cli-"));

// Each case starts the CLI once or twice: seconds apiece on a loaded 2-core machine.
describe("podkit cluster (no nodes needed)", { timeout: 30_000 }, () => {
  it("lists its verbs", () => {
    const r = podkit("cluster", "--help");
    expect(r.code).toBe(0);
    for (const verb of ["plan", "up", "check", "env", "down", "run", "torchrun", "slurm"]) {
      expect(r.stdout).toMatch(new RegExp(`\\n\\s+${verb}\\b`));
    }
  });

  it.each([
    { name: "a missing file", text: null, error: /cannot read cluster file .*nope\.yaml: ENOENT/ },
    { name: "broken YAML", text: "nodes: [", error: /is not valid YAML/ },
    { name: "no nodes", text: "name: demo\nnodes: []\n", error: /nodes: a cluster needs at least one node/ },
    {
      name: "a bad fingerprint",
      text: "nodes:\n  - host: a\n    hostKeyFingerprint: md5:x\n",
      error: /hostKeyFingerprint/,
    },
  ])("explains $name with exit code 2", ({ text, error }) => {
    const file = join(dir, text === null ? "nope.yaml" : `bad-${Math.random()}.yaml`);
    if (text !== null) writeFileSync(file, text);
    const r = podkit("cluster", "plan", "-f", file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(error);
  });

  it("env prints a node's variables, as lines or JSON", () => {
    const file = join(dir, "cluster.env");
    writeFileSync(file, "# podkit cluster demo\nNODE_RANK=1\nNUM_NODES=3\n");
    expect(podkit("cluster", "env", "--file", file).stdout).toBe("NODE_RANK=1\nNUM_NODES=3\n");
    expect(JSON.parse(podkit("cluster", "env", "--json", "--file", file).stdout)).toEqual({
      NODE_RANK: "1",
      NUM_NODES: "3",
    });
  });

  it("env on a machine that is not a cluster node says what to do (exit 4)", () => {
    const r = podkit("cluster", "env", "--file", join(dir, "absent.env"));
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('not part of a podkit cluster yet (run "podkit cluster up -f cluster.yaml"');
  });
});
