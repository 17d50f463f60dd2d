import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadRegistrars } from "./program.js";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

function podkit(...args: string[]) {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("podkit CLI", () => {
  it("prints its version", () => {
    const { code, stdout } = podkit("--version");
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("prints help with the gpus command and the exit codes", () => {
    const { code, stdout } = podkit("--help");
    expect(code).toBe(0);
    expect(stdout).toContain("gpus");
    expect(stdout).toContain("Exit codes:");
  });

  it("lists the GPU catalog as a table", () => {
    const { code, stdout } = podkit("gpus");
    expect(code).toBe(0);
    const h100 = stdout.split("\n").find((l) => l.startsWith("NVIDIA H100 80GB HBM3"));
    expect(h100).toMatch(/H100 SXM\s+80 GB\s+ADA_80_PRO/);
  });

  it("lists the GPU catalog as JSON, filtered by pool", () => {
    const { code, stdout } = podkit("gpus", "--json", "--pool", "HOPPER_141");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual([
      { id: "NVIDIA H200", displayName: "H200 SXM", vendor: "nvidia", memoryGb: 141, pool: "HOPPER_141" },
    ]);
  });

  it("rejects an unknown pool with exit code 2 and the allowed values", () => {
    const { code, stderr } = podkit("gpus", "--pool", "TURING_8");
    expect(code).toBe(2);
    expect(stderr).toMatch(/^podkit: invalid --pool: .*AMPERE_16/);
  });

  it("rejects an unknown command with exit code 2", () => {
    const { code, stderr } = podkit("frobnicate");
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'frobnicate'");
  });

  it("help lists the commands of every area", () => {
    const { stdout } = podkit("--help");
    for (const command of ["gpus", "control-plane", "hosts", "maintenance", "agent", "send", "receive"]) {
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
    for (const command of ["relay", "cluster", "s3", "up", "down"]) {
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
  });

  it("loads only the area a command names, and every area otherwise", async () => {
    expect(await loadRegistrars(["agent", "run", "--simulate", "h100-8x"])).toHaveLength(1);
    expect(await loadRegistrars(["--json", "send", "file"])).toHaveLength(1);
    const all = (await loadRegistrars([])).length;
    expect(all).toBeGreaterThan(5);
    expect(await loadRegistrars(["help", "agent"])).toHaveLength(all);
    expect(await loadRegistrars(["frobnicate"])).toHaveLength(all);
  });

  it("exits quietly when the reader of its output goes away (podkit --help | true)", async () => {
    const child = spawn(process.execPath, [MAIN, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.stdout.destroy(); // the reader is gone before podkit writes a byte
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });
});
