import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
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
    expect(podkit("cluster", "env", "--from", file).stdout).toBe("NODE_RANK=1\nNUM_NODES=3\n");
    expect(JSON.parse(podkit("cluster", "env", "--json", "--from", file).stdout)).toEqual({
      NODE_RANK: "1",
      NUM_NODES: "3",
    });
    // The first spelling still works for scripts, but help shows only --from (-f/--file is the
    // cluster file in every other cluster command).
    expect(podkit("cluster", "env", "--file", file).stdout).toBe("NODE_RANK=1\nNUM_NODES=3\n");
    const help = podkit("cluster", "env", "--help").stdout;
    expect(help).toContain("--from <path>");
    expect(help).not.toMatch(/--file\b/);
  });

  it("env on a machine that is not a cluster node says what to do (exit 4)", () => {
    const r = podkit("cluster", "env", "--from", join(dir, "absent.env"));
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('not part of a podkit cluster yet (run "podkit cluster up -f cluster.yaml"');
  });

  const key = join(dir, "id_ed25519");
  spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  it.each(["plan", "up", "check"])(
    "%s: a node that accepts TCP and never speaks is a FAIL line, not a crash",
    async (verb) => {
      const held: Socket[] = [];
      const silent = createServer((s) => held.push(s));
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
      const port = (silent.address() as { port: number }).port;
      const file = join(dir, `silent-${verb}.yaml`);
      writeFileSync(
        file,
        `ssh: { identityFile: ${key}, knownHosts: ${join(dir, "kh")} }\nnodes:\n  - host: 127.0.0.1\n    port: ${port}\n`,
      );
      if (verb === "plan")
        spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id_ed25519")]);
      // Asynchronous: the listener lives in this process and must keep accepting while podkit waits.
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [MAIN, "cluster", verb, "-f", file]);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d));
        child.stderr.on("data", (d: Buffer) => (stderr += d));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
      });
      for (const s of held) s.destroy();
      silent.close();
      expect(r.stderr).not.toMatch(/Unhandled 'error' event|Connection lost before handshake/);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        new RegExp(
          `FAIL\\s+ssh\\s+node-0 \\(127\\.0\\.0\\.1\\)\\s+cannot reach root@\\[127\\.0\\.0\\.1\\]:${port}: the port accepted a TCP connection but sent no SSH greeting within 5 s`,
        ),
      );
    },
  );
});
